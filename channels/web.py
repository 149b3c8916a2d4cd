"""Web chat: ``POST /api/chat`` (the JSON API the storefront widget talks to)."""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from limits import RateLimitItem, parse
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, Field, StrictStr

from channels.http_errors import BODY_TOO_LARGE, error_responses
from channels.rate_counts import SweptMemoryStorage
from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.messages import InboundMessage, clean_text
from lumen_bot.services.conversation import ConversationHandler
from lumen_bot.settings import ConfigurationError

log = logging.getLogger(__name__)

CHANNEL = "web"
# Tokens we issue are 256-bit random; anything much longer is not one of ours.
_MAX_SESSION_LENGTH = 128
# A hard ceiling on the raw field, before cleaning; the configured limit applies to the cleaned text.
_MAX_RAW_TEXT = 20_000


class ChatRequest(BaseModel):
    session: Annotated[StrictStr | None, Field(max_length=_MAX_SESSION_LENGTH)] = None
    # Cleaned, a text may still come to nothing (spaces, control characters): that is answered 422 too.
    text: Annotated[StrictStr, Field(min_length=1, max_length=_MAX_RAW_TEXT)]
    lang: Annotated[
        StrictStr | None, Field(max_length=35, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")
    ] = None
    """The browser's language (a BCP 47 tag: "de-DE"), for replies before the shopper has said enough."""


class ChatMessage(BaseModel):
    text: str
    quick_replies: list[str]


class ChatResponse(BaseModel):
    session: str
    messages: list[ChatMessage]


def session_key(token: str) -> str:
    """Conversations are stored under a digest of the token, so the database never holds a live one."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_session() -> str:
    return secrets.token_urlsafe(32)


# Unless LUMEN_CHAT_RATE_LIMIT_PER_CLIENT says otherwise, one address may send this many sessions' worth.
CLIENT_CEILING_FACTOR = 10
# After the storage failed, messages pass uncounted this long before it is tried again: an outage then
# costs one slow attempt every few seconds, not one per message.
_RETRY_STORAGE_AFTER_SECONDS = 5.0
# A redis server that has not answered within this is taken as down (and the message let through).
_REDIS_TIMEOUT_SECONDS = 0.5
_REDIS_SCHEMES = ("redis", "rediss", "redis+unix")


class RateLimit:
    """How many messages ``POST /api/chat`` takes, counted in moving windows by the limits library, in a
    storage several workers and replicas can share (``redis://``).

    Two budgets, because many shoppers can share one address (a load balancer that is not a trusted
    proxy, an office, a mobile carrier's NAT):

    - each session may send ``rate`` messages (``LUMEN_CHAT_RATE_LIMIT``), its first one included, so a
      shopper (or script) typing too fast is stopped without stopping the others on the address;
    - each client address may send ``per_client`` over every session it opens (by default
      :data:`CLIENT_CEILING_FACTOR` times ``rate``), so one address cannot escape the limit by starting
      session after session — a made-up session token starts a new session too.

    The client is the address uvicorn reports: the proxy's, unless the proxy is trusted
    (``LUMEN_FORWARDED_ALLOW_IPS``), then the shopper's from ``X-Forwarded-For``.

    When the storage does not answer (redis is down), messages pass uncounted instead of all being
    refused: the limit spares the server, while the guessing limits of verification are counted in the
    database whatever happens here. One warning is logged when an outage starts and one line when it
    ends; ``/readyz`` reports the storage meanwhile.
    """

    def __init__(self, rate: str, storage_uri: str = "memory://", per_client: str | None = None) -> None:
        self._per_session = parse(rate)
        self._per_client = (
            parse(per_client) if per_client else _times(self._per_session, CLIENT_CEILING_FACTOR)
        )
        self._storage = _storage(storage_uri)
        self._limiter = MovingWindowRateLimiter(self._storage)
        # Counting in this process's memory takes microseconds: a worker thread would cost more than it.
        # A server (redis://) may stall, so it is asked from a worker thread.
        self._in_memory = isinstance(self._storage, MemoryStorage)
        self._outage = threading.Lock()
        self._down_until: float | None = None
        """While the storage does not answer: until when (``time.monotonic()``) not to try it again."""

    def reachable(self) -> bool:
        """Whether the counts' storage answers (always, in memory; a redis:// server may not)."""
        return bool(self._storage.check())

    async def __call__(self, request: Request) -> None:
        """The client's budget, taken for every request to the route."""
        client = request.client.host if request.client else "unknown"
        if self._in_memory:
            self._take(self._per_client, "client", client)
        else:
            await run_in_threadpool(self._take, self._per_client, "client", client)

    async def take_session(self, token: str) -> None:
        """:meth:`session`, off the event loop when the storage may block."""
        if self._in_memory:
            self.session(token)
        else:
            await run_in_threadpool(self.session, token)

    def session(self, token: str) -> None:
        """One message of the session ``token``: 429 when the session is over its budget. It blocks on
        the storage: call it in a worker thread."""
        # A digest, so the storage holds no live token (and not the key the conversation is stored under).
        self._take(self._per_session, "session", hashlib.sha256(b"rate:" + token.encode()).hexdigest()[:32])

    def _take(self, item: RateLimitItem, *key: str) -> None:
        wait = self._over_budget(item, *key)
        if wait is not None:
            raise HTTPException(
                429,
                f"Too many messages in a short time. Please wait {wait} seconds and try again.",
                headers={"Retry-After": str(wait)},
            )

    def _over_budget(self, item: RateLimitItem, *key: str) -> int | None:
        """Seconds to wait when ``key`` has spent its budget; ``None`` when the message may pass."""
        with self._outage:
            if self._down_until is not None and time.monotonic() < self._down_until:
                return None
        try:
            if self._limiter.hit(item, CHANNEL, *key):
                reset = None
            else:
                reset = self._limiter.get_window_stats(item, CHANNEL, *key).reset_time
        except StorageError as error:
            self._failed(error)
            return None
        self._answered()
        return None if reset is None else max(1, math.ceil(reset - time.time()))

    def _failed(self, error: StorageError) -> None:
        with self._outage:
            starts = self._down_until is None
            self._down_until = time.monotonic() + _RETRY_STORAGE_AFTER_SECONDS
        if starts:
            log.warning(
                "the rate limit's storage (LUMEN_RATE_LIMIT_STORAGE) does not answer: chat messages pass"
                " uncounted until it does",
                extra={"error": type(error.storage_error).__name__},
            )

    def _answered(self) -> None:
        with self._outage:
            ended = self._down_until is not None
            self._down_until = None
        if ended:
            log.info("the rate limit's storage answers again: chat messages are counted")


def _times(item: RateLimitItem, factor: int) -> RateLimitItem:
    """``factor`` times ``item``'s amount in the same window."""
    return type(item)(item.amount * factor, item.multiples)


def _storage(uri: str) -> Storage:
    """The limits library's storage for ``uri``; :class:`ConfigurationError` naming the setting (and the
    extra to install) when it cannot be used, rather than a traceback at start-up."""
    scheme = urlsplit(uri).scheme
    options: dict[str, float | str | bool] = {"wrap_exceptions": True}
    if scheme in _REDIS_SCHEMES:
        # redis-py waits forever by default: a server that stopped answering would hold every message.
        options |= {
            "socket_connect_timeout": _REDIS_TIMEOUT_SECONDS,
            "socket_timeout": _REDIS_TIMEOUT_SECONDS,
        }
    if scheme == "memory":
        return SweptMemoryStorage()
    try:
        storage = storage_from_string(uri, **options)
    except LimitsConfigurationError:
        # Not the library's own message: it repeats the URL, and a redis URL may hold a password.
        if scheme in _REDIS_SCHEMES:
            raise ConfigurationError(
                f"LUMEN_RATE_LIMIT_STORAGE={scheme}://… needs the redis client, which is not installed:"
                " install Lumen with the redis extra, pip install 'lumen-bot[redis]'"
            ) from None
        raise ConfigurationError(
            f"LUMEN_RATE_LIMIT_STORAGE={scheme}://… is not a storage Lumen can use"
            " (memory://, or redis://host:6379 with the redis extra)"
        ) from None
    if not isinstance(storage, Storage):
        raise ConfigurationError(
            f"LUMEN_RATE_LIMIT_STORAGE={scheme}://… is asynchronous; use {scheme[6:]}://"
        )
    return storage


def router(
    handler: ConversationHandler, max_text_length: int, rate_limit: RateLimit, clock: Clock = utc_now
) -> APIRouter:
    api = APIRouter()

    @api.post(
        "/api/chat",
        response_model=ChatResponse,
        dependencies=[Depends(rate_limit)],
        responses=error_responses(
            {
                413: BODY_TOO_LARGE,
                422: "Not a chat request: invalid JSON, a wrong type, an empty or over-long text",
                429: "Over the rate limit: try again after Retry-After seconds",
            }
        ),
    )
    async def chat(body: ChatRequest) -> ChatResponse:
        if body.session is not None:
            await rate_limit.take_session(body.session)
        text = clean_text(body.text)
        if not text:
            raise HTTPException(422, "text is empty")
        if len(text) > max_text_length:
            raise HTTPException(422, f"text is longer than {max_text_length} characters")
        replies = None
        if body.session is not None:
            token = body.session
            replies = await handler.continue_existing(_message(token, text, body.lang, clock()))
        if replies is None:
            token = new_session()
            # The first message counts toward the new session's budget too.
            await rate_limit.take_session(token)
            replies = await handler.start(_message(token, text, body.lang, clock()))
        return ChatResponse(
            session=token,
            messages=[ChatMessage(text=r.text, quick_replies=list(r.quick_replies)) for r in replies],
        )

    return api


def _message(token: str, text: str, lang: str | None, now: datetime) -> InboundMessage:
    return InboundMessage(
        channel=CHANNEL,
        conversation_key=session_key(token),
        text=text,
        received_at=now,
        language_hint=lang.replace("_", "-").split("-")[0].lower() if lang else None,
    )
