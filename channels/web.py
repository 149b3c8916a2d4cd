"""Web chat: ``POST /api/chat`` (the JSON API the storefront widget talks to)."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, Field, StrictStr

from lumen_bot.domain.messages import InboundMessage, clean_text
from lumen_bot.services.conversation import ConversationHandler

CHANNEL = "web"
# Tokens we issue are 256-bit random; anything much longer is not one of ours.
_MAX_SESSION_LENGTH = 128
# A hard ceiling on the raw field, before cleaning; the configured limit applies to the cleaned text.
_MAX_RAW_TEXT = 20_000


class ChatRequest(BaseModel):
    session: Annotated[StrictStr | None, Field(max_length=_MAX_SESSION_LENGTH)] = None
    text: Annotated[StrictStr, Field(max_length=_MAX_RAW_TEXT)]
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


class RateLimit:
    """At most ``rate`` messages per client (IP address), counted in a moving window by the limits
    library; the storage may be shared by several workers (redis://)."""

    def __init__(self, rate: str, storage_uri: str = "memory://") -> None:
        self._item = parse(rate)
        self._storage = storage_from_string(storage_uri)
        self._limiter = MovingWindowRateLimiter(self._storage)

    def reachable(self) -> bool:
        """Whether the counts' storage answers (always, in memory; a redis:// server may not)."""
        return bool(self._storage.check())

    def __call__(self, request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        if self._limiter.hit(self._item, CHANNEL, client):
            return
        reset = self._limiter.get_window_stats(self._item, CHANNEL, client).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        raise HTTPException(
            429,
            f"Too many messages in a short time. Please wait {wait} seconds and try again.",
            headers={"Retry-After": str(wait)},
        )


def router(handler: ConversationHandler, max_text_length: int, rate_limit: RateLimit) -> APIRouter:
    api = APIRouter()

    @api.post("/api/chat", response_model=ChatResponse, dependencies=[Depends(rate_limit)])
    async def chat(body: ChatRequest) -> ChatResponse:
        text = clean_text(body.text)
        if not text:
            raise HTTPException(422, "text is empty")
        if len(text) > max_text_length:
            raise HTTPException(422, f"text is longer than {max_text_length} characters")
        replies = None
        if body.session is not None:
            token = body.session
            replies = await handler.continue_existing(_message(token, text, body.lang))
        if replies is None:
            token = new_session()
            replies = await handler.handle(_message(token, text, body.lang))
        return ChatResponse(
            session=token,
            messages=[ChatMessage(text=r.text, quick_replies=list(r.quick_replies)) for r in replies],
        )

    return api


def _message(token: str, text: str, lang: str | None) -> InboundMessage:
    return InboundMessage(
        channel=CHANNEL,
        conversation_key=session_key(token),
        text=text,
        received_at=datetime.now(UTC),
        language_hint=lang.replace("_", "-").split("-")[0].lower() if lang else None,
    )
