"""Inbound email routes: ``/webhooks/email/raw``, ``/sendgrid``, ``/mailgun``, ``/postmark``.

Each route authenticates the request first (HTTP Basic, or Mailgun's signature), then turns the
provider's payload into a :class:`ParsedEmail` and hands it to the :class:`EmailChannel`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData, UploadFile

from channels.email.automatic import content_reason, spam_reason
from channels.email.inbound import (
    MalformedEmail,
    ParsedEmail,
    from_message,
    html_to_text,
    parse_email,
    strip_reply,
)
from channels.email.service import EmailChannel, Received
from channels.http_errors import BODY_TOO_LARGE, error_responses
from lumen_bot.domain.clock import Clock
from lumen_bot.ports import SeenTokens

log = logging.getLogger(__name__)

BASIC_USER = "lumen"
_BASIC_ERRORS = error_responses(
    {
        400: "The delivery cannot be read: a malformed email, form or JSON body",
        401: "No valid HTTP Basic credentials (user lumen, LUMEN_INBOUND_EMAIL_SECRET)",
        413: BODY_TOO_LARGE + " (LUMEN_EMAIL_MAX_BYTES)",
    }
)
_MAILGUN_ERRORS = error_responses(
    {
        400: "The delivery cannot be read: a malformed form or email",
        # Mailgun does not retry a 406: a forged or replayed request will not become genuine.
        406: "A wrong or stale signature, or a token already used",
        413: BODY_TOO_LARGE + " (LUMEN_EMAIL_MAX_BYTES)",
    }
)
# Mailgun signs a timestamp; a request older than this is a replay, not a delivery.
MAILGUN_MAX_AGE_SECONDS = 5 * 60
# SpamAssassin's default "required" score, used when SendGrid's spam_report does not say the one it used.
SPAM_SCORE_THRESHOLD = 5.0
_SPAM_REQUIRED = re.compile(r"\(\s*-?[\d.]+ points?,\s*(-?[\d.]+) required\s*\)")
# What Mailgun's parsed form carries at its top level as well as in message-headers; read from there when
# message-headers is missing or lacks them (field names as Mailgun sends them, matched in any case).
_MAILGUN_TOP_LEVEL = (
    ("From", ("from", "sender")),
    ("Subject", ("subject",)),
    ("Message-Id", ("message-id",)),
    ("In-Reply-To", ("in-reply-to",)),
    ("References", ("references",)),
    ("X-Mailgun-Sflag", ("x-mailgun-sflag",)),
)


def router(
    channel: EmailChannel,
    seen_tokens: SeenTokens,
    *,
    secret: str | None,
    mailgun_key: str | None,
    clock: Clock,
) -> APIRouter:
    api = APIRouter(prefix="/webhooks/email")
    if secret is None and mailgun_key is None:
        log.info(
            "inbound email routes disabled: set LUMEN_INBOUND_EMAIL_SECRET and/or LUMEN_MAILGUN_SIGNING_KEY"
        )
    if secret is not None:
        _basic_routes(api, channel, secret)
    if mailgun_key is not None:
        _mailgun_route(api, channel, seen_tokens, mailgun_key, clock)
    return api


def _basic_routes(api: APIRouter, channel: EmailChannel, secret: str) -> None:
    def authorized(request: Request) -> None:
        if not _basic_auth_ok(request.headers.get("authorization"), secret):
            log.warning("inbound email rejected: bad or missing credentials")
            raise HTTPException(
                401, "authentication required", headers={"WWW-Authenticate": 'Basic realm="lumen"'}
            )

    @api.post("/raw", responses=_BASIC_ERRORS)
    async def raw_email(request: Request) -> Response:
        authorized(request)
        raw = await request.body()
        return await _received(channel, lambda: parse_email(raw, own_addresses=channel.own_addresses), raw)

    @api.post("/sendgrid", responses=_BASIC_ERRORS)
    async def sendgrid(request: Request) -> Response:
        authorized(request)
        form = await _form(request)
        raw = _field_bytes(form, "email")
        if raw is not None:
            parse = _sendgrid_raw(form, raw, channel.own_addresses)
        else:
            raw = _fingerprint(form)
            parse = _sendgrid_fields(form, channel.own_addresses)
        return await _received(channel, parse, raw)

    @api.post("/postmark", responses=_BASIC_ERRORS)
    async def postmark(request: Request) -> Response:
        authorized(request)
        try:
            payload = json.loads(await request.body())
        except ValueError as error:
            raise HTTPException(400, "the body is not valid JSON") from error
        if not isinstance(payload, dict):
            raise HTTPException(400, "the JSON body must be an object")
        raw = json.dumps(payload, sort_keys=True).encode()
        provider_id = str(payload.get("MessageID") or "") or None
        return await _received(channel, _postmark(payload, channel.own_addresses), raw, provider_id)


def _mailgun_route(
    api: APIRouter, channel: EmailChannel, seen_tokens: SeenTokens, key: str, clock: Clock
) -> None:
    @api.post("/mailgun", responses=_MAILGUN_ERRORS)
    async def mailgun(request: Request) -> Response:
        form = await _form(request)
        timestamp, token, signature = (_field(form, name) for name in ("timestamp", "token", "signature"))
        if not _mailgun_signed(key, timestamp, token, signature):
            log.warning("Mailgun webhook rejected: bad signature or stale timestamp")
            # 406 tells Mailgun not to retry: a forged request will not become genuine.
            return JSONResponse({"detail": "invalid Mailgun signature"}, status_code=406)
        if not await seen_tokens.first_use("mailgun", token, clock()):
            log.warning("Mailgun webhook rejected: token reused")
            return JSONResponse({"detail": "Mailgun token already used"}, status_code=406)
        raw = _field_bytes(form, "body-mime")
        parse = (
            (lambda: parse_email(raw, own_addresses=channel.own_addresses))
            if raw is not None
            else _mailgun_fields(form, channel.own_addresses)
        )
        return await _received(channel, parse, raw or _fingerprint(form))


async def _received(
    channel: EmailChannel, parse: Callable[[], ParsedEmail], raw: bytes, provider_id: str | None = None
) -> Response:
    try:
        parsed = parse()
    except MalformedEmail as error:
        raise HTTPException(400, f"malformed email: {error}") from error
    outcome: Received = await channel.receive(parsed, provider_id=provider_id, raw=raw)
    return JSONResponse(
        {"status": "skipped" if outcome.skipped else "answered", "reason": outcome.skipped},
        status_code=200,
    )


# Authentication


def _basic_auth_ok(header: str | None, secret: str) -> bool:
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    # Both compared, always, so the time taken says nothing about which one was wrong.
    return secrets.compare_digest(user, BASIC_USER) & secrets.compare_digest(password, secret)


def _mailgun_signed(key: str, timestamp: str, token: str, signature: str) -> bool:
    if not (timestamp.isdigit() and token and signature):
        return False
    if abs(time.time() - int(timestamp)) > MAILGUN_MAX_AGE_SECONDS:
        return False
    expected = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


# Provider payloads


async def _form(request: Request) -> FormData:
    try:
        return await request.form(max_files=50, max_fields=1000)
    except Exception as error:  # the multipart parser's errors have no common base class
        raise HTTPException(400, f"the form could not be read: {type(error).__name__}") from error


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _field_bytes(form: FormData, name: str) -> bytes | None:
    value = form.get(name)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape") if value else None
    if isinstance(value, UploadFile):
        return value.file.read() or None
    return None


def _fingerprint(form: FormData) -> bytes:
    """Stable bytes for a parsed-fields delivery, so a redelivery without a Message-ID is recognised."""
    fields = sorted((key, value) for key, value in form.multi_items() if isinstance(value, str))
    return json.dumps(fields).encode()


def _from_fields(
    headers: Sequence[tuple[str, str]], text: str, html: str, own: tuple[str, ...]
) -> ParsedEmail:
    """An email from a provider's parsed fields. Its body is rebuilt as plain text, so a delivery report
    or read receipt is told by the Content-Type the provider passed on with the headers."""
    parsed = from_message(_message(headers, text, html), own_addresses=own)
    if parsed.automatic:
        return parsed
    as_sent = EmailMessage(policy=policy.default)
    for name, value in headers:
        if name.lower() == "content-type":
            with suppress(ValueError, TypeError):  # an unusable Content-Type says nothing
                as_sent[name] = value
    reason = content_reason(as_sent)
    return replace(parsed, automatic_reason=reason) if reason else parsed


def _message(headers: Iterable[tuple[str, str]], text: str, html: str) -> EmailMessage:
    """An email rebuilt from a provider's parsed fields, so one parser reads every route."""
    message = EmailMessage(policy=policy.default)
    try:
        for name, value in headers:
            if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
                message[name] = value
    except (ValueError, TypeError) as error:
        raise MalformedEmail(f"unusable header: {error}") from error
    message.set_content(text or html_to_text(html) or " ")
    return message


def _header_block(block: str) -> list[tuple[str, str]]:
    """``Name: value`` lines (with folded continuations), as SendGrid's ``headers`` field carries them."""
    try:
        source = message_from_string(block + "\n\n", policy=policy.default)
        return [(name, str(value)) for name, value in source.items()]
    except Exception as error:  # the email parser is lenient; whatever it still raises means garbage
        raise MalformedEmail("the headers could not be read") from error


def _sendgrid_raw(form: FormData, raw: bytes, own: tuple[str, ...]) -> Callable[[], ParsedEmail]:
    return lambda: _sendgrid_checks(form, parse_email(raw, own_addresses=own))


def _sendgrid_fields(form: FormData, own: tuple[str, ...]) -> Callable[[], ParsedEmail]:
    def parse() -> ParsedEmail:
        headers = _header_block(_field(form, "headers"))
        return _sendgrid_checks(form, _from_fields(headers, _field(form, "text"), _field(form, "html"), own))

    return parse


def _sendgrid_checks(form: FormData, parsed: ParsedEmail) -> ParsedEmail:
    try:
        envelope = json.loads(_field(form, "envelope") or "{}")
    except ValueError:
        envelope = {}
    envelope_from = envelope.get("from") if isinstance(envelope, dict) else None
    parsed = _with_provider_checks(
        parsed,
        spf=_field(form, "SPF"),
        envelope_from=envelope_from if isinstance(envelope_from, str) else "",
        dkim=_sendgrid_dkim(_field(form, "dkim")),
    )
    return _sendgrid_spam(form, parsed)


def _sendgrid_spam(form: FormData, parsed: ParsedEmail) -> ParsedEmail:
    """Spam by SendGrid's verdict (its Spam Check setting): ``spam_score`` at or above the score its
    ``spam_report`` required, or SpamAssassin's default 5.0. Spam is skipped as automatic mail is."""
    try:
        score = float(_field(form, "spam_score"))
    except ValueError:
        return parsed  # no spam check configured, or a value that is no score
    required = _SPAM_REQUIRED.search(_field(form, "spam_report"))
    threshold = float(required.group(1)) if required else SPAM_SCORE_THRESHOLD
    if parsed.automatic or not score >= threshold:  # "not >=": a NaN score is no verdict
        return parsed
    return replace(parsed, automatic_reason=spam_reason(f"SendGrid spam_score {score:g}"))


def _sendgrid_dkim(field: str) -> dict[str, str]:
    """``{@example.com : pass, @mail.example.net : fail}`` → ``{"example.com": "pass", …}``."""
    results = {}
    for item in field.strip("{} ").split(","):
        domain, _, result = item.partition(":")
        if domain.strip():
            results[domain.strip().lstrip("@").lower()] = result.strip().lower()
    return results


def _mailgun_fields(form: FormData, own: tuple[str, ...]) -> Callable[[], ParsedEmail]:
    def parse() -> ParsedEmail:
        try:
            headers = [(str(n), str(v)) for n, v in json.loads(_field(form, "message-headers") or "[]")]
        except (ValueError, TypeError) as error:
            raise MalformedEmail("message-headers is not a JSON list of pairs") from error
        headers += _mailgun_top_level(form, {name.lower() for name, _ in headers})
        parsed = _from_fields(headers, _field(form, "body-plain"), _field(form, "body-html"), own)
        values = {name.lower(): value for name, value in headers}
        # Mailgun reports SPF for the envelope sender ("sender") and whether DKIM passed, without the
        # signing domain; Authentication-Results, when Mailgun passes it on, was already read above.
        parsed = _with_provider_checks(
            parsed, spf=values.get("x-mailgun-spf", ""), envelope_from=_field(form, "sender"), dkim={}
        )
        return _or_provider_stripped(parsed, _field(form, "stripped-text"))

    return parse


def _mailgun_top_level(form: FormData, present: set[str]) -> list[tuple[str, str]]:
    """The headers message-headers lacks, from Mailgun's top-level fields (see ``_MAILGUN_TOP_LEVEL``)."""
    fields = {key.lower(): value for key, value in form.multi_items() if isinstance(value, str) and value}
    found: list[tuple[str, str]] = []
    for header, names in _MAILGUN_TOP_LEVEL:
        value = next((fields[name] for name in names if name in fields), None)
        if header.lower() not in present and value is not None:
            found.append((header, value))
    return found


def _postmark(payload: Mapping[str, Any], own: tuple[str, ...]) -> Callable[[], ParsedEmail]:
    def parse() -> ParsedEmail:
        headers = [
            (str(h.get("Name", "")), str(h.get("Value", "")))
            for h in payload.get("Headers") or []
            if isinstance(h, dict) and h.get("Name")
        ]
        sender = (
            payload.get("FromFull", {}).get("Email") if isinstance(payload.get("FromFull"), dict) else None
        )
        headers = [
            ("From", str(payload.get("From") or sender or "")),
            ("To", str(payload.get("To") or "")),
            ("Subject", str(payload.get("Subject") or "")),
            *[(n, v) for n, v in headers if n.lower() not in ("from", "to", "subject")],
        ]
        text, html = str(payload.get("TextBody") or ""), str(payload.get("HtmlBody") or "")
        parsed = _from_fields(headers, text, html, own)
        spf = next((v for n, v in headers if n.lower() == "received-spf"), "")
        envelope = re.search(r'envelope-from="?([^";\s]+)', spf)
        parsed = _with_provider_checks(
            parsed, spf=spf.split(" ")[0], envelope_from=envelope.group(1) if envelope else "", dkim={}
        )
        return _or_provider_stripped(parsed, str(payload.get("StrippedTextReply") or ""))

    return parse


def _or_provider_stripped(parsed: ParsedEmail, stripped: str) -> ParsedEmail:
    """The provider's own stripping (Mailgun's ``stripped-text``, Postmark's ``StrippedTextReply``) only
    when ours kept nothing: theirs cuts everything below the first quote header, so it drops a question
    written under the quote, and leaves signatures in other languages; it is stripped by ours again."""
    if parsed.new_text.strip() or not stripped.strip():
        return parsed
    return replace(parsed, new_text=strip_reply(stripped)[0])


def _with_provider_checks(
    parsed: ParsedEmail, *, spf: str, envelope_from: str, dkim: Mapping[str, str]
) -> ParsedEmail:
    """Authentication as the provider reports it, when the message itself carried no passing result.

    As with DMARC, a pass counts only when aligned with the From domain: SPF vouches for the envelope
    sender, DKIM for the signing domain, and either may belong to anyone.
    """
    if parsed.authenticated:
        return parsed
    domain = _domain(parsed.sender)
    dkim_pass = any(result == "pass" and _aligned(domain, signer) for signer, result in dkim.items())
    spf_pass = (
        spf.strip().lower() == "pass" and bool(envelope_from) and _aligned(domain, _domain(envelope_from))
    )
    return replace(parsed, authenticated=True) if dkim_pass or spf_pass else parsed


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2].lower().rstrip(".")


def _aligned(from_domain: str, other: str) -> bool:
    return bool(other) and (from_domain == other or from_domain.endswith("." + other))
