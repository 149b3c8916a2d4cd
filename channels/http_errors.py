"""How the HTTP server answers a request it cannot take: a 4xx that says why, never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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


async def unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=error)
    return JSONResponse({"detail": "something went wrong on our side; please try again"}, status_code=503)
