"""How an HTTP API's refusal becomes a :class:`SendFailed`: retry later, or never."""

from __future__ import annotations

import logging
import math

import httpx

from lumen_bot.ports import SendFailed

log = logging.getLogger(__name__)

# Worth another try: a timeout, throttling, or credentials that an operator may fix within the
# retry window. Any other 4xx means the request itself is wrong and would fail again.
TRANSIENT_STATUSES = frozenset({401, 403, 408, 409, 425, 429})


def refusal(
    service: str, response: httpx.Response, detail: str = "", *, transient: bool = False
) -> SendFailed:
    """The failure for a non-2xx ``response``; ``transient`` marks one the caller knows is temporary."""
    status = response.status_code
    retry = transient or status in TRANSIENT_STATUSES or not 400 <= status < 500
    log.warning(f"{service} refused a delivery", extra={"status": status, "will_retry": retry})
    return SendFailed(
        f"{service} answered {status}" + (f" {detail}" if detail else ""),
        permanent=not retry,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


def unreachable(service: str, error: httpx.RequestError) -> SendFailed:
    log.warning(f"{service} unreachable", extra={"error": type(error).__name__})
    return SendFailed(f"{service} unreachable: {type(error).__name__}")


def retry_after_seconds(retry_after: str | None) -> float | None:
    """The delay of a ``Retry-After`` header in seconds (its date form is left to the backoff)."""
    if retry_after is None:
        return None
    try:
        seconds = float(retry_after)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
