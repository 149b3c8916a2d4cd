"""What every live order source shares: bounded HTTP calls with retries, and a short cache.

A platform that is slow, throttling or down makes a lookup raise :class:`OrderSourceUnavailable` within
the configured time — never a crash, and never "no such order": only a definite answer from the
platform (found, or an empty search) says an order does not exist.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from cachetools import TTLCache
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from lumen_bot.domain.carriers import complete_shipment
from lumen_bot.domain.orders import Order
from lumen_bot.ports import OrderSource, OrderSourceUnavailable
from lumen_bot.retry_after import retry_after_seconds

log = logging.getLogger(__name__)

_ATTEMPTS = 3


class Busy(Exception):
    """The platform asked us to come back (429, 5xx, throttled query, connection failure)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    asked = error.retry_after if isinstance(error, Busy) else None
    return asked if asked is not None else min(2.0, 0.25 * 2 ** (state.attempt_number - 1))


async def with_retries(service: str, deadline_seconds: float, call: Callable[[], Any]) -> Any:
    """``await call()``, retried while it raises :class:`Busy`, within ``deadline_seconds`` in all.

    A wait the platform asks for that does not fit the deadline is not waited: the shopper is told to
    try again instead of being kept waiting."""
    started = time.monotonic()

    def out_of_time(state: RetryCallState) -> bool:
        return time.monotonic() - started + _wait(state) > deadline_seconds

    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(Busy),
            stop=stop_after_attempt(_ATTEMPTS) | stop_after_delay(deadline_seconds) | out_of_time,
            wait=_wait,
            reraise=True,
        ):
            with attempt:
                return await call()
    except Busy as busy:
        log.warning("order source unavailable", extra={"source": service, "reason": str(busy)})
        raise OrderSourceUnavailable(f"{service}: {busy}") from busy
    raise AssertionError("unreachable: tenacity either returns or raises")


def raise_for_busy(service: str, response: httpx.Response) -> None:
    """:class:`Busy` for answers worth another try; :class:`OrderSourceUnavailable` for the others."""
    if response.status_code == 429 or response.status_code >= 500:
        raise Busy(f"HTTP {response.status_code}", retry_after_seconds(response.headers.get("Retry-After")))
    if not response.is_success:
        # 401/403/400: misconfigured credentials or query. Not the shopper's fault, and not "no order".
        log.error(
            "order source refused the lookup", extra={"source": service, "status": response.status_code}
        )
        raise OrderSourceUnavailable(f"{service}: HTTP {response.status_code}")


async def get_response(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await client.request(method, url, **kwargs)
    except httpx.RequestError as error:
        raise Busy(type(error).__name__) from error


class CachedSource:
    """Keeps the orders found for a while, so follow-ups in a conversation do not call the platform
    again. A "not found" is never kept: an order placed a moment ago must show up at once."""

    def __init__(
        self, source: OrderSource, ttl_seconds: float, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._cache: TTLCache[str, Order] = TTLCache(maxsize=2048, ttl=ttl_seconds, timer=timer)

    @property
    def uncached(self) -> OrderSource:
        """The source behind the cache, for a reader that must see a change at once: the update notifier,
        told by a webhook that an order moved seconds after a conversation read (and kept) it."""
        return self._source

    async def find(self, order_number: str) -> Order | None:
        if (cached := self._cache.get(order_number)) is not None:
            return cached
        order = await self._source.find(order_number)
        if order is not None:
            self._cache[order_number] = order
        return order


class CarrierLinks:
    """Fills in the carrier names and tracking links a source left out (see :mod:`.carriers`)."""

    def __init__(self, source: OrderSource) -> None:
        self._source = source

    async def find(self, order_number: str) -> Order | None:
        order = await self._source.find(order_number)
        if order is None:
            return None
        shipments = tuple(complete_shipment(s) for s in order.shipments)
        if all(new is old for new, old in zip(shipments, order.shipments, strict=True)):
            return order  # nothing to add (a source that gives links, or no shipment): no copy
        return order.model_copy(update={"shipments": shipments})
