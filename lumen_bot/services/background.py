"""Work the server does beside its requests: loops it repeats (the outbox's retries, the ticket desk) and
one-off jobs a request leaves behind (a reply that was not ready in time). Stopping awaits them all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


async def repeat(work: Callable[[], Awaitable[object]], *, every: float, name: str) -> None:
    """Run ``work`` every ``every`` seconds until cancelled; a failed pass is logged and the next one
    tries again, so one bad moment never stops the loop."""
    while True:
        try:
            await work()
        except Exception:
            log.exception(f"{name} pass failed")
        await asyncio.sleep(every)


class Background:
    """The server's background tasks, so that none is abandoned at shutdown."""

    def __init__(self) -> None:
        self._loops: set[asyncio.Task[Any]] = set()
        self._jobs: set[asyncio.Task[Any]] = set()

    def loop(self, work: Coroutine[Any, Any, object]) -> None:
        """Start a loop that runs until :meth:`stop` cancels it."""
        self._loops.add(asyncio.create_task(work))

    def job(self, work: Coroutine[Any, Any, object]) -> None:
        """Start a one-off job; :meth:`stop` lets it finish."""
        task = asyncio.create_task(work)
        self._jobs.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._jobs.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("background job failed", exc_info=error)

    async def stop(self, grace_seconds: float) -> None:
        """Let running jobs finish (within ``grace_seconds``), then cancel what is left and the loops, and
        wait until every task has ended."""
        if self._jobs:
            _done, late = await asyncio.wait(set(self._jobs), timeout=grace_seconds)
            if late:
                log.warning("background jobs cancelled at shutdown", extra={"jobs": len(late)})
        tasks = self._loops | self._jobs
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()
