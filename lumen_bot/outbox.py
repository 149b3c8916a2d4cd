"""Outgoing messages through provider APIs: stored first, then sent, retried with backoff until sent.

A provider outage therefore loses nothing: the message waits in the database, and any worker's
delivery loop picks it up when it is due. Claiming a message is an atomic update, so two workers
never send the same one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, func, insert, select, update

from lumen_bot.background import repeat
from lumen_bot.ports import ReplySender, SendFailed
from lumen_bot.store.database import run_query
from lumen_bot.store.tables import OutboundRow

log = logging.getLogger(__name__)

_OUTBOUND = OutboundRow.__table__  # type: ignore[attr-defined]
_DUE = (
    select(_OUTBOUND.c.id)
    .where(_OUTBOUND.c.status == "pending", _OUTBOUND.c.next_attempt_at <= bindparam("now"))
    .order_by(_OUTBOUND.c.id)
    .limit(bindparam("limit"))
)
# Taking a message pushes its next attempt past the time a send can take, so no other worker takes it.
_CLAIM = (
    update(_OUTBOUND)
    .where(
        _OUTBOUND.c.id == bindparam("b_id"),
        _OUTBOUND.c.status == "pending",
        _OUTBOUND.c.next_attempt_at <= bindparam("now"),
    )
    .values(next_attempt_at=bindparam("lease_until"))
    .returning(
        _OUTBOUND.c.channel,
        _OUTBOUND.c.sender,
        _OUTBOUND.c.recipient,
        _OUTBOUND.c.body,
        _OUTBOUND.c.attempts,
    )
)
_RECENT = select(func.count()).where(
    _OUTBOUND.c.channel == bindparam("via"),
    _OUTBOUND.c.recipient == bindparam("recipient"),
    _OUTBOUND.c.created_at >= bindparam("since"),
)
_STORE = insert(_OUTBOUND).returning(_OUTBOUND.c.id)
_SETTLE = update(_OUTBOUND).where(_OUTBOUND.c.id == bindparam("b_id"))
_LEASE = timedelta(minutes=2)
_FIRST_RETRY_SECONDS = 2.0
_LONGEST_WAIT_SECONDS = 15 * 60.0


class Outbox:
    def __init__(
        self,
        engine: Engine,
        senders: Mapping[str, ReplySender],
        # keyed by the provider API a message goes out through ("twilio", "whatsapp_cloud")
        *,
        max_attempts: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._senders = senders
        self._max_attempts = max_attempts
        self._clock = clock

    async def send(self, via: str, sender: str, recipient: str, texts: Sequence[str]) -> None:
        """Store the messages, then try to deliver them at once; what fails stays for the retry loop.

        ``via`` names the provider API (a key of ``senders``); ``sender`` is the shop's address on it.
        """
        ids = await run_query(self._engine, self._store, via, sender, recipient, tuple(texts))
        await self.deliver(ids)

    def enqueue(
        self,
        connection: Connection,
        via: str,
        sender: str,
        recipient: str,
        body: str,
        *,
        ticket_reference: str | None = None,
    ) -> int:
        """Store one message in the caller's transaction, so it is stored if and only if the caller's
        work is; the id to :meth:`deliver` once that transaction is committed."""
        now = self._clock()
        row = {
            "channel": via,
            "sender": sender,
            "recipient": recipient,
            "body": body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "ticket_reference": ticket_reference,
        }
        return int(connection.execute(_STORE, row).scalar_one())

    async def deliver(self, message_ids: Sequence[int]) -> None:
        """Try stored messages now; what fails stays for the retry loop."""
        for message_id in message_ids:
            await self._deliver(message_id)

    async def sent_since(self, via: str, recipient: str, since: datetime) -> int:
        """How many messages went (or are going) to ``recipient`` through ``via`` since ``since``."""
        return await run_query(self._engine, self._count_recent, via, recipient, since)

    async def deliver_due(self, limit: int = 100) -> int:
        """Deliver every message whose time has come; the number delivered or settled."""
        due = await run_query(self._engine, self._due, limit)
        settled = 0
        for message_id in due:
            settled += await self._deliver(message_id)
        return settled

    async def run(self, interval: float = 1.0) -> None:
        """The retry loop: runs until cancelled."""
        await repeat(self.deliver_due, every=interval, name="outbox delivery")

    async def _deliver(self, message_id: int) -> int:
        claimed = await run_query(self._engine, self._claim, message_id)
        if claimed is None:
            return 0
        sender = self._senders.get(claimed.channel)
        attempts = claimed.attempts + 1
        try:
            if sender is None:
                raise SendFailed(f"no sender configured for {claimed.channel}")
            provider_id = await sender.send(claimed.sender, claimed.recipient, claimed.body)
        except SendFailed as failure:
            await run_query(self._engine, self._failed, message_id, attempts, failure)
            return 1
        values = {"status": "sent", "attempts": attempts, "provider_message_id": provider_id}
        await run_query(self._engine, self._settle, message_id, {**values, "sent_at": self._clock()})
        return 1

    def _store(self, via: str, sender: str, recipient: str, texts: tuple[str, ...]) -> list[int]:
        with self._engine.begin() as connection:
            return [self.enqueue(connection, via, sender, recipient, text) for text in texts]

    def _count_recent(self, via: str, recipient: str, since: datetime) -> int:
        with self._engine.connect() as connection:
            params = {"via": via, "recipient": recipient, "since": since}
            return int(connection.execute(_RECENT, params).scalar_one())

    def _due(self, limit: int) -> list[int]:
        with self._engine.connect() as connection:
            return list(connection.execute(_DUE, {"now": self._clock(), "limit": limit}).scalars())

    def _claim(self, message_id: int) -> Row[Any] | None:
        now = self._clock()
        with self._engine.begin() as connection:
            params = {"b_id": message_id, "now": now, "lease_until": now + _LEASE}
            return connection.execute(_CLAIM, params).first()

    def _failed(self, message_id: int, attempts: int, failure: SendFailed) -> None:
        reason = str(failure)[:500]
        if failure.permanent or attempts >= self._max_attempts:
            status = "dropped" if failure.permanent else "failed"
            log.warning("outgoing message given up", extra={"status": status, "attempts": attempts})
            self._settle(message_id, {"status": status, "attempts": attempts, "last_error": reason})
            return
        wait = failure.retry_after or min(_LONGEST_WAIT_SECONDS, _FIRST_RETRY_SECONDS * 2 ** (attempts - 1))
        wait += random.uniform(0, wait / 4)  # spread retries so a recovering provider isn't hit at once
        log.info("outgoing message will be retried", extra={"attempts": attempts, "in_seconds": round(wait)})
        next_attempt = self._clock() + timedelta(seconds=wait)
        self._settle(
            message_id, {"attempts": attempts, "last_error": reason, "next_attempt_at": next_attempt}
        )

    def _settle(self, message_id: int, values: dict[str, object]) -> None:
        with self._engine.begin() as connection:
            connection.execute(_SETTLE.values(**values), {"b_id": message_id})
