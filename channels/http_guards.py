"""ASGI middleware every route gets: a request id for the logs and a bound on request bodies."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lumen_bot.logs import request_context


class RequestContext:
    """Runs each request inside its own log context (the ``X-Request-ID`` header when a proxy set one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64] or None
        with request_context(given):
            await self.app(scope, receive, send)


class BodyLimit:
    """Answers 413 to a body over the limit, whether it announces its length or streams it.

    ``larger`` raises the limit for paths under a prefix (emails carry attachments).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = next((n for prefix, n in self.larger.items() if path.startswith(prefix)), self.max_bytes)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _too_large(send, limit)
            return
        received = 0
        cut = answered = False

        async def bounded_receive() -> Message:
            nonlocal received, cut
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                cut = True
                raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # A framework that catches the cut itself (FastAPI answers 400, "error parsing the body") is
            # answered 413 instead: the body was too large, not malformed.
            nonlocal answered
            if not cut:
                await send(message)
            elif not answered and message["type"] == "http.response.start":
                answered = True
                await _too_large(send, limit)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except _BodyTooLarge:
            if not answered:
                await _too_large(send, limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": f"request body is larger than {max_bytes} bytes"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class PathCors:
    """Starlette's CORS middleware for some paths only: the storefront's origins may call the chat API,
    and nothing else (the admin routes least of all)."""

    def __init__(self, app: ASGIApp, paths: Collection[str], origins: Sequence[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in self.paths:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
