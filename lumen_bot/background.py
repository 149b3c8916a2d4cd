"""Background work the server repeats while it runs (the outbox's retries, the ticket desk)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

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
