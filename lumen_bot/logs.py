"""Structured logging with a request id per message and personal data masked in every line."""

from __future__ import annotations

import json
import logging
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from lumen_bot.domain.redaction import redact

_HANDLER_NAME = "lumen"


class RequestLog:
    """One request's (or one terminal message's) log context: its id, whether a line at INFO was logged
    for it (then the HTTP layer adds no line of its own: one INFO line per request), its status."""

    __slots__ = ("_token", "id", "status", "told")

    def __init__(self, request_id: str) -> None:
        self.id = request_id
        self.status: int | None = None
        self.told = False
        self._token: Token[RequestLog] | None = None


_NO_REQUEST = RequestLog("-")
_request: ContextVar[RequestLog] = ContextVar("lumen_request", default=_NO_REQUEST)
# Attributes every LogRecord has; anything else was passed with ``extra=`` and is part of the event
# (except uvicorn's terminal-coloured copy of its message).
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def begin_request(request_id: str | None = None) -> RequestLog:
    """Enters a new log context (``request_id``, else a random one); leave it with :func:`end_request`."""
    # Not a secret, only unique enough to tell requests apart: from the random module, since every
    # uuid4() asks the kernel for random bytes (a system call; about 18 µs on a virtual machine here).
    context = RequestLog(request_id or f"{random.getrandbits(64):016x}")
    context._token = _request.set(context)
    return context


def end_request(context: RequestLog) -> None:
    if context._token is not None:
        _request.reset(context._token)
        context._token = None


@contextmanager
def request_context(request_id: str | None = None) -> Iterator[str]:
    context = begin_request(request_id)
    try:
        yield context.id
    finally:
        end_request(context)


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _request.get()
        record.request_id = context.id
        if record.levelno == logging.INFO:
            context.told = True
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        body = record.getMessage() + (f" {fields}" if fields else "")
        if record.exc_info:
            body += "\n" + self.formatException(record.exc_info)
        head = f"{self.formatTime(record)} {record.levelname} {record.name} [{record.request_id}]"
        return f"{head} {redact(body)}"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        details: dict[str, object] = {"message": record.getMessage(), **_extras(record)}
        if record.exc_info:
            details["exception"] = self.formatException(record.exc_info)
        masked = json.loads(redact(json.dumps(details, default=str, ensure_ascii=False)))
        head = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name}
        return json.dumps({**head, "request_id": record.request_id, **masked}, ensure_ascii=False)


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k != "request_id"}


def configure_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Context())
    handler.setFormatter(_JsonFormatter() if json_lines else _TextFormatter())
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace only our own handler, so configuring twice never doubles lines and handlers others
    # installed (a test runner's, an embedding application's) keep working.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(level.upper())
    # Alembic announces each of its plugins when it is imported: noise at every start, before anything
    # that could go wrong (a start-up refused for its database folder would print it above the one line).
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def quiet_access_log() -> None:
    """Turns uvicorn's access log off: the HTTP server logs one line per request itself
    (``channels.http_guards``). Without a handler of its own and not propagating, uvicorn's logger has
    no handler, and uvicorn then does not even format the line."""
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False


def silence_model_output() -> None:
    """Keep instructor from logging: it logs failed attempts with the model's output, which may quote the
    shopper. Lumen logs each LLM call itself, without content. Called where an LLM client is made."""
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
