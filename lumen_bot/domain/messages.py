"""What flows between the channels and the core: one inbound message in, channel-neutral replies out."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

# Control and format characters (except newline and tab) are dropped; bidi marks are kept as they are
# harmless in text and part of right-to-left writing.
_KEEP_FORMAT = {"\u200e", "\u200f", "\u200d", "\u200c"}
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalize what a shopper typed: NFC, no control characters, tidy whitespace."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    # A printable text (most messages) has no control or format character: nothing to drop, character by
    # character.
    kept = (
        text
        if text.isprintable()
        else "".join(
            ch
            for ch in text
            if ch in "\n\t" or ch in _KEEP_FORMAT or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
        )
    )
    lines = (_SPACES.sub(" ", line).strip() for line in kept.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a shopper, as every channel normalizes it."""

    channel: str
    """``web``, ``terminal``, ``sms``, ``whatsapp``, ``email`` …"""
    conversation_key: str
    """Who the conversation is with, stable within the channel (web session digest, phone, address)."""
    text: str
    received_at: datetime
    provider_message_id: str | None = None
    """The provider's id for this delivery; a second delivery with the same id is not processed again."""
    raw: dict[str, Any] | None = None
    """The payload as received, kept beside the normalized fields for audit."""
    unreadable: bool = False
    """The message carried nothing Lumen can read (an image, a voice note, a sticker)."""
    authenticated_sender: str | None = None
    """An email address the provider proved the message came from (SPF/DKIM passed for its domain).
    It verifies the orders placed with it, as the shopper typing it would (verification rule 5)."""
    context_order_number: str | None = None
    """An order number found around the message rather than in it (an email's subject or quoted
    confirmation), used when the shopper asks about an order without naming one."""
    contact_address: str | None = None
    """Where the shop's team can reach the sender later on this channel (a phone number, an email
    address); ``None`` for a channel that cannot (a web chat, the terminal)."""
    reply_from: str | None = None
    """The shop's address the shopper wrote to (the Twilio number, the WhatsApp phone number id), so a
    message sent later (an update) comes from the same thread; ``None`` for the channel's default."""
    language_hint: str | None = None
    """The language the shopper is likely to write in before they have written (a browser's language),
    for the first replies; their own words decide from then on."""


class ReplyKind(StrEnum):
    ASK_ORDER_NUMBER = "ask_order_number"
    ASK_EMAIL = "ask_email"
    ORDER_ANSWER = "order_answer"
    NOT_VERIFIED = "not_verified"
    LOCKED = "locked"
    ESCALATED = "escalated"
    CONFIRM_TICKET = "confirm_ticket"
    TICKET_DECLINED = "ticket_declined"
    OFFER_UPDATES = "offer_updates"
    UPDATES_SUBSCRIBED = "updates_subscribed"
    UPDATES_DECLINED = "updates_declined"
    UPDATES_STOPPED = "updates_stopped"
    UPDATES_NOT_POSSIBLE = "updates_not_possible"
    """The order has nothing left to tell (delivered, cancelled), or the channel cannot carry updates."""
    GREETING = "greeting"
    HELP = "help"
    THANKS = "thanks"
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"
    TEXT_ONLY = "text_only"
    ORDER_UPDATE = "order_update"
    """A proactive shipping update (sent unasked, to a subscription)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One line of a reply. A channel short of room (SMS) says ``short`` instead and leaves out
    optional parts, so the facts that matter survive any budget."""

    text: str
    short: str | None = None
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """Something to say, channel-neutral: channels render its parts for their medium."""

    kind: ReplyKind
    parts: tuple[Part, ...]
    quick_replies: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    language: str = "en"
    """The language it is written in (ISO 639-1), for channels that declare it (an email's HTML)."""

    @classmethod
    def plain(
        cls, kind: ReplyKind, text: str, quick_replies: tuple[str, ...] = (), *, language: str = "en"
    ) -> Reply:
        return cls(kind, (Part(text),), quick_replies, language=language)

    @property
    def text(self) -> str:
        return "\n".join(part.text for part in self.parts)
