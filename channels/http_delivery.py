"""How an HTTP API's refusal becomes a :class:`SendFailed`: retry later, or never."""

from __future__ import annotations

import logging

import httpx

from lumen_bot.ports import SendFailed
from lumen_bot.retry_after import retry_after_seconds

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
