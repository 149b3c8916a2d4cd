"""Tickets: requests the shop's team follows up on — what they hold, how they read, their categories.

A ticket is stored with the conversation turn that asked for it and then delivered to every sink (a
webhook, the support inbox, Zendesk) through the outbox; see ``lumen_bot.services.ticket_desk``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from lumen_bot.domain.messages import Reply, ReplyKind
from lumen_bot.domain.speech import N_, Speech

if TYPE_CHECKING:  # an annotation only: the CLI's parser reads the enums below without pydantic
    from lumen_bot.domain.understanding import Topic


class TicketCategory(StrEnum):
    """What the shopper asked the team for: an out-of-scope topic, or a person."""

    REFUND = "refund"
    RETURN = "return"
    CANCEL = "cancel"
    ADDRESS_CHANGE = "address_change"
    DAMAGED = "damaged"
    MISSING_ITEM = "missing_item"
    PAYMENT = "payment"
    COMPLAINT = "complaint"
    OTHER = "other"
    HUMAN = "human"

    @classmethod
    def for_topic(cls, topic: Topic) -> TicketCategory:
        return cls(topic.value)


class TicketStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class DeliveryStatus(StrEnum):
    """Where an outgoing message (a reply through a provider API, a ticket for a sink) stands."""

    PENDING = "pending"
    """Sending, or waiting to be retried."""
    SENT = "sent"
    FAILED = "failed"
    """Given up after the last attempt."""
    DROPPED = "dropped"
    """Refused for good (the recipient opted out, the request is wrong): never retried."""


# No 0/O, 1/I/L: a shopper reads the reference out on the phone.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TRANSCRIPT_MESSAGES = 10
"""Shopper messages (with the bot's replies) a ticket keeps from the conversation."""
_TRANSCRIPT_TEXT = 1000
_ORDER_DETAILS_LEFT_OUT = "(order details shown to the verified shopper; left out here)"
_SUMMARIES = {
    TicketCategory.REFUND: N_("Refund request"),
    TicketCategory.RETURN: N_("Return request"),
    TicketCategory.CANCEL: N_("Cancellation request"),
    TicketCategory.ADDRESS_CHANGE: N_("Delivery address change"),
    TicketCategory.DAMAGED: N_("Damaged item"),
    TicketCategory.MISSING_ITEM: N_("Missing item"),
    TicketCategory.PAYMENT: N_("Payment problem"),
    TicketCategory.COMPLAINT: N_("Complaint"),
    TicketCategory.OTHER: N_("Request Lumen cannot handle"),
    TicketCategory.HUMAN: N_("Wants to talk to a person"),
}


def new_reference() -> str:
    """A short, human-readable, unguessable reference such as ``LUM-7K3P9Q``."""
    return "LUM-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def summary(say: Speech, category: TicketCategory, order_number: str | None) -> str:
    """One line for the team, in the shop's language: "Refund request — order #1042"."""
    head = say(_SUMMARIES[category])
    return say("{request} — order #{number}", request=head, number=order_number) if order_number else head


def render_transcript(messages: Sequence[tuple[str, datetime, Sequence[Reply]]]) -> str:
    """The conversation's recent messages as JSON, oldest first: the shopper's words and the bot's
    replies, except answers about orders — those stay with the verified shopper."""
    entries: list[dict[str, str]] = []
    for text, received_at, replies in messages:
        at = received_at.isoformat()
        entries.append({"from": "shopper", "at": at, "text": text[:_TRANSCRIPT_TEXT]})
        for reply in replies:
            said = _ORDER_DETAILS_LEFT_OUT if reply.kind is ReplyKind.ORDER_ANSWER else reply.text
            entries.append({"from": "lumen", "at": at, "text": said[:_TRANSCRIPT_TEXT]})
    return json.dumps(entries, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A ticket's handover to one sink, as the outbox tracks it."""

    sink: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    external_id: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Ticket:
    reference: str
    category: TicketCategory
    status: TicketStatus
    channel: str
    contact: str | None
    order_number: str | None
    summary: str
    transcript: tuple[dict[str, str], ...]
    requests: int
    created_at: datetime
    updated_at: datetime | None
    closed_at: datetime | None
    deliveries: tuple[Delivery, ...] = ()
    language: str | None = None
    """The language the shopper wrote in (ISO 639-1), so the team can answer in it."""

    def as_json(self) -> dict[str, Any]:
        """The ticket as sinks and the admin API show it (dates in ISO 8601)."""
        data = asdict(self)
        data["transcript"] = list(self.transcript)
        data["deliveries"] = [
            {**asdict(delivery), "sent_at": _iso(delivery.sent_at)} for delivery in self.deliveries
        ]
        for name in ("created_at", "updated_at", "closed_at"):
            data[name] = _iso(getattr(self, name))
        return data


def ticket_text(say: Speech, ticket: Ticket) -> str:
    """The ticket as plain text for the shop's team, in the shop's language: the facts, then the
    conversation (as it was said)."""
    contact = ticket.contact or say("none given: the shopper was asked to write to support")
    verified = f"#{ticket.order_number}" if ticket.order_number else say("none verified")
    first = f"{ticket.created_at:%Y-%m-%d %H:%M}"
    asked = say("{count} time(s), first at {moment} UTC", count=ticket.requests, moment=first)
    facts = [
        (say("Reference"), ticket.reference),
        (say("Request"), ticket.summary),
        (say("Channel"), ticket.channel),
        (say("Language"), ticket.language or say("unknown")),
        (say("Contact"), contact),
        (say("Verified order"), verified),
        (say("Asked"), asked),
    ]
    lines = [f"{name}: {value}" for name, value in facts]
    lines += ["", say("Conversation (most recent messages):")]
    shopper = say("Shopper")
    lines += [
        f"{shopper if entry['from'] == 'shopper' else 'Lumen'}: {entry['text']}"
        for entry in ticket.transcript
    ]
    return "\n".join(lines)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
