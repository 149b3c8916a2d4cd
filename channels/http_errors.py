"""How the HTTP server answers a request it cannot take: a 4xx that says why, or a 503 with a reason and
a time to retry when something failed on its side — never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
    details = error.errors() if isinstance(error, RequestValidationError) else []
    reasons = [_reason(item) for item in details]
    return JSONResponse({"detail": "; ".join(reasons) or "invalid request"}, status_code=422)


def _reason(item: dict[str, Any]) -> str:
    """One validation error as a client developer wants to read it."""
    if item.get("type") == "json_invalid":
        return "body is not valid JSON"
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    if not where:
        return "body must be a JSON object"
    return f"{where}: {item.get('msg', 'invalid')}"


RETRY_AFTER_SECONDS = 5


class UnexpectedErrors:
    """Answers 503 with a reason and ``Retry-After`` to a request that failed unexpectedly.

    Caught here rather than by a Starlette exception handler for ``Exception``: that one answers from the
    outermost layer and then re-raises, and the server drops the keep-alive connection, so the client's
    next request on it fails too. Only a response already begun cannot be mended; then the connection
    is closed, as it must be."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unexpected error")
            if started:
                raise
            response = JSONResponse(
                {"detail": "something went wrong on our side; please try again"},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            await response(scope, receive, send)
