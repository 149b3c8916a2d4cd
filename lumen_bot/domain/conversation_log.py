"""A conversation as the shop's team looks it up: found by an order number, a phone number or an email
address (exact, for support), then read message by message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from lumen_bot.domain.identifiers import email_digest, email_key, normalize_email, normalize_order_number

# A phone number as a shopper or a provider writes it: digits with the usual separators, 7 to 15 digits.
_PHONE = re.compile(r"\+?[\d\s().-]{7,20}")
_MIN_PHONE_DIGITS = 7


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """What a support query can match: the conversation's key on its channel, an order it verified (or a
    ticket or a subscription named), or the digest of the email of an order it verified."""

    keys: tuple[str, ...] = ()
    order_number: str | None = None
    email_digest: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.keys or self.order_number or self.email_digest)


def search_terms(query: str) -> SearchTerms:
    """``query`` read as an email address, else a phone number and an order number (``1042`` may be
    either), else an order number."""
    query = query.strip()
    if "@" in query:
        address = normalize_email(query)
        if address is None:
            return SearchTerms()
        keys = tuple(dict.fromkeys((email_key(address), email_key(query))))
        return SearchTerms(keys=keys, email_digest=email_digest(address))
    number = normalize_order_number(query) or None
    digits = re.sub(r"\D", "", query)
    if _PHONE.fullmatch(query) and len(digits) >= _MIN_PHONE_DIGITS:
        return SearchTerms(keys=(f"+{digits}", digits), order_number=number)
    return SearchTerms(order_number=number)


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: int
    channel: str
    key: str
    """The shopper's address on the channel (a phone number, an email address, a session digest)."""
    started_at: datetime
    last_at: datetime
    messages: int
    orders: tuple[str, ...]
    """The orders it verified."""


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    received_at: datetime
    text: str
    replies: tuple[str, ...]
    outcome: str | None
    understander: str | None
    reply_ms: int | None


@dataclass(frozen=True, slots=True)
class ConversationTranscript:
    summary: ConversationSummary
    messages: tuple[LoggedMessage, ...]
    """The latest messages, oldest first."""
