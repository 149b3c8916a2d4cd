"""The inbox table: inbound provider messages stored before they are acknowledged, leased to the worker
answering them, and settled together with their replies' place in the outbox."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from lumen_bot.domain.messages import InboundMessage
from lumen_bot.ports import Accepted, Lease, Outgoing, ReplyRoute
from lumen_bot.store.database import Database
from lumen_bot.store.outbox import enqueue
from lumen_bot.store.prepared import Prepared
from lumen_bot.store.tables import InboxRow

_INBOX = InboxRow.__table__  # type: ignore[attr-defined]
PENDING = "pending"
ANSWERED = "answered"
FAILED = "failed"
SKIPPED = "skipped"
_REASON_LENGTH = 200

_FIELDS = (
    _INBOX.c.id,
    _INBOX.c.message,
    _INBOX.c.reply_via,
    _INBOX.c.reply_sender,
    _INBOX.c.reply_recipient,
    _INBOX.c.reply_form,
    _INBOX.c.attempts,
)
_EXISTS = Prepared(
    select(_INBOX.c.id).where(
        _INBOX.c.channel == bindparam("channel"), _INBOX.c.provider_message_id == bindparam("pid")
    )
)
_DUE = (
    select(_INBOX.c.id)
    .where(_INBOX.c.status == PENDING, _INBOX.c.lease_until <= bindparam("now"))
    .order_by(_INBOX.c.id)
    .limit(bindparam("limit"))
)
# Taking a message over moves its lease on and gives it a new token, so the worker that held it before
# can no longer settle it.
_TAKE = (
    update(_INBOX)
    .where(
        _INBOX.c.id == bindparam("b_id"),
        _INBOX.c.status == PENDING,
        _INBOX.c.lease_until <= bindparam("now"),
    )
    .values(
        lease_token=bindparam("token"),
        lease_until=bindparam("lease_until"),
        attempts=_INBOX.c.attempts + 1,
    )
    .returning(*_FIELDS)
)
# Statements are built once: SQLAlchemy then reuses their compiled form (see store/conversations.py).
_SETTLE = Prepared(
    update(_INBOX)
    .where(
        _INBOX.c.id == bindparam("b_id"),
        _INBOX.c.status == PENDING,
        _INBOX.c.lease_token == bindparam("b_token"),
    )
    .values(status=bindparam("status"), answered_at=bindparam("answered_at"))
)
_STORE = insert(_INBOX).returning(_INBOX.c.id)


class SqlInbox:
    """Implements the ``Inbox`` port."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine

    async def accept(
        self, messages: Sequence[Accepted], now: datetime, lease_until: datetime
    ) -> list[Lease | None]:
        return await self._database.record(self._accept, tuple(messages), now, lease_until)

    async def due(self, now: datetime, limit: int) -> list[int]:
        return await self._database.read(self._due, now, limit)

    async def take(self, entry_id: int, now: datetime, lease_until: datetime) -> Lease | None:
        return await self._database.write(self._take, entry_id, now, lease_until)

    async def settle(self, lease: Lease, replies: Sequence[Outgoing], now: datetime) -> list[int] | None:
        return await self._database.record(self._settle, lease, tuple(replies), now)

    async def give_up(self, lease: Lease, now: datetime) -> None:
        await self._database.write(self._give_up, lease, now)

    async def keep_unanswered(self, accepted: Accepted, reason: str, now: datetime) -> bool:
        return await self._database.write(self._keep_unanswered, accepted, reason, now)

    def _accept(
        self, messages: tuple[Accepted, ...], now: datetime, lease_until: datetime
    ) -> list[Lease | None]:
        with self._engine.begin() as connection:
            return [self._accept_one(connection, accepted, now, lease_until) for accepted in messages]

    def _accept_one(
        self, connection: Connection, accepted: Accepted, now: datetime, lease_until: datetime
    ) -> Lease | None:
        token = secrets.token_hex(16)
        entry_id = _insert(
            connection,
            accepted,
            {"status": PENDING, "lease_token": token, "lease_until": lease_until, "attempts": 1},
            now,
        )
        return None if entry_id is None else Lease(entry_id, token, accepted, attempts=0)

    def _keep_unanswered(self, accepted: Accepted, reason: str, now: datetime) -> bool:
        # Never leased: the lease fields only say it was never taken.
        state = {
            "status": SKIPPED,
            "skip_reason": reason[:_REASON_LENGTH],
            "lease_token": "",
            "lease_until": now,
            "attempts": 0,
            "answered_at": now,
        }
        with self._engine.begin() as connection:
            return _insert(connection, accepted, state, now) is not None

    def _due(self, now: datetime, limit: int) -> list[int]:
        with self._engine.connect() as connection:
            return list(connection.execute(_DUE, {"now": now, "limit": limit}).scalars())

    def _take(self, entry_id: int, now: datetime, lease_until: datetime) -> Lease | None:
        token = secrets.token_hex(16)
        with self._engine.begin() as connection:
            params = {"b_id": entry_id, "now": now, "lease_until": lease_until, "token": token}
            row = connection.execute(_TAKE, params).first()
        if row is None:
            return None
        route = ReplyRoute(row.reply_via, row.reply_sender, row.reply_recipient, row.reply_form)
        return Lease(row.id, token, Accepted(_load(row.message), route), attempts=row.attempts - 1)

    def _settle(self, lease: Lease, replies: tuple[Outgoing, ...], now: datetime) -> list[int] | None:
        with self._engine.begin() as connection:
            settle = {"b_id": lease.id, "b_token": lease.token, "status": ANSWERED, "answered_at": now}
            settled = _SETTLE.run(connection, settle)
            if settled.rowcount != 1:
                return None
            return [enqueue(connection, reply, now) for reply in replies]

    def _give_up(self, lease: Lease, now: datetime) -> None:
        with self._engine.begin() as connection:
            settle = {"b_id": lease.id, "b_token": lease.token, "status": FAILED, "answered_at": now}
            _SETTLE.run(connection, settle)


def _insert(connection: Connection, accepted: Accepted, state: dict[str, Any], now: datetime) -> int | None:
    """The new row's id; ``None`` when the message was stored before (a redelivery)."""
    message = accepted.message
    # A message without a provider id cannot be told from a redelivery: it gets an id of its own.
    pid = message.provider_message_id or f"lumen:{secrets.token_hex(16)}"
    if _EXISTS.run(connection, {"channel": message.channel, "pid": pid}).fetchone() is not None:
        return None
    row = {
        "channel": message.channel,
        "provider_message_id": pid,
        "message": _dump(message),
        "reply_via": accepted.route.via,
        "reply_sender": accepted.route.sender,
        "reply_recipient": accepted.route.recipient,
        "reply_form": accepted.route.form,
        "created_at": now,
        **state,
    }
    try:
        # A savepoint, so that losing the race to another worker keeps the rest of the delivery.
        with connection.begin_nested():
            return connection.execute(_STORE, row).scalar_one()
    except IntegrityError:
        return None  # another worker stored the same delivery a moment ago


def _dump(message: InboundMessage) -> str:
    fields: dict[str, Any] = dataclasses.asdict(message)
    fields["received_at"] = message.received_at.isoformat()
    return json.dumps(fields)


def _load(stored: str) -> InboundMessage:
    fields = json.loads(stored)
    fields["received_at"] = datetime.fromisoformat(fields["received_at"])
    return InboundMessage(**fields)
