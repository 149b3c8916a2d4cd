"""The outbox's table: outgoing messages waiting for a provider, claimed atomically for each attempt."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update

from lumen_bot.domain.tickets import DeliveryStatus
from lumen_bot.ports import Claimed, Outgoing
from lumen_bot.store.database import Database
from lumen_bot.store.tables import OutboundRow

_OUTBOUND = OutboundRow.__table__  # type: ignore[attr-defined]
_DUE = (
    select(_OUTBOUND.c.id)
    .where(_OUTBOUND.c.status == DeliveryStatus.PENDING, _OUTBOUND.c.next_attempt_at <= bindparam("now"))
    .order_by(_OUTBOUND.c.id)
    .limit(bindparam("limit"))
)
# Taking a message pushes its next attempt past the time a send can take, so no other worker takes it.
_CLAIM = (
    update(_OUTBOUND)
    .where(
        _OUTBOUND.c.id == bindparam("b_id"),
        _OUTBOUND.c.status == DeliveryStatus.PENDING,
        _OUTBOUND.c.next_attempt_at <= bindparam("now"),
    )
    .values(next_attempt_at=bindparam("lease_until"))
    .returning(
        _OUTBOUND.c.id,
        _OUTBOUND.c.channel,
        _OUTBOUND.c.sender,
        _OUTBOUND.c.recipient,
        _OUTBOUND.c.body,
        _OUTBOUND.c.attempts,
        _OUTBOUND.c.created_at,
        _OUTBOUND.c.ticket_reference,
    )
)
_RECENT = select(func.count()).where(
    _OUTBOUND.c.channel == bindparam("via"),
    _OUTBOUND.c.recipient == bindparam("recipient"),
    _OUTBOUND.c.created_at >= bindparam("since"),
)
_STORE = insert(_OUTBOUND).returning(_OUTBOUND.c.id)
_SETTLE = update(_OUTBOUND).where(_OUTBOUND.c.id == bindparam("b_id"))


def enqueue(
    connection: Connection, message: Outgoing, now: datetime, *, not_before: datetime | None = None
) -> int:
    """Store one message in the caller's transaction, so it is stored if and only if the caller's work
    is; its id, to deliver once that transaction is committed. ``not_before`` holds it until then (an
    SMS update in quiet hours)."""
    row = {
        "channel": message.via,
        "sender": message.sender,
        "recipient": message.recipient,
        "body": message.body,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": max(now, not_before) if not_before is not None else now,
        "created_at": now,
        "ticket_reference": message.ticket_reference,
    }
    return int(connection.execute(_STORE, row).scalar_one())


class SqlOutboxStore:
    """Implements the ``OutboxStore`` port."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine

    async def store(self, messages: Sequence[Outgoing], now: datetime) -> list[int]:
        return await self._database.write(self._store, tuple(messages), now)

    async def due(self, now: datetime, limit: int) -> list[int]:
        return await self._database.read(self._due, now, limit)

    async def claim(self, message_id: int, now: datetime, lease_until: datetime) -> Claimed | None:
        return await self._database.write(self._claim, message_id, now, lease_until)

    async def sent(
        self, message_id: int, attempts: int, provider_message_id: str | None, now: datetime
    ) -> None:
        values = {
            "status": DeliveryStatus.SENT,
            "attempts": attempts,
            "provider_message_id": provider_message_id,
            "sent_at": now,
        }
        await self._database.write(self._settle, message_id, values)

    async def retry_at(self, message_id: int, attempts: int, error: str, at: datetime) -> None:
        values = {"attempts": attempts, "last_error": error, "next_attempt_at": at}
        await self._database.write(self._settle, message_id, values)

    async def give_up(self, message_id: int, status: DeliveryStatus, attempts: int, error: str) -> None:
        values = {"status": status, "attempts": attempts, "last_error": error}
        await self._database.write(self._settle, message_id, values)

    async def sent_since(self, via: str, recipient: str, since: datetime) -> int:
        return await self._database.read(self._count_recent, via, recipient, since)

    def _store(self, messages: tuple[Outgoing, ...], now: datetime) -> list[int]:
        with self._engine.begin() as connection:
            return [enqueue(connection, message, now) for message in messages]

    def _due(self, now: datetime, limit: int) -> list[int]:
        with self._engine.connect() as connection:
            return list(connection.execute(_DUE, {"now": now, "limit": limit}).scalars())

    def _claim(self, message_id: int, now: datetime, lease_until: datetime) -> Claimed | None:
        with self._engine.begin() as connection:
            params = {"b_id": message_id, "now": now, "lease_until": lease_until}
            row = connection.execute(_CLAIM, params).first()
        if row is None:
            return None
        return Claimed(
            row.id,
            row.channel,
            row.sender,
            row.recipient,
            row.body,
            row.attempts,
            # SQLite keeps no time zone; every time Lumen stores is UTC.
            row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC),
            row.ticket_reference,
        )

    def _settle(self, message_id: int, values: dict[str, object]) -> None:
        with self._engine.begin() as connection:
            connection.execute(_SETTLE.values(**values), {"b_id": message_id})

    def _count_recent(self, via: str, recipient: str, since: datetime) -> int:
        with self._engine.connect() as connection:
            params = {"via": via, "recipient": recipient, "since": since}
            return int(connection.execute(_RECENT, params).scalar_one())
