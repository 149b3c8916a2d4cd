"""Twilio SMS and WhatsApp: ``POST /webhooks/twilio``, inline TwiML replies, REST for the rest.

The pipeline: check the signature (403 and nothing processed when it fails) → parse the form →
opt-out keywords → store the message (deduplicated on the MessageSid; 503 when it cannot be stored) →
the conversation core → TwiML. A reply not ready within ``LUMEN_TWILIO_INLINE_SECONDS`` goes out later
through the REST API and the outbox; either way a message is answered once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Request, Response
from starlette.datastructures import FormData
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from channels.http_errors import BODY_TOO_LARGE, NOT_STORED, error_responses, not_stored
from channels.sms_text import render_sms, render_whatsapp
from lumen_bot.domain.clock import Clock
from lumen_bot.domain.messages import InboundMessage, Reply, ReplyKind, clean_text
from lumen_bot.domain.speech import Speech
from lumen_bot.ports import Accepted, OptOuts, ReplyRoute, SendFailed, StoreUnavailable
from lumen_bot.services.background import Background
from lumen_bot.services.intake import Intake
from lumen_bot.settings import Settings

log = logging.getLogger(__name__)

VIA = "twilio"
CONTENT_VIA = "twilio_content"
"""The outbox's name for a content template sent through the Messages API (:class:`TwilioContentSender`)."""
WHATSAPP_PREFIX = "whatsapp:"
# Twilio's standard keywords, matched against the whole message.
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
ANSWERS = frozenset({"YES"})
"""Opt-in keywords that are also a shopper's answer to a question Lumen asked."""
HELP = frozenset({"HELP", "INFO"})
# Twilio allows 1,600 characters in a WhatsApp message body.
WHATSAPP_LIMIT = 1600
_OPTED_OUT = 21610  # Twilio REST error: the recipient replied STOP
_TIMEOUT_SECONDS = 10.0


class TwilioRestSender:
    """Sends through Twilio's REST API; the SDK is synchronous, so each call runs in a worker thread."""

    def __init__(self, account_sid: str, auth_token: str, api_url: str) -> None:
        # The SDK's own client waits forever; a send must end well within the outbox's lease.
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=_TIMEOUT_SECONDS))
        # Tests and egress proxies point the API elsewhere; the SDK builds every URL from this base.
        self._client.api.base_url = api_url

    async def send(self, sender: str, recipient: str, text: str) -> str | None:
        content = self._content(text)
        try:
            message = await to_thread.run_sync(
                lambda: self._client.messages.create(from_=sender, to=recipient, **content)
            )
        except TwilioRestException as error:
            if error.code == _OPTED_OUT:
                log.info("recipient has opted out; message dropped")
                raise SendFailed("recipient opted out (21610)", permanent=True) from error
            transient = error.status == 429 or error.status >= 500
            raise SendFailed(f"Twilio {error.status} ({error.code})", permanent=not transient) from error
        except TwilioException as error:
            raise SendFailed(f"Twilio unreachable: {type(error).__name__}") from error
        except OSError as error:
            raise SendFailed(f"Twilio unreachable: {type(error).__name__}") from error
        return message.sid

    async def aclose(self) -> None:
        session = getattr(self._client.http_client, "session", None)
        if session is not None:
            session.close()

    def _content(self, text: str) -> dict[str, str]:
        """The Messages API's fields for what the outbox stored: here, the text itself."""
        return {"body": text}


class TwilioContentSender(TwilioRestSender):
    """Sends an approved content template (``ContentSid`` and ``ContentVariables`` on the Messages API):
    what WhatsApp takes outside the 24-hour window. The outbox stores :func:`content_body`'s JSON."""

    def _content(self, text: str) -> dict[str, str]:
        try:
            content = json.loads(text)
            sid, variables = content["content_sid"], content["content_variables"]
        except (ValueError, LookupError, TypeError) as error:
            raise SendFailed("not a stored content template", permanent=True) from error
        if not isinstance(sid, str) or not isinstance(variables, dict):
            raise SendFailed("not a stored content template", permanent=True)
        return {"content_sid": sid, "content_variables": json.dumps(variables, ensure_ascii=False)}


def content_body(content_sid: str, variables: Mapping[str, str]) -> str:
    """What the outbox stores for :class:`TwilioContentSender`: the template and its variables
    (``{"1": …}`` for the template's ``{{1}}``)."""
    return json.dumps({"content_sid": content_sid, "content_variables": dict(variables)}, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class _Inbound:
    """The fields of a Twilio message webhook that Lumen uses."""

    sender: str
    """``From``: the shopper (``+1555…`` or ``whatsapp:+1555…``)."""
    to: str
    """``To``: the shop's number the message was sent to, and so the number replies come from."""
    body: str
    message_id: str | None
    media_count: int
    is_status_callback: bool

    @property
    def channel(self) -> str:
        return "whatsapp" if self.sender.startswith(WHATSAPP_PREFIX) else "sms"

    @property
    def address(self) -> str:
        return self.sender.removeprefix(WHATSAPP_PREFIX)


def router(
    intake: Intake,
    opt_outs: OptOuts,
    background: Background,
    settings: Settings,
    say: Speech,
    clock: Clock,
) -> APIRouter:
    """The webhook route; none when no signing secret is configured (unless in insecure dev mode).

    ``say`` answers the carrier keywords (HELP), which come before any conversation: the shop's default
    language."""
    api = APIRouter()
    check = _signature_check(settings)
    if check is None:
        log.info("Twilio webhook disabled: set LUMEN_TWILIO_AUTH_TOKEN (or LUMEN_TWILIO_WEBHOOK_SHARED_KEY)")
        return api

    @api.post(
        "/webhooks/twilio",
        responses=error_responses(
            {
                400: "A body that cannot be read: not UTF-8, not a JSON object, From, To or NumMedia wrong",
                403: "A missing or wrong X-Twilio-Signature",
                413: BODY_TOO_LARGE,
                415: "Neither form-encoded nor JSON",
                503: NOT_STORED,
            }
        ),
    )
    async def twilio_webhook(request: Request) -> Response:
        signed = _signed_content(request.headers.get("content-type", ""), await request.body())
        if not check(request, signed):
            log.warning("Twilio webhook rejected: bad or missing signature")
            raise HTTPException(403, "invalid Twilio signature")
        form = _fields(signed)
        inbound = _parse(form, request.headers.get("I-Twilio-Idempotency-Token"))
        if inbound.is_status_callback:
            return _twiml([])
        try:
            return await _answer(inbound, form)
        except StoreUnavailable:
            # Nothing was stored: with connection overrides (#rc=…&rp=5xx) Twilio delivers it again.
            log.warning("Twilio message refused: the store is unavailable")
            raise not_stored() from None

    async def _answer(inbound: _Inbound, form: Mapping[str, Any]) -> Response:
        keyword = _keyword(inbound.body)
        if keyword in OPT_OUT:
            await opt_outs.opt_out(inbound.channel, inbound.address, clock())
            return _twiml([])  # Twilio sends the opt-out confirmation itself
        opted_out = await opt_outs.is_opted_out(inbound.channel, inbound.address)
        # "YES" opts back in only a number that opted out; from any other it answers Lumen's question
        # (updates about the order?).
        if keyword in OPT_IN and (opted_out or keyword not in ANSWERS):
            await opt_outs.opt_in(inbound.channel, inbound.address)
            return _twiml([])
        if opted_out:
            return _twiml([])
        if keyword in HELP:
            return _twiml([_help_text(settings, say)])

        message = InboundMessage(
            channel=inbound.channel,
            conversation_key=inbound.address,
            text=clean_text(inbound.body)[: settings.max_text_length],
            received_at=clock(),
            provider_message_id=inbound.message_id,
            raw=dict(form),
            unreadable=inbound.media_count > 0 and not inbound.body.strip(),
            contact_address=inbound.address,
            reply_from=inbound.to,
        )
        route = ReplyRoute(VIA, inbound.to, inbound.sender, form=inbound.channel)
        [lease] = await intake.accept([Accepted(message, route)])
        if lease is None:
            # A redelivery: the first delivery answers it (inline, or through the outbox), once.
            log.info("Twilio redelivery: answered by its first delivery")
            return _twiml([])
        work = asyncio.ensure_future(intake.replies(lease))
        try:
            replies = await asyncio.wait_for(asyncio.shield(work), timeout=settings.twilio_inline_seconds)
        except TimeoutError:
            # Twilio stops waiting at 15 s; the reply follows through the REST API when it is ready (from
            # the stored message, by another worker, if this one stops first).
            background.job(intake.answer_later(lease, work))
            return _twiml([])
        except StoreUnavailable:
            # The message is stored: a worker's loop answers it once the store is back.
            return _twiml([])
        if not await intake.settle_inline(lease):
            return _twiml([])  # this worker lost the message to another, which answers it
        return _twiml([RENDERERS[inbound.channel](replies)] if replies else [])

    return api


def _whatsapp(replies: Sequence[Reply]) -> str:
    return render_whatsapp(replies, WHATSAPP_LIMIT)


# How replies are written for each channel Twilio carries (the intake's renderers, by ReplyRoute.form).
RENDERERS: dict[str, Callable[[Sequence[Reply]], str]] = {"sms": render_sms, "whatsapp": _whatsapp}


def _twiml(texts: Sequence[str]) -> Response:
    response = MessagingResponse()
    for text in texts:
        response.message(text)
    return Response(str(response), media_type="text/xml")


def _help_text(settings: Settings, say: Speech) -> str:
    # Translators: keep STOP as it is: carriers understand that word only.
    text = say(
        "{shop} order help: text your order number to track an order. Questions: {support}. Reply STOP to "
        "opt out.",
        shop=settings.shop_name,
        support=settings.support_contact,
    )
    return render_sms([Reply.plain(ReplyKind.HELP, text, language=say.language)])


_Check = Callable[[Request, "str | FormData"], bool]


def _signature_check(settings: Settings) -> _Check | None:
    """How requests are authenticated: ``None`` when the route must not be served at all."""
    validators = {
        algorithm: RequestValidator(secret.get_secret_value())
        for algorithm, secret in (
            (HMAC_SHA1, settings.twilio_auth_token),
            (HMAC_SHA256, settings.twilio_webhook_shared_key),
        )
        if secret is not None
    }
    if not validators:
        if not settings.twilio_insecure_dev:
            return None
        log.warning("LUMEN_TWILIO_INSECURE_DEV is set: Twilio webhook signatures are NOT checked")
        return lambda _request, _params: True
    if not settings.public_base_url:
        log.warning(
            "LUMEN_PUBLIC_BASE_URL is not set: Twilio signatures are checked against the URL this server "
            "sees, which differs from Twilio's behind a proxy or load balancer"
        )

    def check(request: Request, params: str | FormData) -> bool:
        signature = request.headers.get("X-Twilio-Signature")
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER)).upper()
        validator = validators.get(algorithm)
        if not signature or validator is None:
            return False
        return bool(validator.validate(_signed_url(request, settings), params, signature, algorithm))

    return check


def _signed_url(request: Request, settings: Settings) -> str:
    """The URL Twilio requested, which its signature covers."""
    base = (settings.public_base_url or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{request.url.path}{query}"


def _signed_content(content_type: str, raw: bytes) -> str | FormData:
    """What the signature covers: the form's fields, or a JSON body's raw text (checked through its
    bodySHA256), read without parsing the JSON: nothing unsigned is parsed."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(400, "the body is not UTF-8") from error
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return FormData(parse_qsl(text, keep_blank_values=True))
    if media_type == "application/json":
        return text
    raise HTTPException(415, "Twilio webhooks are form-encoded (or JSON)")


def _fields(signed: str | FormData) -> Mapping[str, Any]:
    """The fields of a signed body."""
    if isinstance(signed, FormData):
        return signed
    try:
        fields = json.loads(signed)
    except (ValueError, RecursionError) as error:  # RecursionError: nesting deeper than the parser goes
        raise HTTPException(400, "the body is not valid JSON") from error
    if not isinstance(fields, dict):
        raise HTTPException(400, "the JSON body must be an object")
    return fields


def _keyword(body: str) -> str:
    return body.strip().strip(".!").upper()


def _parse(form: Mapping[str, Any], idempotency_token: str | None) -> _Inbound:
    sender = form.get("From")
    to = form.get("To")
    if not isinstance(sender, str) or not sender.strip() or not isinstance(to, str) or not to.strip():
        raise HTTPException(400, "From and To are required")
    body = form.get("Body")
    try:
        media_count = int(form.get("NumMedia") or 0)
    except (TypeError, ValueError) as error:
        raise HTTPException(400, "NumMedia must be a number") from error
    message_id = form.get("MessageSid") or form.get("SmsMessageSid") or idempotency_token
    return _Inbound(
        sender=sender.strip(),
        to=to.strip(),
        body=body if isinstance(body, str) else "",
        message_id=str(message_id)[:200] if message_id else None,
        media_count=media_count,
        is_status_callback=body is None and media_count == 0 and bool(form.get("MessageStatus")),
    )
