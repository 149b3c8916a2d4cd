"""Conversations as the shop's team looks them up (``/admin/conversations``): found by their key, an
order they verified or a ticket or subscription about an order, or the digest of a verified order's email;
then their message log."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from lumen_bot.domain.conversation_log import (
    ConversationSummary,
    ConversationTranscript,
    LoggedMessage,
    SearchTerms,
)
from lumen_bot.store.database import Database
from lumen_bot.store.replies_json import load_replies
from lumen_bot.store.tables import (
    ConversationOrderRow,
    ConversationRow,
    MessageRow,
    TicketRow,
    UpdateSubscriptionRow,
)

_CONVERSATION = ConversationRow.__table__  # type: ignore[attr-defined]
_MESSAGE = MessageRow.__table__  # type: ignore[attr-defined]
_VERIFIED = ConversationOrderRow.__table__  # type: ignore[attr-defined]
_TICKET = TicketRow.__table__  # type: ignore[attr-defined]
_SUBSCRIPTION = UpdateSubscriptionRow.__table__  # type: ignore[attr-defined]


class SqlConversationLog:
    """Implements the ``ConversationLog`` port."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def search(self, terms: SearchTerms, limit: int) -> list[ConversationSummary]:
        if terms.empty:
            return []
        return await self._database.read(self._search, terms, limit)

    async def newest(self, limit: int) -> list[ConversationSummary]:
        return await self._database.read(self._newest, limit)

    async def transcript(self, conversation_id: int, limit: int) -> ConversationTranscript | None:
        return await self._database.read(self._transcript, conversation_id, limit)

    def _search(self, terms: SearchTerms, limit: int) -> list[ConversationSummary]:
        matches: list[ColumnElement[bool]] = []
        if terms.keys:
            matches.append(_CONVERSATION.c.key.in_(terms.keys))
        if terms.order_number:
            number = terms.order_number
            matches += [
                _CONVERSATION.c.id.in_(
                    select(_VERIFIED.c.conversation_id).where(_VERIFIED.c.order_number == number)
                ),
                _CONVERSATION.c.id.in_(
                    select(_TICKET.c.conversation_id).where(_TICKET.c.order_number == number)
                ),
                _CONVERSATION.c.id.in_(
                    select(_SUBSCRIPTION.c.conversation_id).where(_SUBSCRIPTION.c.order_number == number)
                ),
            ]
        if terms.email_digest:
            matches.append(
                _CONVERSATION.c.id.in_(
                    select(_VERIFIED.c.conversation_id).where(_VERIFIED.c.email_digest == terms.email_digest)
                )
            )
            matches.append(
                _CONVERSATION.c.id.in_(
                    select(_TICKET.c.conversation_id).where(_TICKET.c.contact.in_(terms.keys))
                )
            )
        with self._database.engine.connect() as connection:
            ids = connection.scalars(
                select(_CONVERSATION.c.id)
                .where(or_(*matches))
                .order_by(_CONVERSATION.c.updated_at.desc())
                .limit(limit)
            ).all()
            return _summaries(connection, list(ids))

    def _newest(self, limit: int) -> list[ConversationSummary]:
        # By id, not by last activity: the primary key orders them for free, where an index on the time of
        # the last message would be rewritten by every turn.
        with self._database.engine.connect() as connection:
            ids = connection.scalars(
                select(_CONVERSATION.c.id).order_by(_CONVERSATION.c.id.desc()).limit(limit)
            )
            return _summaries(connection, list(ids))

    def _transcript(self, conversation_id: int, limit: int) -> ConversationTranscript | None:
        with self._database.engine.connect() as connection:
            found = _summaries(connection, [conversation_id])
            if not found:
                return None
            rows = connection.execute(
                select(
                    _MESSAGE.c.received_at,
                    _MESSAGE.c.text,
                    _MESSAGE.c.replies,
                    _MESSAGE.c.outcome,
                    _MESSAGE.c.understander,
                    _MESSAGE.c.reply_ms,
                )
                .where(_MESSAGE.c.conversation_id == conversation_id)
                .order_by(_MESSAGE.c.id.desc())
                .limit(limit)
            ).all()
        messages = tuple(
            LoggedMessage(
                received_at,
                text,
                tuple(reply.text for reply in load_replies(replies)),
                outcome,
                understander,
                ms,
            )
            for received_at, text, replies, outcome, understander, ms in reversed(rows)
        )
        return ConversationTranscript(found[0], messages)


def _summaries(connection: Connection, ids: list[int]) -> list[ConversationSummary]:
    """The conversations ``ids``, in that order, with their message counts and verified orders."""
    if not ids:
        return []
    counted = {
        conversation_id: count
        for conversation_id, count in connection.execute(
            select(_MESSAGE.c.conversation_id, func.count())
            .where(_MESSAGE.c.conversation_id.in_(ids))
            .group_by(_MESSAGE.c.conversation_id)
        )
    }
    orders: dict[int, list[str]] = defaultdict(list)
    for conversation_id, number in connection.execute(
        select(_VERIFIED.c.conversation_id, _VERIFIED.c.order_number)
        .where(_VERIFIED.c.conversation_id.in_(ids))
        .order_by(_VERIFIED.c.id)
    ):
        if number not in orders[conversation_id]:
            orders[conversation_id].append(number)
    rows = {
        row.id: row
        for row in connection.execute(
            select(
                _CONVERSATION.c.id,
                _CONVERSATION.c.channel,
                _CONVERSATION.c.key,
                _CONVERSATION.c.created_at,
                _CONVERSATION.c.updated_at,
            ).where(_CONVERSATION.c.id.in_(ids))
        )
    }
    return [
        ConversationSummary(
            id=conversation_id,
            channel=rows[conversation_id].channel,
            key=rows[conversation_id].key,
            started_at=rows[conversation_id].created_at,
            last_at=rows[conversation_id].updated_at,
            messages=counted.get(conversation_id, 0),
            orders=tuple(orders[conversation_id]),
        )
        for conversation_id in ids
        if conversation_id in rows
    ]
