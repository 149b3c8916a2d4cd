"""How the HTTP server answers a request it cannot take: a 4xx that says why, or a 503 with a reason and
a time to retry when something failed on its side — never a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.types import Receive, Scope, Send

from lumen_bot.ports import StoreUnavailable

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """The body of every 4xx this server answers, and of the 503 of a failure on its side."""

    # Nothing but the reason: the schema says so, for clients generated from it.
    model_config = ConfigDict(extra="forbid")

    detail: str
    """Why the request was not taken, for the developer reading it."""


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
    if item.get("type") == "string_too_short" and item.get("ctx", {}).get("min_length") == 1:
        # Said as a route says it of a text that cleaning leaves empty: one reason for one mistake.
        return f"{where} is empty"
    return f"{where}: {item.get('msg', 'invalid')}"


RETRY_AFTER_SECONDS = 5

# The OpenAPI document. A route declares the errors it answers with ``error_responses``; every route may
# also answer 503 (``answer_failure``, declared once for the app) and, when it takes parameters, 422
# (``invalid_request``, put in place of FastAPI's own 422 by ``document_error_bodies``).

BODY_TOO_LARGE = "The body is over the size limit"
INVALID = "The request is invalid: the reason"
UNEXPECTED = "A failure on the server's side: try again after Retry-After seconds"
NOT_STORED = "The message could not be stored, or another failure on the server's side: deliver it again"
_ERROR_BODY_REF = "#/components/schemas/ErrorBody"
_FASTAPI_422_REF = "#/components/schemas/HTTPValidationError"


def error_headers(status: int) -> dict[str, Any]:
    """The headers the server sends with an error of this status."""
    if status in (429, 503):
        return {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "integer"},
            }
        }
    if status == 401:
        return {
            "WWW-Authenticate": {
                "description": "The scheme to authenticate with",
                "schema": {"type": "string"},
            }
        }
    return {}


def error_responses(reasons: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the errors a route answers (status → when), each with the body it really
    gets: an ``ErrorBody``, with ``Retry-After`` on a 429 or 503 and ``WWW-Authenticate`` on a 401.

    The schema is referenced rather than given as a ``model``: FastAPI files a model under the route's own
    media type, and an error from a plain-text route is JSON all the same."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status, reason in reasons.items():
        response = {
            "description": reason,
            "content": {"application/json": {"schema": {"$ref": _ERROR_BODY_REF}}},
        }
        headers = error_headers(status)
        responses[status] = {**response, "headers": headers} if headers else response
    return responses


def document_error_bodies(app: FastAPI) -> None:
    """Makes ``app.openapi()`` describe the error bodies this module answers: ``ErrorBody`` among the
    schemas, and in place of FastAPI's 422 (a list of validation errors, which ``invalid_request`` never
    sends)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_error_bodies(build())
        return app.openapi_schema

    app.openapi = openapi


def _with_error_bodies(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            invalid = responses.get("422", {}).get("content", {}).get("application/json", {})
            if invalid.get("schema", {}).get("$ref") == _FASTAPI_422_REF:
                responses["422"] = error_responses({422: INVALID})[422]
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return document


async def answer_failure(error: Exception, started: bool, scope: Scope, receive: Receive, send: Send) -> None:
    """Logs a request's unexpected failure and answers 503 with a reason and ``Retry-After``
    (``channels.http_guards.HttpGuard`` calls it for every route).

    Answered here rather than by a Starlette exception handler for ``Exception``: that one answers from the
    outermost layer and then re-raises, and the server drops the keep-alive connection, so the client's
    next request on it fails too. Only a response already ``started`` cannot be mended; then the error is
    raised again and the connection closed, as it must be."""
    if isinstance(error, StoreUnavailable):
        # Expected in an outage, and bounded: the database did not answer within its wait.
        log.warning("request failed: the database is unavailable")
        detail = "the database is unavailable; please try again"
    else:
        log.error("unexpected error", exc_info=error)
        detail = "something went wrong on our side; please try again"
    if started:
        raise error
    response = JSONResponse(
        {"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
    )
    await response(scope, receive, send)


def not_stored() -> HTTPException:
    """A provider's delivery that could not be stored: refused, so the provider delivers it again rather
    than taking a 200 for a message that would be lost."""
    return HTTPException(
        503,
        "the message could not be stored; deliver it again later",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
