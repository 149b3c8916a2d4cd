"""How one proactive update goes out on each channel, by that channel's rules. Pure: no I/O.

A renderer turns an :class:`~lumen_bot.ports.UpdateNote` into the :class:`~lumen_bot.ports.Outgoing`
the outbox stores, or into the reason it is not sent (a ``str``, recorded with the notice):

- **SMS** (Twilio REST, from the number the shopper wrote to): GSM-7 within 3 segments.
- **WhatsApp**, through whichever provider the shopper wrote to (a Twilio ``whatsapp:+…`` number, or a
  Cloud API phone number id): free text inside the 24-hour customer service window; outside it an approved
  template — Cloud API: ``LUMEN_WHATSAPP_UPDATE_TEMPLATE`` in ``LUMEN_WHATSAPP_UPDATE_TEMPLATE_LANGUAGE``;
  Twilio: the content template ``LUMEN_TWILIO_UPDATE_CONTENT_SID`` — and without one the update is skipped.
- **Email**: a reply in the shopper's thread (In-Reply-To and References), ``Auto-Submitted:
  auto-generated``, one-click unsubscribe (RFC 8058) and the same link in the text.

The templates a shop gets approved take two body variables: ``{{1}}`` the order number and ``{{2}}`` the
update as one line (e.g. "Update on your order {{1}}: {{2}}"). WhatsApp refuses a variable with a line
break, a tab or more than four spaces in a row, so the update's lines are joined into one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email import policy
from urllib.parse import quote

from channels import twilio, whatsapp_cloud
from channels.email import service as email_service
from channels.email.outbound import DEFAULT_SUBJECT, Unsubscribe, compose_reply
from channels.sms_text import render_sms, render_whatsapp
from lumen_bot.domain.messages import Reply, ReplyKind
from lumen_bot.domain.speech import N_, Speech
from lumen_bot.ports import Outgoing, UpdateNote, UpdateRenderer
from lumen_bot.settings import Settings

UNSUBSCRIBE_PATH = "/updates/unsubscribe/{token}"
"""Where an email update's unsubscribe link points, under ``LUMEN_PUBLIC_URL`` (``channels.unsubscribe``)."""
TEMPLATE_TEXT_LIMIT = 700
"""The update's length as a template variable: a WhatsApp template's body is at most 1,024 characters,
and the template's own words need room too."""

OUTSIDE_WINDOW = "outside the 24-hour window and no template"
NO_SHOP_NUMBER = "no shop number to send from"
NO_TEXT = "the update has no text"

# WhatsApp templates have no plain Portuguese: Brazil's, unless LUMEN_WHATSAPP_UPDATE_TEMPLATE_LANGUAGE
# names pt_PT. Lumen's other languages (en, es, de, fr) are template codes as they are.
_TEMPLATE_LANGUAGES = {"pt": "pt_BR"}
# Translators: {link} is the unsubscribe link, the last thing in the email: keep it at the end.
_STOP_LINK = N_("To stop these updates, open {link}")
_LINE_END = re.compile(r"[.!?:;,…]$")


class SmsUpdates:
    """Updates by SMS through Twilio's REST API."""

    def __init__(self, *, configured: bool = True) -> None:
        self._configured = configured

    def render(self, note: UpdateNote) -> Outgoing | str:
        if not self._configured:
            return "SMS is not configured (LUMEN_TWILIO_ACCOUNT_SID, LUMEN_TWILIO_AUTH_TOKEN)"
        sender = note.shop_address
        if not sender:
            return NO_SHOP_NUMBER
        text = render_sms([note.reply])
        return Outgoing(twilio.VIA, sender, note.address, text) if text else NO_TEXT


class TwilioWhatsAppUpdates:
    """Updates on WhatsApp through Twilio: free text in the window, a content template outside it."""

    def __init__(self, content_sid: str | None = None, *, configured: bool = True) -> None:
        self._content_sid = content_sid or None
        self._configured = configured

    def render(self, note: UpdateNote) -> Outgoing | str:
        if not self._configured:
            return "Twilio is not configured (LUMEN_TWILIO_ACCOUNT_SID, LUMEN_TWILIO_AUTH_TOKEN)"
        if not note.shop_address:
            return NO_SHOP_NUMBER
        sender = _whatsapp_address(note.shop_address)
        recipient = _whatsapp_address(note.address)
        if note.in_session_window:
            text = render_whatsapp([note.reply], twilio.WHATSAPP_LIMIT)
            return Outgoing(twilio.VIA, sender, recipient, text) if text else NO_TEXT
        if self._content_sid is None:
            return OUTSIDE_WINDOW
        text = template_text(note.reply)
        if not text:
            return NO_TEXT
        body = twilio.content_body(self._content_sid, {"1": note.order_number, "2": text})
        return Outgoing(twilio.CONTENT_VIA, sender, recipient, body)


class CloudWhatsAppUpdates:
    """Updates through Meta's WhatsApp Cloud API: free text in the window, a message template outside."""

    def __init__(
        self,
        template: str | None = None,
        template_language: str | None = None,
        *,
        phone_number_id: str | None = None,
        configured: bool = True,
    ) -> None:
        self._template = template or None
        self._template_language = template_language or None
        self._phone_number_id = phone_number_id or None
        self._configured = configured

    def render(self, note: UpdateNote) -> Outgoing | str:
        if not self._configured:
            return "the WhatsApp Cloud API is not configured (LUMEN_WHATSAPP_ACCESS_TOKEN)"
        sender = note.shop_address or self._phone_number_id
        if not sender:
            return NO_SHOP_NUMBER
        # The Graph API writes WhatsApp ids as digits, without the "+" of the conversation's key.
        recipient = note.address.removeprefix("+")
        if note.in_session_window:
            text = render_whatsapp([note.reply], whatsapp_cloud.MAX_REPLY_LENGTH)
            return Outgoing(whatsapp_cloud.VIA, sender, recipient, text) if text else NO_TEXT
        if self._template is None:
            return OUTSIDE_WINDOW
        text = template_text(note.reply)
        if not text:
            return NO_TEXT
        language = self._template_language or _TEMPLATE_LANGUAGES.get(note.language, note.language)
        body = whatsapp_cloud.template_body(self._template, language, [note.order_number, text])
        return Outgoing(whatsapp_cloud.TEMPLATE_VIA, sender, recipient, body)


class WhatsAppUpdates:
    """WhatsApp updates through the provider the shopper wrote to: a Twilio sender is a phone number
    (``whatsapp:+1…``), a Cloud API sender a phone number id (digits only). A subscription that names
    none goes through the Cloud API when it is configured, else through Twilio."""

    def __init__(
        self, cloud: CloudWhatsAppUpdates, twilio_updates: TwilioWhatsAppUpdates, *, cloud_default: bool
    ) -> None:
        self._cloud = cloud
        self._twilio = twilio_updates
        self._cloud_default = cloud_default

    def render(self, note: UpdateNote) -> Outgoing | str:
        shop = note.shop_address
        if shop is None:
            provider: UpdateRenderer = self._cloud if self._cloud_default else self._twilio
        else:
            provider = self._cloud if shop.isdigit() else self._twilio
        return provider.render(note)


class EmailUpdates:
    """Updates by email, in the shopper's thread, with one-click unsubscribe."""

    def __init__(
        self,
        from_address: str | None,
        shop_name: str,
        public_url: str | None,
        voices: Mapping[str, Speech] | None = None,
        *,
        configured: bool = True,
    ) -> None:
        self._from = from_address or None
        self._shop_name = shop_name
        self._public_url = public_url.rstrip("/") if public_url else None
        self._voices = voices or {}
        self._configured = configured

    def render(self, note: UpdateNote) -> Outgoing | str:
        if not self._configured or self._from is None:
            return "email is not configured (LUMEN_SMTP_HOST, LUMEN_EMAIL_FROM)"
        if self._public_url is None:
            return "no LUMEN_PUBLIC_URL for the unsubscribe link"
        link = self._public_url + UNSUBSCRIBE_PATH.format(token=quote(note.unsubscribe_token, safe=""))
        say = self._voices.get(note.language)
        footer = say(_STOP_LINK, link=link) if say else _STOP_LINK.format(link=link)
        stop = Reply.plain(ReplyKind.HELP, footer, language=note.language)
        parent = note.thread_message_id
        try:
            message = compose_reply(
                [note.reply, stop],
                to=note.address,
                subject=_subject(note.reply),
                message_id=parent,
                references=[parent] if parent else [],
                from_address=self._from,
                shop_name=self._shop_name,
                default_subject=say(DEFAULT_SUBJECT) if say else DEFAULT_SUBJECT,
                update=Unsubscribe(link),
            )
        except ValueError:
            return "the address cannot be written in an email"
        return Outgoing(email_service.VIA, self._from, note.address, message.as_string(policy=policy.SMTP))


def build_update_renderers(
    settings: Settings, voices: Mapping[str, Speech] | None = None
) -> dict[str, UpdateRenderer]:
    """A renderer for each channel a subscription can be on, keyed by that channel; one whose provider is
    not configured says so as its skip reason. ``voices`` say the email's unsubscribe line in the update's
    language (English without them)."""
    twilio_configured = bool(settings.twilio_account_sid and settings.twilio_auth_token)
    cloud_configured = bool(
        settings.whatsapp_access_token is not None and settings.whatsapp_access_token.get_secret_value()
    )
    cloud = CloudWhatsAppUpdates(
        settings.whatsapp_update_template,
        settings.whatsapp_update_template_language,
        phone_number_id=settings.whatsapp_phone_number_id,
        configured=cloud_configured,
    )
    twilio_whatsapp = TwilioWhatsAppUpdates(settings.twilio_update_content_sid, configured=twilio_configured)
    return {
        "sms": SmsUpdates(configured=twilio_configured),
        "whatsapp": WhatsAppUpdates(cloud, twilio_whatsapp, cloud_default=cloud_configured),
        email_service.CHANNEL: EmailUpdates(
            settings.email_from,
            settings.shop_name,
            settings.public_url,
            voices,
            configured=bool(settings.smtp_host),
        ),
    }


def template_text(reply: Reply) -> str:
    """The update as one template variable: its lines joined into one, within ``TEMPLATE_TEXT_LIMIT``
    (counted as WhatsApp text is, in UTF-16 code units)."""
    budget = TEMPLATE_TEXT_LIMIT
    while True:
        text = _one_line(render_whatsapp([reply], budget))
        over = _utf16_length(text) - TEMPLATE_TEXT_LIMIT
        # Joining lines can add a separator's width to each: fit the text again in less room.
        if over <= 0 or budget <= 1:
            return text
        budget = max(1, budget - over)


def _one_line(text: str) -> str:
    """Lines joined by a space after a sentence's end, else by a middle dot; runs of spaces as one."""
    joined = ""
    for line in (" ".join(line.split()) for line in text.splitlines()):
        if not line:
            continue
        if joined:
            joined += " " if _LINE_END.search(joined) else " · "
        joined += line
    return joined


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _subject(reply: Reply) -> str:
    """The update's lead ("Order #1042 is out for delivery."): what the shopper sees in the inbox."""
    return reply.parts[0].text.splitlines()[0] if reply.parts and reply.parts[0].text else ""


def _whatsapp_address(address: str) -> str:
    return address if address.startswith(twilio.WHATSAPP_PREFIX) else twilio.WHATSAPP_PREFIX + address
