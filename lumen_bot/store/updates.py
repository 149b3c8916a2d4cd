"""Subscriptions to shipping updates and the milestones told to each, in the database.

A milestone is recorded with its update's outbox message in one transaction, and the notices' unique
key (subscription, shipment, event) makes a second recording fail: of two workers that found the same
news at once, the one that commits second writes nothing, so the update is stored — and sent — once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from lumen_bot.domain.tickets import DeliveryStatus
from lumen_bot.ports import (
    ConversationContact,
    NewNotice,
    Notice,
    NoticeStatus,
    Subscription,
    SubscriptionReport,
    SubscriptionStatus,
)
from lumen_bot.store.database import Database
from lumen_bot.store.outbox import enqueue
from lumen_bot.store.tables import MessageRow, OutboundRow, UpdateNoticeRow, UpdateSubscriptionRow

_SUBSCRIPTION = UpdateSubscriptionRow.__table__  # type: ignore[attr-defined]
_NOTICE = UpdateNoticeRow.__table__  # type: ignore[attr-defined]
_MESSAGE = MessageRow.__table__  # type: ignore[attr-defined]
_OUTBOUND = OutboundRow.__table__  # type: ignore[attr-defined]

_ACTIVE = select(_SUBSCRIPTION).where(_SUBSCRIPTION.c.status == SubscriptionStatus.ACTIVE)
_RECORDED = select(_NOTICE.c.shipment_key, _NOTICE.c.event).where(
    _NOTICE.c.subscription_id == bindparam("subscription_id")
)
# Takes the subscription's row (a lock on PostgreSQL) while it is active: recording waits for a stop that
# is being committed, and records nothing after it.
_HOLD_ACTIVE = (
    update(_SUBSCRIPTION)
    .where(_SUBSCRIPTION.c.id == bindparam("b_id"), _SUBSCRIPTION.c.status == SubscriptionStatus.ACTIVE)
    .values(status=SubscriptionStatus.ACTIVE)
)
_END = (
    update(_SUBSCRIPTION)
    .where(_SUBSCRIPTION.c.id == bindparam("b_id"), _SUBSCRIPTION.c.status == SubscriptionStatus.ACTIVE)
    .values(status=bindparam("status"), ended_at=bindparam("ended_at"))
)
_BY_TOKEN = select(_SUBSCRIPTION.c.id).where(_SUBSCRIPTION.c.unsubscribe_token == bindparam("token"))
_LAST_INBOUND = select(func.max(_MESSAGE.c.received_at)).where(
    _MESSAGE.c.conversation_id == bindparam("conversation_id")
)
_LAST_EMAIL = (
    select(_MESSAGE.c.raw)
    .where(_MESSAGE.c.conversation_id == bindparam("conversation_id"), _MESSAGE.c.channel == "email")
    .order_by(_MESSAGE.c.id.desc())
    .limit(1)
)
_NOTICES_OF = (
    select(_NOTICE, _OUTBOUND.c.status.label("delivery"))
    .select_from(_NOTICE.outerjoin(_OUTBOUND, _NOTICE.c.outbound_id == _OUTBOUND.c.id))
    .where(_NOTICE.c.subscription_id.in_(bindparam("ids", expanding=True)))
    .order_by(_NOTICE.c.id)
)


class SqlUpdateStore:
    """Implements the ``UpdateStore`` port."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine

    async def active(self, order_numbers: Sequence[str] | None = None) -> list[Subscription]:
        numbers = None if order_numbers is None else tuple(dict.fromkeys(order_numbers))
        return await self._database.read(self._active, numbers)

    async def recorded(self, subscription_id: int) -> set[tuple[str, str]]:
        return await self._database.read(self._recorded, subscription_id)

    async def record(
        self, subscription_id: int, notices: Sequence[NewNotice], now: datetime
    ) -> list[int] | None:
        return await self._database.write(self._record, subscription_id, tuple(notices), now)

    async def end(self, subscription_id: int, status: SubscriptionStatus, now: datetime) -> None:
        await self._database.write(self._end, subscription_id, status, now)

    async def stop_by_token(self, token: str, now: datetime) -> bool:
        return await self._database.write(self._stop_by_token, token, now)

    async def contact(self, conversation_id: int) -> ConversationContact:
        return await self._database.read(self._contact, conversation_id)

    async def reports(self, order_number: str | None = None, limit: int = 100) -> list[SubscriptionReport]:
        return await self._database.read(self._reports, order_number, limit)

    def _active(self, numbers: tuple[str, ...] | None) -> list[Subscription]:
        query = _ACTIVE.order_by(_SUBSCRIPTION.c.id)
        if numbers is not None:
            if not numbers:
                return []
            query = query.where(_SUBSCRIPTION.c.order_number.in_(numbers))
        with self._engine.connect() as connection:
            return [_subscription(row) for row in connection.execute(query).mappings()]

    def _recorded(self, subscription_id: int) -> set[tuple[str, str]]:
        with self._engine.connect() as connection:
            rows = connection.execute(_RECORDED, {"subscription_id": subscription_id})
            return {(row.shipment_key, row.event) for row in rows}

    def _record(
        self, subscription_id: int, notices: tuple[NewNotice, ...], now: datetime
    ) -> list[int] | None:
        try:
            with self._engine.begin() as connection:
                if connection.execute(_HOLD_ACTIVE, {"b_id": subscription_id}).rowcount != 1:
                    return None
                return _insert_notices(connection, subscription_id, notices, now)
        except IntegrityError:
            return None  # another worker recorded one of them first; its transaction sends them

    def _end(self, subscription_id: int, status: SubscriptionStatus, now: datetime) -> None:
        with self._engine.begin() as connection:
            connection.execute(_END, {"b_id": subscription_id, "status": status, "ended_at": now})

    def _stop_by_token(self, token: str, now: datetime) -> bool:
        with self._engine.begin() as connection:
            found = connection.execute(_BY_TOKEN, {"token": token}).scalar_one_or_none()
            if found is None:
                return False
            params = {"b_id": found, "status": SubscriptionStatus.STOPPED, "ended_at": now}
            connection.execute(_END, params)
            return True

    def _contact(self, conversation_id: int) -> ConversationContact:
        params = {"conversation_id": conversation_id}
        with self._engine.connect() as connection:
            last = connection.execute(_LAST_INBOUND, params).scalar_one_or_none()
            raw = connection.execute(_LAST_EMAIL, params).scalar_one_or_none()
        message_id = None
        if raw:
            details = json.loads(raw)
            if isinstance(details, dict) and isinstance(details.get("message_id"), str):
                message_id = details["message_id"] or None
        return ConversationContact(_utc(last) if last is not None else None, message_id)

    def _reports(self, order_number: str | None, limit: int) -> list[SubscriptionReport]:
        query = select(_SUBSCRIPTION).order_by(_SUBSCRIPTION.c.id.desc()).limit(limit)
        if order_number is not None:
            query = query.where(_SUBSCRIPTION.c.order_number == order_number)
        with self._engine.connect() as connection:
            subscriptions = [_subscription(row) for row in connection.execute(query).mappings()]
            ids = [subscription.id for subscription in subscriptions]
            notices: dict[int, list[Notice]] = {sid: [] for sid in ids}
            if ids:
                for row in connection.execute(_NOTICES_OF, {"ids": ids}).mappings():
                    notices[row["subscription_id"]].append(_notice(row))
        return [SubscriptionReport(s, tuple(notices[s.id])) for s in subscriptions]


def _insert_notices(
    connection: Connection, subscription_id: int, notices: tuple[NewNotice, ...], now: datetime
) -> list[int]:
    stored: list[int] = []
    for notice in notices:
        outbound_id = None
        if notice.message is not None:
            outbound_id = enqueue(connection, notice.message, now, not_before=notice.not_before)
            stored.append(outbound_id)
        connection.execute(
            _NOTICE.insert(),
            {
                "subscription_id": subscription_id,
                "shipment_key": notice.shipment_key,
                "event": notice.event,
                "status": notice.status,
                "detail": notice.detail[:200] if notice.detail else None,
                "outbound_id": outbound_id,
                "created_at": now,
            },
        )
    return stored


def _utc(moment: datetime) -> datetime:
    # SQLite keeps no time zone; every time Lumen stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row["id"],
        conversation_id=row["conversation_id"],
        order_number=row["order_number"],
        channel=row["channel"],
        address=row["address"],
        shop_address=row["shop_address"],
        language=row["language"],
        status=SubscriptionStatus(row["status"]),
        unsubscribe_token=row["unsubscribe_token"],
        created_at=_utc(row["created_at"]),
        ends_at=_utc(row["ends_at"]),
        ended_at=_utc(row["ended_at"]) if row["ended_at"] is not None else None,
    )


def _notice(row: Any) -> Notice:
    return Notice(
        shipment_key=row["shipment_key"],
        event=row["event"],
        status=NoticeStatus(row["status"]),
        detail=row["detail"],
        created_at=_utc(row["created_at"]),
        delivery=DeliveryStatus(row["delivery"]) if row["delivery"] is not None else None,
    )
