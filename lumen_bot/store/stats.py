"""The dashboard's counts over a period, in SQL: one query layer for ``/admin`` and ``GET /api/stats``.

Every figure is a ``GROUP BY`` over rows the conversation already stores (the message log's turn figures,
tickets, the outbox, update notices), bounded by the period on an indexed time column. The message log is
the one large table, so a local day's counts from it are rolled up once the day is over (the ``stats_*``
tables: one row per conversation and day, per understander and verification, per reply time): a 30-day
overview reads those and only today's messages. A day is rolled up by the first overview that needs it,
in one transaction with its marker, so two workers never write it twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import (
    Connection,
    Date,
    Row,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from lumen_bot.domain.messages import ReplyKind
from lumen_bot.domain.stats import ChannelDay, Overview, Prices, ReplyTimes, Window
from lumen_bot.store.database import Database
from lumen_bot.store.tables import (
    MessageRow,
    OutboundRow,
    StatsConversationDayRow,
    StatsReplyDayRow,
    StatsRolledDayRow,
    StatsTurnDayRow,
    TicketRow,
    UpdateNoticeRow,
)

_MESSAGE = MessageRow.__table__  # type: ignore[attr-defined]
_TICKET = TicketRow.__table__  # type: ignore[attr-defined]
_OUTBOUND = OutboundRow.__table__  # type: ignore[attr-defined]
_NOTICE = UpdateNoticeRow.__table__  # type: ignore[attr-defined]
_ROLLED = StatsRolledDayRow.__table__  # type: ignore[attr-defined]
_CONVERSATION_DAY = StatsConversationDayRow.__table__  # type: ignore[attr-defined]
_TURN_DAY = StatsTurnDayRow.__table__  # type: ignore[attr-defined]
_REPLY_DAY = StatsReplyDayRow.__table__  # type: ignore[attr-defined]

_ANSWERED = case((_MESSAGE.c.outcome == ReplyKind.ORDER_ANSWER.value, 1), else_=0)
_REPLY_MS = _MESSAGE.c.reply_ms
# Reply times to two significant digits: a day's histogram keeps a few hundred values per channel however
# many messages it had, and a percentile is still right to within 10 %.
_REPLY_BUCKET = case(
    (_REPLY_MS < 100, _REPLY_MS),
    (_REPLY_MS < 1_000, _REPLY_MS // 10 * 10),
    (_REPLY_MS < 10_000, _REPLY_MS // 100 * 100),
    (_REPLY_MS < 100_000, _REPLY_MS // 1_000 * 1_000),
    else_=_REPLY_MS // 10_000 * 10_000,
)


def _between(column: ColumnElement[object], since: datetime, until: datetime) -> ColumnElement[bool]:
    return and_(column >= since, column < until)


def _day_index(column: ColumnElement[object], starts: Sequence[datetime]) -> ColumnElement[int]:
    """The index of the day (of those starting at ``starts``) ``column`` falls on: portable SQL (SQLite
    has no time zones) and right on the days a clock changes."""
    if len(starts) == 1:
        return literal(0)
    return case(*((column < start, index) for index, start in enumerate(starts[1:])), else_=len(starts) - 1)


class SqlStats:
    """Implements the ``DashboardStats`` port."""

    def __init__(self, database: Database, prices: Prices) -> None:
        self._database = database
        self._engine = database.engine
        self._prices = prices

    async def overview(self, window: Window) -> Overview:
        if window.settled:
            unrolled = await self._database.read(self._unrolled, window)
            if unrolled:
                await self._database.write(self._roll, window, unrolled)
        return await self._database.read(self._overview, window)

    def _unrolled(self, window: Window) -> list[int]:
        """The indexes of the window's settled days not rolled up yet."""
        settled = window.days[: window.settled]
        with self._engine.connect() as connection:
            rolled = set(
                connection.scalars(
                    select(_ROLLED.c.day).where(
                        _ROLLED.c.timezone == window.timezone, _ROLLED.c.day.in_(settled)
                    )
                )
            )
        return [index for index, day in enumerate(settled) if day not in rolled]

    def _roll(self, window: Window, indexes: Iterable[int]) -> None:
        for index in indexes:
            day, since, until = window.days[index], window.starts[index], window.ends(index)
            try:
                with self._engine.begin() as connection:
                    # The marker first: a worker rolling the same day waits on it, then fails, and skips it.
                    connection.execute(
                        insert(_ROLLED).values(timezone=window.timezone, day=day, rolled_at=window.now)
                    )
                    _roll_day(connection, window.timezone, day, since, until)
            except IntegrityError:
                continue

    def _overview(self, window: Window) -> Overview:
        live = window.starts[window.settled] if window.settled < len(window.days) else window.until
        with self._engine.connect() as connection:
            activity = _activity(connection, window, live)
            conversations, answered, automated = _automation(connection, window, live)
            verifications, understanders, tokens_in, tokens_out = _turns(connection, window, live)
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
                reply_times=_reply_times(connection, window, live),
                updates=_updates(connection, window),
                prices=self._prices,
            )


def _roll_day(connection: Connection, timezone: str, day: date, since: datetime, until: datetime) -> None:
    zone, on = literal(timezone, String), literal(day, Date)
    in_day = _between(_MESSAGE.c.received_at, since, until)
    connection.execute(
        insert(_CONVERSATION_DAY).from_select(
            ["timezone", "day", "conversation_id", "channel", "messages", "answered"],
            select(
                zone, on, _MESSAGE.c.conversation_id, _MESSAGE.c.channel, func.count(), func.max(_ANSWERED)
            )
            .where(in_day)
            .group_by(_MESSAGE.c.conversation_id, _MESSAGE.c.channel),
        )
    )
    connection.execute(
        insert(_TURN_DAY).from_select(
            ["timezone", "day", "understander", "verification", "messages", "tokens_in", "tokens_out"],
            select(
                zone,
                on,
                _MESSAGE.c.understander,
                _MESSAGE.c.verification,
                func.count(),
                func.coalesce(func.sum(_MESSAGE.c.tokens_in), 0),
                func.coalesce(func.sum(_MESSAGE.c.tokens_out), 0),
            )
            .where(in_day)
            .group_by(_MESSAGE.c.understander, _MESSAGE.c.verification),
        )
    )
    bucket = _REPLY_BUCKET.label("bucket")
    connection.execute(
        insert(_REPLY_DAY).from_select(
            ["timezone", "day", "channel", "reply_ms", "messages"],
            select(zone, on, _MESSAGE.c.channel, bucket, func.count())
            .where(in_day, _REPLY_MS.is_not(None))
            .group_by(_MESSAGE.c.channel, bucket),
        )
    )


def _rolled(table: Table, window: Window) -> ColumnElement[bool]:
    """A rollup table's rows for the window's settled days."""
    return and_(table.c.timezone == window.timezone, table.c.day.in_(window.days[: window.settled]))


def _activity(connection: Connection, window: Window, live: datetime) -> tuple[ChannelDay, ...]:
    rolled = connection.execute(
        select(
            _CONVERSATION_DAY.c.day,
            _CONVERSATION_DAY.c.channel,
            func.count(),
            func.sum(_CONVERSATION_DAY.c.messages),
        )
        .where(_rolled(_CONVERSATION_DAY, window))
        .group_by(_CONVERSATION_DAY.c.day, _CONVERSATION_DAY.c.channel)
    )
    found = [
        ChannelDay(day, channel, conversations, int(messages))
        for day, channel, conversations, messages in rolled
    ]
    live_days = window.days[window.settled :]
    day = _day_index(_MESSAGE.c.received_at, window.starts[window.settled :]).label("day")
    today = connection.execute(
        select(day, _MESSAGE.c.channel, func.count(func.distinct(_MESSAGE.c.conversation_id)), func.count())
        .where(_between(_MESSAGE.c.received_at, live, window.until))
        .group_by(day, _MESSAGE.c.channel)
    )
    found += [
        ChannelDay(live_days[index], channel, conversations, messages)
        for index, channel, conversations, messages in today
    ]
    return tuple(found)


def _automation(connection: Connection, window: Window, live: datetime) -> tuple[int, int, int]:
    """Conversations with a message in the period; those that got an order answer; and of those, the ones
    that opened no ticket in the period. A conversation counts once, whichever days it spans."""
    days = union_all(
        select(_CONVERSATION_DAY.c.conversation_id, _CONVERSATION_DAY.c.answered).where(
            _rolled(_CONVERSATION_DAY, window)
        ),
        select(_MESSAGE.c.conversation_id, _ANSWERED).where(
            _between(_MESSAGE.c.received_at, live, window.until)
        ),
    ).subquery()
    per_conversation = (
        select(days.c.conversation_id, func.max(days.c.answered).label("answered"))
        .group_by(days.c.conversation_id)
        .subquery()
    )
    ticketed = select(_TICKET.c.conversation_id).where(
        _between(_TICKET.c.created_at, window.since, window.until)
    )
    automated = and_(per_conversation.c.answered == 1, per_conversation.c.conversation_id.not_in(ticketed))
    total, answered, without_ticket = connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(per_conversation.c.answered), 0),
            func.count().filter(automated),
        )
    ).one()
    return int(total), int(answered), int(without_ticket)


def _turns(
    connection: Connection, window: Window, live: datetime
) -> tuple[dict[str, int], dict[str, int], int, int]:
    rolled = connection.execute(
        select(
            _TURN_DAY.c.understander,
            _TURN_DAY.c.verification,
            func.sum(_TURN_DAY.c.messages),
            func.sum(_TURN_DAY.c.tokens_in),
            func.sum(_TURN_DAY.c.tokens_out),
        )
        .where(_rolled(_TURN_DAY, window))
        .group_by(_TURN_DAY.c.understander, _TURN_DAY.c.verification)
    ).all()
    today = connection.execute(
        select(
            _MESSAGE.c.understander,
            _MESSAGE.c.verification,
            func.count(),
            func.coalesce(func.sum(_MESSAGE.c.tokens_in), 0),
            func.coalesce(func.sum(_MESSAGE.c.tokens_out), 0),
        )
        .where(_between(_MESSAGE.c.received_at, live, window.until))
        .group_by(_MESSAGE.c.understander, _MESSAGE.c.verification)
    ).all()
    verifications: dict[str, int] = defaultdict(int)
    understanders: dict[str, int] = defaultdict(int)
    tokens_in = tokens_out = 0
    for understander, verification, count, spent_in, spent_out in [*rolled, *today]:
        if verification is not None:
            verifications[verification] += int(count)
        if understander is not None:
            understanders[understander] += int(count)
        tokens_in += int(spent_in)
        tokens_out += int(spent_out)
    return dict(verifications), dict(understanders), tokens_in, tokens_out


def _reply_times(connection: Connection, window: Window, live: datetime) -> dict[str, ReplyTimes]:
    rolled = connection.execute(
        select(_REPLY_DAY.c.channel, _REPLY_DAY.c.reply_ms, func.sum(_REPLY_DAY.c.messages))
        .where(_rolled(_REPLY_DAY, window))
        .group_by(_REPLY_DAY.c.channel, _REPLY_DAY.c.reply_ms)
    ).all()
    bucket = _REPLY_BUCKET.label("bucket")
    today = connection.execute(
        select(_MESSAGE.c.channel, bucket, func.count())
        .where(_between(_MESSAGE.c.received_at, live, window.until), _REPLY_MS.is_not(None))
        .group_by(_MESSAGE.c.channel, bucket)
    ).all()
    histograms: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for channel, reply_ms, count in [*rolled, *today]:
        histograms[channel][int(reply_ms)] += int(count)
    return {channel: ReplyTimes.of(histogram) for channel, histogram in histograms.items()}


def _tickets(connection: Connection, window: Window) -> tuple[dict[str, int], dict[str, int]]:
    rows = connection.execute(
        select(_TICKET.c.category, _TICKET.c.status, func.count())
        .where(_between(_TICKET.c.created_at, window.since, window.until))
        .group_by(_TICKET.c.category, _TICKET.c.status)
    ).all()
    return _totals(rows, 0), _totals(rows, 1)


def _deliveries(connection: Connection, window: Window) -> dict[str, dict[str, int]]:
    audience = case((_OUTBOUND.c.ticket_reference.is_(None), "shoppers"), else_="team").label("audience")
    rows = connection.execute(
        select(audience, _OUTBOUND.c.status, func.count())
        .where(_between(_OUTBOUND.c.created_at, window.since, window.until))
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
        .where(_between(_NOTICE.c.created_at, window.since, window.until), _NOTICE.c.status == "queued")
        .group_by(_OUTBOUND.c.status)
    )
    return {status: count for status, count in rows}


def _totals(rows: Sequence[Row[tuple[str, str, int]]], position: int) -> dict[str, int]:
    """Counts of (category, status, count) rows summed over the column at ``position``."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row[position]] += row[2]
    return dict(totals)
