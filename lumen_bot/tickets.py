"""Tickets: requests the shop's team follows up on, stored first and then delivered to every sink.

A ticket is written in the same transaction as the conversation turn that asked for it. The
:class:`TicketDesk` then hands each new ticket to the outbox once per configured sink (webhook, support
inbox, Zendesk …) in one transaction, so a crash or a sink outage never loses one: the outbox retries
with backoff, and each delivery's state is kept beside the ticket.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, bindparam, select, update

from lumen_bot.background import repeat
from lumen_bot.messages import Reply, ReplyKind
from lumen_bot.outbox import Outbox
from lumen_bot.ports import TicketSink
from lumen_bot.store.database import run_query
from lumen_bot.store.tables import OutboundRow, TicketRow

log = logging.getLogger(__name__)

# No 0/O, 1/I/L: a shopper reads the reference out on the phone.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TRANSCRIPT_MESSAGES = 10
"""Shopper messages (with the bot's replies) a ticket keeps from the conversation."""
_TRANSCRIPT_TEXT = 1000
_ORDER_DETAILS_LEFT_OUT = "(order details shown to the verified shopper; left out here)"
_SUMMARIES = {
    "refund": "Refund request",
    "return": "Return request",
    "cancel": "Cancellation request",
    "address_change": "Delivery address change",
    "damaged": "Damaged item",
    "missing_item": "Missing item",
    "payment": "Payment problem",
    "complaint": "Complaint",
    "other": "Request Lumen cannot handle",
    "human": "Wants to talk to a person",
}
STATUSES = ("open", "closed")
CATEGORIES = tuple(_SUMMARIES)

_TICKET = TicketRow.__table__  # type: ignore[attr-defined]
_OUTBOUND = OutboundRow.__table__  # type: ignore[attr-defined]
_UNDISPATCHED = (
    select(_TICKET.c.id)
    .where(_TICKET.c.dispatched_at.is_(None))
    .order_by(_TICKET.c.id)
    .limit(bindparam("limit"))
)
# Taking a ticket for dispatch is an atomic update, so two workers never hand it over twice.
_CLAIM = (
    update(_TICKET)
    .where(_TICKET.c.id == bindparam("b_id"), _TICKET.c.dispatched_at.is_(None))
    .values(dispatched_at=bindparam("now"))
    .returning(*_TICKET.c)
)
_BY_REFERENCE = select(_TICKET).where(_TICKET.c.reference == bindparam("reference"))
_CLOSE = (
    update(_TICKET)
    .where(_TICKET.c.reference == bindparam("b_reference"), _TICKET.c.status == "open")
    .values(status="closed", closed_at=bindparam("now"), updated_at=bindparam("now"))
)
_DELIVERIES = (
    select(
        _OUTBOUND.c.channel,
        _OUTBOUND.c.status,
        _OUTBOUND.c.attempts,
        _OUTBOUND.c.last_error,
        _OUTBOUND.c.provider_message_id,
        _OUTBOUND.c.sent_at,
    )
    .where(_OUTBOUND.c.ticket_reference == bindparam("reference"))
    .order_by(_OUTBOUND.c.id)
)


def new_reference() -> str:
    """A short, human-readable, unguessable reference such as ``LUM-7K3P9Q``."""
    return "LUM-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def summary(category: str, order_number: str | None) -> str:
    """One line for the team: "Refund request — order #1042"."""
    head = _SUMMARIES.get(category, _SUMMARIES["other"])
    return f"{head} — order #{order_number}" if order_number else head


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
    status: str
    """``pending`` (sending or waiting to retry), ``sent``, ``failed`` (gave up) or ``dropped``."""
    attempts: int
    last_error: str | None
    external_id: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Ticket:
    reference: str
    category: str
    status: str
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


def ticket_text(ticket: Ticket) -> str:
    """The ticket as plain text for people: the facts, then the conversation."""
    facts = [
        ("Reference", ticket.reference),
        ("Request", ticket.summary),
        ("Channel", ticket.channel),
        ("Contact", ticket.contact or "none given: the shopper was asked to write to support"),
        ("Verified order", f"#{ticket.order_number}" if ticket.order_number else "none verified"),
        ("Asked", f"{ticket.requests} time(s), first at {ticket.created_at:%Y-%m-%d %H:%M} UTC"),
    ]
    lines = [f"{name}: {value}" for name, value in facts]
    lines += ["", "Conversation (most recent messages):"]
    lines += [
        f"{'Shopper' if entry['from'] == 'shopper' else 'Lumen'}: {entry['text']}"
        for entry in ticket.transcript
    ]
    return "\n".join(lines)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _ticket(row: Row[Any], deliveries: Sequence[Row[Any]] = ()) -> Ticket:
    return Ticket(
        reference=row.reference,
        category=row.category,
        status=row.status,
        channel=row.channel,
        contact=row.contact,
        order_number=row.order_number,
        summary=row.summary,
        transcript=tuple(json.loads(row.transcript)),
        requests=row.requests,
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        deliveries=tuple(
            Delivery(d.channel, d.status, d.attempts, d.last_error, d.provider_message_id, d.sent_at)
            for d in deliveries
        ),
    )


def list_tickets(
    engine: Engine, *, status: str | None = None, category: str | None = None, limit: int = 100
) -> list[Ticket]:
    """Tickets, newest first (without their deliveries)."""
    query = select(_TICKET).order_by(_TICKET.c.created_at.desc(), _TICKET.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(_TICKET.c.status == status)
    if category is not None:
        query = query.where(_TICKET.c.category == category)
    with engine.connect() as connection:
        return [_ticket(row) for row in connection.execute(query)]


def get_ticket(engine: Engine, reference: str) -> Ticket | None:
    """One ticket with the state of its deliveries."""
    with engine.connect() as connection:
        row = connection.execute(_BY_REFERENCE, {"reference": reference.upper()}).first()
        if row is None:
            return None
        deliveries = connection.execute(_DELIVERIES, {"reference": row.reference}).all()
    return _ticket(row, deliveries)


def close_ticket(engine: Engine, reference: str, now: datetime) -> Ticket | None:
    """Close an open ticket (closing a closed one changes nothing); ``None`` when there is no such ticket.
    The shopper's next request of that kind opens a new ticket."""
    with engine.begin() as connection:
        connection.execute(_CLOSE, {"b_reference": reference.upper(), "now": now})
    return get_ticket(engine, reference)


class TicketDesk:
    """Hands new tickets to the outbox, once per sink; the outbox delivers and retries."""

    def __init__(
        self,
        engine: Engine,
        outbox: Outbox,
        sinks: Sequence[TicketSink],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._sinks = tuple(sinks)
        self._clock = clock

    @property
    def sinks(self) -> tuple[str, ...]:
        return tuple(sink.name for sink in self._sinks)

    async def dispatch_pending(self, limit: int = 100) -> int:
        """Hand every undispatched ticket to the outbox and try its deliveries at once; how many."""
        pending = await run_query(self._engine, self._undispatched, limit)
        dispatched = 0
        for ticket_id in pending:
            message_ids = await run_query(self._engine, self._dispatch, ticket_id)
            if message_ids is None:
                continue  # another worker took it
            dispatched += 1
            await self._outbox.deliver(message_ids)
        return dispatched

    async def run(self, interval: float = 1.0) -> None:
        """The dispatch loop: runs until cancelled."""
        await repeat(self.dispatch_pending, every=interval, name="ticket dispatch")

    def _undispatched(self, limit: int) -> list[int]:
        with self._engine.connect() as connection:
            return list(connection.execute(_UNDISPATCHED, {"limit": limit}).scalars())

    def _dispatch(self, ticket_id: int) -> list[int] | None:
        with self._engine.begin() as connection:
            row = connection.execute(_CLAIM, {"b_id": ticket_id, "now": self._clock()}).first()
            if row is None:
                return None
            ticket = _ticket(row)
            ids = []
            for sink in self._sinks:
                outgoing = sink.render(ticket)
                ids.append(
                    self._outbox.enqueue(
                        connection,
                        sink.via,
                        outgoing.sender,
                        outgoing.recipient,
                        outgoing.body,
                        ticket_reference=ticket.reference,
                    )
                )
        log.info("ticket dispatched", extra={"reference": ticket.reference, "sinks": list(self.sinks)})
        return ids
