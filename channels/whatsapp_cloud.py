"""Meta WhatsApp Cloud API: ``GET|POST /webhooks/whatsapp`` in, the Graph API out.

Meta gives a webhook a few seconds and retries (for days) what is not acknowledged, so a delivery is
checked, parsed and stored while Meta waits (503 when it cannot be stored, so Meta delivers it again),
answered 200, and handled after the response — by another worker if this one stops first. Replies go
through the outbox, so a Graph API outage delays them instead of losing them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)

from channels.http_delivery import refusal, unreachable
from channels.http_errors import BODY_TOO_LARGE, NOT_STORED, error_responses, not_stored
from channels.sms_text import render_whatsapp
from lumen_bot.domain.messages import InboundMessage, Reply, clean_text
from lumen_bot.ports import Accepted, ReplyRoute, SendFailed, StoreUnavailable
from lumen_bot.services.background import Background
from lumen_bot.services.intake import Intake
from lumen_bot.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
VIA = "whatsapp_cloud"
TEMPLATE_VIA = "whatsapp_cloud_template"
"""The outbox's name for a message template sent through the Graph API (:class:`GraphTemplateSender`)."""
PATH = "/webhooks/whatsapp"
# WhatsApp's limit on the body of one text message.
MAX_REPLY_LENGTH = 4096
_SIGNATURE_PREFIX = "sha256="
# A reaction, a changed number or a shopper opening the chat says nothing to the bot: answering "I can
# only read text" to a thumbs-up would be noise.
_NOTHING_TO_ANSWER = frozenset({"reaction", "system", "request_welcome"})
# Graph error codes that mean "not now" rather than "never"; Meta answers most of them with HTTP 400.
# Throttling: 4 (app calls), 80007 (account), 130429 (throughput), 131048 (spam rate), 131056 (pair rate).
# Trouble on Meta's side: 1, 2, 131000, 131016, 133004. Tokens: 0, 190 (a token being rotated).
_TRANSIENT_GRAPH_CODES = frozenset({0, 1, 2, 4, 190, 80007, 130429, 131000, 131016, 131048, 131056, 133004})
# A token being rotated, a timeout on the way, throttling: retrying later can succeed.
_GRAPH_TIMEOUT_SECONDS = 10.0


# The webhook payload, as documented by Meta; fields Lumen does not use are ignored.


class _Text(BaseModel):
    body: str


class _Message(BaseModel):
    sender: str = Field(alias="from", pattern=r"^\d{1,32}$")
    # Bounded by the message log's column for provider ids.
    id: str = Field(min_length=1, max_length=200)
    type: str
    text: _Text | None = None
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[_Message]) -> _Message:
        message = handler(data)
        message._raw = data  # the message as Meta sent it, for the audit log
        return message

    @model_validator(mode="after")
    def _text_has_a_body(self) -> _Message:
        if self.type == "text" and self.text is None:
            raise ValueError("a text message needs text.body")
        return self


class _Metadata(BaseModel):
    phone_number_id: str = Field(pattern=r"^\d{1,32}$")


class _Value(BaseModel):
    # Other webhook fields (account updates, template reviews) carry other values: with no messages
    # they parse to nothing to do.
    metadata: _Metadata | None = None
    messages: list[_Message] = []

    @model_validator(mode="after")
    def _messages_name_the_business_number(self) -> _Value:
        if self.messages and self.metadata is None:
            raise ValueError("messages need metadata.phone_number_id")
        return self


class _Change(BaseModel):
    field: str
    value: _Value


class _Entry(BaseModel):
    changes: list[_Change]


class _Event(BaseModel):
    object: Literal["whatsapp_business_account"]
    entry: list[_Entry]


class GraphSender:
    """Sends text messages with ``POST /{phone_number_id}/messages`` of the Graph API."""

    def __init__(self, graph_url: str, access_token: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=graph_url,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=_GRAPH_TIMEOUT_SECONDS,
        )

    async def send(self, sender: str, recipient: str, text: str) -> str | None:
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient,
            **self._content(text),
        }
        try:
            response = await self._client.post(f"{quote(sender, safe='')}/messages", json=payload)
        except httpx.RequestError as error:
            raise unreachable("Graph API", error) from error
        if response.is_success:
            return _sent_message_id(response)
        raise _refusal(response)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _content(self, text: str) -> dict[str, Any]:
        """The message's type and content for what the outbox stored: here, the text itself."""
        return {"type": "text", "text": {"body": text, "preview_url": False}}


class GraphTemplateSender(GraphSender):
    """Sends an approved message template (``"type": "template"``): what WhatsApp takes outside the
    24-hour customer service window. The outbox stores :func:`template_body`'s JSON."""

    def _content(self, text: str) -> dict[str, Any]:
        try:
            template = json.loads(text)
        except ValueError as error:
            raise SendFailed("not a stored message template", permanent=True) from error
        if not isinstance(template, dict) or not isinstance(template.get("name"), str):
            raise SendFailed("not a stored message template", permanent=True)
        return {"type": "template", "template": template}


def template_body(name: str, language: str, body_parameters: Sequence[str]) -> str:
    """What the outbox stores for :class:`GraphTemplateSender`: Meta's ``template`` object, the body's
    ``{{1}}``, ``{{2}}`` … filled with ``body_parameters`` as text parameters."""
    template = {
        "name": name,
        "language": {"code": language},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": value} for value in body_parameters]}
        ],
    }
    return json.dumps(template, ensure_ascii=False)


def _sent_message_id(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["messages"][0]["id"])
    except (ValueError, LookupError, TypeError):
        # The message was taken; sending it again would only duplicate it.
        log.warning(
            "Graph API accepted a message without a readable id", extra={"status": response.status_code}
        )
        return None


def _refusal(response: httpx.Response) -> SendFailed:
    code, message = _graph_error(response)
    detail = f"(#{code}) {message}" if code is not None else ""
    return refusal("Graph API", response, detail, transient=code in _TRANSIENT_GRAPH_CODES)


def _graph_error(response: httpx.Response) -> tuple[int | None, str]:
    """The ``error.code`` and ``error.message`` of a Graph API error body, when it has them."""
    try:
        error = response.json()["error"]
        return int(error["code"]), str(error.get("message", ""))[:200]
    except (ValueError, LookupError, TypeError, AttributeError):
        return None, ""


def router(intake: Intake, background: Background, settings: Settings) -> APIRouter:
    """The webhook routes; none when the app secret or the verify token is not configured."""
    app_secret = _configured(settings.whatsapp_app_secret)
    verify_token = _configured(settings.whatsapp_verify_token)
    if app_secret is None or verify_token is None:
        missing = [
            name
            for name, value in (
                ("LUMEN_WHATSAPP_APP_SECRET", app_secret),
                ("LUMEN_WHATSAPP_VERIFY_TOKEN", verify_token),
            )
            if value is None
        ]
        log.info("WhatsApp Cloud webhook disabled: %s not set", " and ".join(missing))
        return APIRouter()
    if _configured(settings.whatsapp_access_token) is None:
        log.warning(
            "WhatsApp Cloud webhook enabled without LUMEN_WHATSAPP_ACCESS_TOKEN: replies wait in the outbox"
        )
    return _webhook(intake, background, settings, app_secret, verify_token)


def _webhook(
    intake: Intake, background: Background, settings: Settings, app_secret: bytes, verify_token: bytes
) -> APIRouter:
    api = APIRouter()
    only_number = settings.whatsapp_phone_number_id

    @api.get(
        PATH,
        response_class=PlainTextResponse,
        responses=error_responses({403: "Not a subscription with the verify token"}),
    )
    async def verify(request: Request) -> PlainTextResponse:
        query = request.query_params
        token = query.get("hub.verify_token", "").encode()
        challenge = query.get("hub.challenge")
        # The token is compared even when the mode is wrong, so the answer takes the same time.
        token_matches = hmac.compare_digest(token, verify_token)
        if query.get("hub.mode") != "subscribe" or not token_matches or challenge is None:
            log.warning("WhatsApp Cloud webhook verification refused")
            raise HTTPException(403, "verification refused")
        return PlainTextResponse(challenge)

    @api.post(
        PATH,
        responses=error_responses(
            {
                400: "Not a WhatsApp Business Account webhook payload",
                403: "A missing or wrong X-Hub-Signature-256",
                413: BODY_TOO_LARGE,
                503: NOT_STORED,
            }
        ),
    )
    async def receive(request: Request) -> Response:
        body = await request.body()
        if not _signed(body, request.headers.get("X-Hub-Signature-256"), app_secret):
            log.warning("WhatsApp Cloud webhook with a missing or wrong signature")
            raise HTTPException(403, "missing or wrong X-Hub-Signature-256")
        try:
            event = _Event.model_validate_json(body)
        except ValidationError as error:
            raise HTTPException(400, _reason(error)) from None
        # Statuses (sent, delivered, read) need nothing from Lumen; only messages are kept.
        accepted = [
            _accepted(change.value.metadata.phone_number_id, message)
            for entry in event.entry
            for change in entry.changes
            if change.value.metadata is not None
            and _for_this_shop(change.value.metadata.phone_number_id, only_number)
            for message in change.value.messages
            if message.type not in _NOTHING_TO_ANSWER
        ]
        if not accepted:
            return Response(status_code=200)
        try:
            # Stored before the 200, all of the delivery or none: Meta delivers again what gets no 200.
            leases = await intake.accept(accepted)
        except StoreUnavailable:
            log.warning("WhatsApp Cloud messages refused: the store is unavailable")
            raise not_stored() from None
        # Meta gives a webhook a few seconds: the answers follow the 200. A redelivery (None) was
        # answered by its first delivery.
        background.job(intake.answer(leases))
        return Response(status_code=200)

    def _accepted(business_number: str, message: _Message) -> Accepted:
        body = message.text.body if message.type == "text" and message.text is not None else None
        inbound = InboundMessage(
            channel=CHANNEL,
            conversation_key="+" + message.sender,
            text="" if body is None else clean_text(body)[: settings.max_text_length],
            received_at=datetime.now(UTC),
            provider_message_id=message.id,
            raw=message._raw,
            unreadable=body is None,
            contact_address="+" + message.sender,
            reply_from=business_number,
        )
        return Accepted(inbound, ReplyRoute(VIA, business_number, message.sender, form=VIA))

    return api


def _for_this_shop(business_number: str, only_number: str | None) -> bool:
    if only_number is not None and business_number != only_number:
        log.info("WhatsApp Cloud messages for another business number ignored")
        return False
    return True


def _render(replies: Sequence[Reply]) -> str:
    return render_whatsapp(replies, limit=MAX_REPLY_LENGTH)


# How replies are written for WhatsApp Cloud (the intake's renderers, by ReplyRoute.form).
RENDERERS: dict[str, Callable[[Sequence[Reply]], str]] = {VIA: _render}


def _configured(secret: SecretStr | None) -> bytes | None:
    """The secret's bytes; an empty value counts as unset (an empty HMAC key would sign for anyone)."""
    value = secret.get_secret_value() if secret is not None else ""
    return value.encode() if value else None


def _signed(body: bytes, header: str | None, app_secret: bytes) -> bool:
    if header is None or not header.startswith(_SIGNATURE_PREFIX):
        return False
    expected = hmac.new(app_secret, body, hashlib.sha256).hexdigest().encode()
    given = header.removeprefix(_SIGNATURE_PREFIX).lower().encode()
    return hmac.compare_digest(expected, given)


def _reason(error: ValidationError) -> str:
    """The first problem of a payload, as a developer reading Meta's webhook log wants it."""
    first = error.errors(include_url=False, include_input=False, include_context=False)[0]
    if first["type"] == "json_invalid":
        return "body is not valid JSON"
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else f"body: {first['msg']}"
