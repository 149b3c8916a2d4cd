"""Tickets: requests the shop's team follows up on."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from lumen_bot.store.tables import TicketRow

# No 0/O, 1/I/L: a shopper reads the reference out on the phone.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference() -> str:
    """A short, human-readable, unguessable reference such as ``LUM-7K3P9Q``."""
    return "LUM-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


@dataclass(frozen=True, slots=True)
class TicketView:
    reference: str
    category: str
    channel: str
    order_number: str | None
    status: str
    created_at: datetime
    summary: str


def list_tickets(engine: Engine, status: str | None = None) -> list[TicketView]:
    query = select(TicketRow.__table__).order_by(TicketRow.__table__.c.created_at.desc())  # type: ignore[attr-defined]
    if status is not None:
        query = query.where(TicketRow.__table__.c.status == status)  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        TicketView(r.reference, r.category, r.channel, r.order_number, r.status, r.created_at, r.summary)
        for r in rows
    ]
