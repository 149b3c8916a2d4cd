"""The dashboard's counts over a period, in SQL: one query layer for ``/admin`` and ``GET /api/stats``.

Every figure is a ``GROUP BY`` over rows the conversation already stores (the message log's turn figures,
tickets, the outbox, update notices), bounded by the period on an indexed time column. On PostgreSQL the
message log's index carries every column these queries read, so the counts are index-only scans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, Row, and_, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from lumen_bot.domain.messages import ReplyKind
from lumen_bot.domain.stats import ChannelDay, Overview, Prices, ReplyTimes, Window
from lumen_bot.store.database import Database
from lumen_bot.store.tables import MessageRow, OutboundRow, TicketRow, UpdateNoticeRow

_MESSAGE = MessageRow.__table__  # type: ignore[attr-defined]
_TICKET = TicketRow.__table__  # type: ignore[attr-defined]
_OUTBOUND = OutboundRow.__table__  # type: ignore[attr-defined]
_NOTICE = UpdateNoticeRow.__table__  # type: ignore[attr-defined]


def _within(column: ColumnElement[object], window: Window) -> ColumnElement[bool]:
    return and_(column >= window.since, column < window.until)


def _day_index(column: ColumnElement[object], window: Window) -> ColumnElement[int]:
    """The index of the local day ``column`` falls on, from the day boundaries: portable SQL (SQLite has
    no time zones) and right on the days a clock changes."""
    if len(window.starts) == 1:
        return literal(0)
    return case(
        *((column < start, index) for index, start in enumerate(window.starts[1:])),
        else_=len(window.starts) - 1,
    )


class SqlStats:
    """Implements the ``DashboardStats`` port."""

    def __init__(self, database: Database, prices: Prices) -> None:
        self._database = database
        self._prices = prices

    async def overview(self, window: Window) -> Overview:
        return await self._database.read(self._overview, window)

    def _overview(self, window: Window) -> Overview:
        with self._database.engine.connect() as connection:
            activity = _activity(connection, window)
            conversations, answered, automated = _automation(connection, window)
            verifications, understanders, tokens_in, tokens_out = _turns(connection, window)
            by_category, by_status = _tickets(connection, window)
            return Overview(
                window=window,
                activity=activity,
                conversations=conversations,
                messages=sum(row.messages for row in activity),
                answered_conversations=answered,
                automated_conversations=automated,
                verifications=verifications,
                tickets_by_category=by_category,
                tickets_by_status=by_status,
                deliveries=_deliveries(connection, window),
                understanders=understanders,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                reply_times=_reply_times(connection, window),
                updates=_updates(connection, window),
                prices=self._prices,
            )


def _activity(connection: Connection, window: Window) -> tuple[ChannelDay, ...]:
    day = _day_index(_MESSAGE.c.received_at, window).label("day")
    rows = connection.execute(
        select(day, _MESSAGE.c.channel, func.count(func.distinct(_MESSAGE.c.conversation_id)), func.count())
        .where(_within(_MESSAGE.c.received_at, window))
        .group_by(day, _MESSAGE.c.channel)
    )
    return tuple(
        ChannelDay(window.days[index], channel, conversations, messages)
        for index, channel, conversations, messages in rows
    )


def _automation(connection: Connection, window: Window) -> tuple[int, int, int]:
    """Conversations with a message in the period; those that got an order answer; and of those, the ones
    that opened no ticket in the period."""
    per_conversation = (
        select(
            _MESSAGE.c.conversation_id,
            func.max(case((_MESSAGE.c.outcome == ReplyKind.ORDER_ANSWER.value, 1), else_=0)).label(
                "answered"
            ),
        )
        .where(_within(_MESSAGE.c.received_at, window))
        .group_by(_MESSAGE.c.conversation_id)
        .subquery()
    )
    ticketed = select(_TICKET.c.conversation_id).where(_within(_TICKET.c.created_at, window))
    automated = and_(per_conversation.c.answered == 1, per_conversation.c.conversation_id.not_in(ticketed))
    total, answered, without_ticket = connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(per_conversation.c.answered), 0),
            func.count().filter(automated),
        )
    ).one()
    return int(total), int(answered), int(without_ticket)


def _turns(connection: Connection, window: Window) -> tuple[dict[str, int], dict[str, int], int, int]:
    rows = connection.execute(
        select(
            _MESSAGE.c.understander,
            _MESSAGE.c.verification,
            func.count(),
            func.coalesce(func.sum(_MESSAGE.c.tokens_in), 0),
            func.coalesce(func.sum(_MESSAGE.c.tokens_out), 0),
        )
        .where(_within(_MESSAGE.c.received_at, window))
        .group_by(_MESSAGE.c.understander, _MESSAGE.c.verification)
    )
    verifications: dict[str, int] = defaultdict(int)
    understanders: dict[str, int] = defaultdict(int)
    tokens_in = tokens_out = 0
    for understander, verification, count, spent_in, spent_out in rows:
        if verification is not None:
            verifications[verification] += count
        if understander is not None:
            understanders[understander] += count
        tokens_in += int(spent_in)
        tokens_out += int(spent_out)
    return dict(verifications), dict(understanders), tokens_in, tokens_out


def _tickets(connection: Connection, window: Window) -> tuple[dict[str, int], dict[str, int]]:
    rows = connection.execute(
        select(_TICKET.c.category, _TICKET.c.status, func.count())
        .where(_within(_TICKET.c.created_at, window))
        .group_by(_TICKET.c.category, _TICKET.c.status)
    ).all()
    return _totals(rows, 0), _totals(rows, 1)


def _reply_times(connection: Connection, window: Window) -> dict[str, ReplyTimes]:
    rows = connection.execute(
        select(_MESSAGE.c.channel, _MESSAGE.c.reply_ms, func.count())
        .where(_within(_MESSAGE.c.received_at, window), _MESSAGE.c.reply_ms.is_not(None))
        .group_by(_MESSAGE.c.channel, _MESSAGE.c.reply_ms)
    )
    histograms: dict[str, dict[int, int]] = defaultdict(dict)
    for channel, reply_ms, count in rows:
        histograms[channel][reply_ms] = count
    return {channel: ReplyTimes.of(histogram) for channel, histogram in histograms.items()}


def _deliveries(connection: Connection, window: Window) -> dict[str, dict[str, int]]:
    audience = case((_OUTBOUND.c.ticket_reference.is_(None), "shoppers"), else_="team").label("audience")
    rows = connection.execute(
        select(audience, _OUTBOUND.c.status, func.count())
        .where(_within(_OUTBOUND.c.created_at, window))
        .group_by(audience, _OUTBOUND.c.status)
    )
    found: dict[str, dict[str, int]] = {"shoppers": {}, "team": {}}
    for who, status, count in rows:
        found[who][status] = count
    return found


def _updates(connection: Connection, window: Window) -> dict[str, int]:
    """Proactive updates queued in the period, by where their delivery stands."""
    rows = connection.execute(
        select(_OUTBOUND.c.status, func.count())
        .select_from(_NOTICE.join(_OUTBOUND, _NOTICE.c.outbound_id == _OUTBOUND.c.id))
        .where(_within(_NOTICE.c.created_at, window), _NOTICE.c.status == "queued")
        .group_by(_OUTBOUND.c.status)
    )
    return {status: count for status, count in rows}


def _totals(rows: Sequence[Row[tuple[str, str, int]]], position: int) -> dict[str, int]:
    """Counts of (category, status, count) rows summed over the column at ``position``."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row[position]] += row[2]
    return dict(totals)
