"""Tickets in the database: listed, read with their deliveries, closed, and taken for dispatch.

Tickets are written with the conversation turn that asked for them (:mod:`lumen_bot.store.conversations`).
The functions here work on an engine directly, blocking (tests read tickets that way);
:class:`SqlTicketStore` runs them off the event loop for the server and the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, bindparam, select, update

from lumen_bot.domain.tickets import Delivery, DeliveryStatus, Ticket, TicketCategory, TicketStatus
from lumen_bot.ports import Outgoing, Requeued
from lumen_bot.store.database import Database
from lumen_bot.store.outbox import enqueue
from lumen_bot.store.tables import OutboundRow, TicketRow

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
    .where(_TICKET.c.reference == bindparam("b_reference"), _TICKET.c.status == TicketStatus.OPEN)
    .values(status=TicketStatus.CLOSED, closed_at=bindparam("now"), updated_at=bindparam("now"))
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
# A requeued delivery is due at once with no attempt counted, and its retry window (counted from
# created_at) starts again: it gets the same hours of retries as a new ticket.
_REQUEUE = (
    update(_OUTBOUND)
    .where(
        _OUTBOUND.c.ticket_reference.is_not(None),
        _OUTBOUND.c.status.in_((DeliveryStatus.FAILED, DeliveryStatus.DROPPED)),
    )
    .values(
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=bindparam("now"),
        created_at=bindparam("now"),
    )
    .returning(_OUTBOUND.c.id, _OUTBOUND.c.ticket_reference, _OUTBOUND.c.channel)
)


def list_tickets(
    engine: Engine,
    *,
    status: TicketStatus | None = None,
    category: TicketCategory | None = None,
    limit: int = 100,
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


def requeue_deliveries(engine: Engine, reference: str | None, now: datetime) -> list[Requeued] | None:
    """Put the deliveries the outbox gave up on back in it: the ticket ``reference``'s, or every
    ticket's; ``None`` when there is no ticket ``reference``."""
    statement = _REQUEUE
    with engine.begin() as connection:
        if reference is not None:
            found = connection.execute(_BY_REFERENCE, {"reference": reference.upper()}).first()
            if found is None:
                return None
            statement = statement.where(_OUTBOUND.c.ticket_reference == found.reference)
        rows = connection.execute(statement, {"now": now}).all()
    return [Requeued(row.id, row.ticket_reference, row.channel) for row in sorted(rows, key=lambda r: r.id)]


def close_ticket(engine: Engine, reference: str, now: datetime) -> Ticket | None:
    """Close an open ticket (closing a closed one changes nothing); ``None`` when there is no such ticket.
    The shopper's next request of that kind opens a new ticket."""
    with engine.begin() as connection:
        connection.execute(_CLOSE, {"b_reference": reference.upper(), "now": now})
    return get_ticket(engine, reference)


class SqlTicketStore:
    """Implements the ``TicketStore`` port."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine

    async def newest(
        self, *, status: TicketStatus | None = None, category: TicketCategory | None = None, limit: int = 100
    ) -> list[Ticket]:
        return await self._database.read(
            list_tickets, self._engine, status=status, category=category, limit=limit
        )

    async def get(self, reference: str) -> Ticket | None:
        return await self._database.read(get_ticket, self._engine, reference)

    async def close(self, reference: str, now: datetime) -> Ticket | None:
        return await self._database.write(close_ticket, self._engine, reference, now)

    async def requeue(self, reference: str | None, now: datetime) -> list[Requeued] | None:
        return await self._database.write(requeue_deliveries, self._engine, reference, now)

    async def undispatched(self, limit: int) -> list[int]:
        return await self._database.read(self._undispatched, limit)

    async def dispatch(
        self, ticket_id: int, now: datetime, render: Callable[[Ticket], Sequence[Outgoing]]
    ) -> list[int] | None:
        return await self._database.write(self._dispatch, ticket_id, now, render)

    def _undispatched(self, limit: int) -> list[int]:
        with self._engine.connect() as connection:
            return list(connection.execute(_UNDISPATCHED, {"limit": limit}).scalars())

    def _dispatch(
        self, ticket_id: int, now: datetime, render: Callable[[Ticket], Sequence[Outgoing]]
    ) -> list[int] | None:
        with self._engine.begin() as connection:
            row = connection.execute(_CLAIM, {"b_id": ticket_id, "now": now}).first()
            if row is None:
                return None
            return [enqueue(connection, message, now) for message in render(_ticket(row))]


def _ticket(row: Row[Any], deliveries: Sequence[Row[Any]] = ()) -> Ticket:
    return Ticket(
        reference=row.reference,
        category=TicketCategory(row.category),
        status=TicketStatus(row.status),
        channel=row.channel,
        contact=row.contact,
        order_number=row.order_number,
        summary=row.summary,
        transcript=tuple(json.loads(row.transcript)),
        requests=row.requests,
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        language=row.language,
        deliveries=tuple(
            Delivery(
                d.channel,
                DeliveryStatus(d.status),
                d.attempts,
                d.last_error,
                d.provider_message_id,
                d.sent_at,
            )
            for d in deliveries
        ),
    )
