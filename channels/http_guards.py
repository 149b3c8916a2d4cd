"""The one ASGI layer every request passes before FastAPI's routing (:class:`HttpGuard`): the request's
log context and its one log line, the bound on request bodies, CORS for the storefront's chat API, and the
503 of an unexpected failure — with one ``send`` wrapper between them, not one per concern.

:class:`LumenApi` is FastAPI with this layer in place of Starlette's and FastAPI's outer ones."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channels.http_errors import answer_failure
from lumen_bot.logs import RequestLog, begin_request, end_request

log = logging.getLogger("channels.http")

_REQUEST_ID = b"x-request-id"
_CONTENT_LENGTH = b"content-length"
_ORIGIN = b"origin"
_REQUEST_METHOD = b"access-control-request-method"
_VARY = b"vary"
_ALLOW_ORIGIN = b"access-control-allow-origin"


class HttpGuard:
    """What every HTTP request gets, in one layer:

    - a log context (the ``X-Request-ID`` header when a proxy set one, up to 64 characters), and one INFO
      line when it is done — unless handling it logged its own at INFO (a chat message's "message
      handled"): method, route (its template, so no token in a path is logged), status and time;
    - 413 for a body over the limit, whether it announces its length or streams it; ``larger`` raises
      the limit for paths under a prefix (emails carry attachments, order webhooks are large);
    - CORS on ``cors_paths`` only, with Starlette's ``CORSMiddleware`` rules: the storefront's origins
      may ``POST`` JSON to the chat API, and nothing else (the admin routes least of all);
    - 503 with a reason and ``Retry-After`` for an unexpected failure (``http_errors.answer_failure``),
      the connection kept: a Starlette handler for ``Exception`` answers and then re-raises, and the
      server drops the keep-alive connection. Only a response already begun cannot be mended; then the
      error goes on to the server, which closes the connection, as it must.

    The 413 and the 503 carry the CORS headers too, so a storefront's widget can read them."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        larger: Mapping[str, int] | None = None,
        cors_paths: Collection[str] = (),
        cors_origins: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = tuple((larger or {}).items())
        self.cors_paths = frozenset(cors_paths)
        # Starlette's own middleware answers the (rare) preflight and says which origins are allowed;
        # the headers of an ordinary response are added in this layer's one send wrapper.
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(cors_origins),
            allow_methods=["POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )
        # Without credentials and exposed headers, an allowed origin gets only Access-Control-Allow-Origin.
        self._any_origin = self.cors.allow_all_origins and not self.cors.allow_credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = length = origin = None
        preflight = False
        for name, value in scope["headers"]:
            # As before: the last X-Request-ID and Content-Length count, the first Origin (Starlette's).
            if name == _REQUEST_ID:
                given = value
            elif name == _CONTENT_LENGTH:
                length = value
            elif name == _ORIGIN:
                origin = value if origin is None else origin
            elif name == _REQUEST_METHOD:
                preflight = True
        context = begin_request(given.decode("latin-1")[:64] if given else None)
        try:
            await self._handle(scope, receive, send, context, length, origin, preflight)
        finally:
            if not context.told and log.isEnabledFor(logging.INFO):
                route = getattr(scope.get("route"), "path", None) or scope.get("path", "")
                log.info(
                    "%s %s %s",
                    scope.get("method", ""),
                    route,
                    context.status or "-",
                    extra={"ms": round((time.perf_counter() - started) * 1000, 2)},
                )
            end_request(context)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        context: RequestLog,
        length: bytes | None,
        origin: bytes | None,
        preflight: bool,
    ) -> None:
        path = scope.get("path", "")
        cors = path in self.cors_paths
        if cors and preflight and origin is not None and scope.get("method") == "OPTIONS":
            response = self.cors.preflight_response(request_headers=Headers(scope=scope))
            await response(scope, receive, self._recording(send, context))
            return
        allowed = None
        if cors and origin is not None:
            text = origin.decode("latin-1")
            if self._any_origin:
                allowed = b"*"
            elif self.cors.is_allowed_origin(origin=text):
                allowed = origin
        limit = next((n for prefix, n in self.larger if path.startswith(prefix)), self.max_bytes)

        started = cut = answered = False

        async def out(message: Message) -> None:
            # The one wrapper: CORS headers and the status on the way out, the 413 in place of whatever
            # the app answers once the body was cut (FastAPI answers 400, "error parsing the body").
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                context.status = message["status"]
                if cors:
                    message["headers"] = _with_cors(message.get("headers", []), allowed)
            await send(message)

        if length is not None and (not length.isdigit() or int(length) > limit):
            await _too_large(out, limit)
            return

        received = 0

        async def bounded_receive() -> Message:
            nonlocal received, cut
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                cut = True
                raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if not cut:
                await out(message)
            elif not answered and message["type"] == "http.response.start":
                answered = True
                await _too_large(out, limit)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except _BodyTooLarge:
            if not answered:
                await _too_large(out, limit)
        except Exception as error:
            await answer_failure(error, started, scope, receive, out)

    def _recording(self, send: Send, context: RequestLog) -> Send:
        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                context.status = message["status"]
            await send(message)

        return recording


def _with_cors(headers: Any, allowed: bytes | None) -> list[tuple[bytes, bytes]]:
    """A response's headers as Starlette's ``CORSMiddleware`` leaves them: the allowed origin, and
    ``Origin`` added to ``Vary`` (every response: it depends on the request's origin)."""
    kept = []
    vary = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == _VARY:
            vary.append(value)
        elif not (allowed is not None and lowered == _ALLOW_ORIGIN):
            kept.append((name, value))
    if allowed is not None:
        kept.append((_ALLOW_ORIGIN, allowed))
    kept.append((_VARY, b", ".join([*vary, b"Origin"])))
    return kept


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": f"request body is larger than {max_bytes} bytes"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LumenApi(FastAPI):
    """FastAPI whose stack is ``HttpGuard → ExceptionMiddleware → AsyncExitStackMiddleware → routes``.

    FastAPI's own stack puts three more layers in front of the user's middleware: Starlette's
    ``ServerErrorMiddleware`` (a 500 for an error no one caught: the guard catches every one and
    answers 503), FastAPI's ``ExceptionTelemetryMiddleware`` (reports exceptions to OpenTelemetry,
    which Lumen does not configure: it logs them) and ``AppBodyLimitMiddleware`` (FastAPI's body limit,
    unset here: the guard bounds bodies). The two inner ones stay: the app's exception handlers (the
    404, 405, ``HTTPException`` and ``invalid_request``) and the exit stack FastAPI's routes need.

    ``guard`` holds the keyword arguments of :class:`HttpGuard`."""

    def __init__(self, *, guard: Mapping[str, Any], **kwargs: Any) -> None:
        self._guard = dict(guard)
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        handlers = {
            key: handler for key, handler in self.exception_handlers.items() if key not in (500, Exception)
        }
        app: ASGIApp = AsyncExitStackMiddleware(self.router)
        app = ExceptionMiddleware(app, handlers=handlers, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return HttpGuard(app, **self._guard)
