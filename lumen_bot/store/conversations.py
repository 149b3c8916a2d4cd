"""Conversations, the message log and verification failures in the database.

Each inbound message is saved in one transaction with the new conversation state, so a redelivered
message (same provider id) or a concurrent message of the same conversation changes nothing twice.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Text,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from lumen_bot.domain.engine import (
    ConversationState,
    Effect,
    Escalate,
    RecordFailure,
    Subscribe,
    Told,
    Unsubscribe,
)
from lumen_bot.domain.messages import InboundMessage, Reply
from lumen_bot.domain.tickets import (
    TRANSCRIPT_MESSAGES,
    TicketCategory,
    TicketStatus,
    render_transcript,
)
from lumen_bot.domain.turn_record import TurnRecord
from lumen_bot.domain.understanding import Understanding
from lumen_bot.ports import AttemptCheck, ConcurrentUpdate, DuplicateMessage, FailureCounts, Snapshot
from lumen_bot.store.database import Database
from lumen_bot.store.prepared import Prepared, Rows
from lumen_bot.store.replies_json import dump_replies, load_replies
from lumen_bot.store.tables import (
    ConversationOrderRow,
    ConversationRow,
    MessageRow,
    TicketRow,
    UpdateNoticeRow,
    UpdateSubscriptionRow,
    VerificationFailureRow,
)

_CONVERSATION = ConversationRow.__table__  # type: ignore[attr-defined]
_MESSAGE = MessageRow.__table__  # type: ignore[attr-defined]
_CONVERSATION_ORDER = ConversationOrderRow.__table__  # type: ignore[attr-defined]
_FAILURE = VerificationFailureRow.__table__  # type: ignore[attr-defined]
_TICKET = TicketRow.__table__  # type: ignore[attr-defined]
_SUBSCRIPTION = UpdateSubscriptionRow.__table__  # type: ignore[attr-defined]
_NOTICE = UpdateNoticeRow.__table__  # type: ignore[attr-defined]
_ACTIVE = "active"
_STOPPED = "stopped"
_KNOWN = "known"

# Statements are built once: SQLAlchemy then reuses their compiled form, which is most of a query's cost
# on a fast local database.
_LOAD = Prepared(
    select(_CONVERSATION.c.id, _CONVERSATION.c.state, _CONVERSATION.c.version).where(
        _CONVERSATION.c.channel == bindparam("channel"), _CONVERSATION.c.key == bindparam("key")
    )
)
# A turn of a message with a provider id asks two things first: was this delivery answered already (the
# message log), and where does its conversation stand. One statement answers both — a row for each that
# exists, told apart by ``kind`` — so a turn pays one round trip (and one pooled connection) for them.
_IS_CONVERSATION, _IS_MESSAGE = "c", "m"
_LOAD_ANSWERED = Prepared(
    union_all(
        select(
            literal_column(f"'{_IS_CONVERSATION}'").label("kind"),
            _CONVERSATION.c.id,
            _CONVERSATION.c.state,
            _CONVERSATION.c.version,
            null().cast(Text).label("replies"),
        ).where(_CONVERSATION.c.channel == bindparam("channel"), _CONVERSATION.c.key == bindparam("key")),
        select(
            literal_column(f"'{_IS_MESSAGE}'"),
            null().cast(Integer),
            null().cast(Text),
            null().cast(Integer),
            _MESSAGE.c.replies,
        ).where(
            _MESSAGE.c.channel == bindparam("channel"),
            _MESSAGE.c.provider_message_id == bindparam("provider_message_id"),
        ),
    )
)
_CREATE = Prepared(
    insert(_CONVERSATION).returning(_CONVERSATION.c.id),
    ["channel", "key", "state", "version", "created_at", "updated_at"],
)
_SAVE_STATE = (
    update(_CONVERSATION)
    .where(_CONVERSATION.c.id == bindparam("b_id"), _CONVERSATION.c.version == bindparam("b_version"))
    .values(state=bindparam("state"), version=bindparam("version"), updated_at=bindparam("updated_at"))
)
_LOG = Prepared(
    insert(_MESSAGE),
    [
        "conversation_id",
        "channel",
        "provider_message_id",
        "text",
        "intent",
        "replies",
        "raw",
        "received_at",
        "understander",
        "tokens_in",
        "tokens_out",
        "reply_ms",
        "outcome",
        "verification",
    ],
)
_VERIFIED = Prepared(
    insert(_CONVERSATION_ORDER), ["conversation_id", "order_number", "email_digest", "verified_at"]
)


def _failures_since(*where: ColumnElement[bool]) -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(_FAILURE)
        .where(_FAILURE.c.created_at >= bindparam("since"), *where)
        .scalar_subquery()
    )


# The save of a turn that checked an email, with the failures it counted counted again in the same
# statement: it changes nothing (rowcount 0, a stale count like a moved version) when another turn recorded
# one since. One round trip fewer than a separate recount, and as safe: on PostgreSQL the statement's
# snapshot is taken after the advisory locks were granted (the statement before it), so every failure
# recorded under them is visible; SQLite takes its one write lock at the start of a writing statement, on
# the newest snapshot.
_SAVE_IF_COUNTS_STAND = Prepared(
    _SAVE_STATE.where(
        _failures_since(_FAILURE.c.conversation_id == bindparam("b_id")) == bindparam("in_conversation"),
        _failures_since(_FAILURE.c.order_number == bindparam("order_number")) == bindparam("for_order"),
        _failures_since(_FAILURE.c.email_digest == bindparam("email_digest")) == bindparam("for_email"),
    )
)
_SAVE = Prepared(_SAVE_STATE)
_REPLIES = select(_MESSAGE.c.replies).where(
    _MESSAGE.c.channel == bindparam("channel"),
    _MESSAGE.c.provider_message_id == bindparam("provider_message_id"),
)
_FAIL = insert(_FAILURE)
_SAME_CONVERSATION = _FAILURE.c.conversation_id == bindparam("conversation_id")
_SAME_ORDER = _FAILURE.c.order_number == bindparam("order_number")
_SAME_EMAIL = _FAILURE.c.email_digest == bindparam("email_digest")
_COUNT_FAILURES = Prepared(
    select(
        func.count().filter(_SAME_CONVERSATION),
        func.count().filter(_SAME_ORDER),
        func.count().filter(_SAME_EMAIL),
    ).where(_FAILURE.c.created_at >= bindparam("since"), _SAME_CONVERSATION | _SAME_ORDER | _SAME_EMAIL)
)
# Both locks in one round trip. PostgreSQL evaluates a select list left to right, so the order lock is
# always taken before the email lock and two checks never wait on each other.
_ADVISORY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(:order_key, 0)),"
    " pg_advisory_xact_lock(hashtextextended(:email_key, 0))"
)
_OPEN_TICKET = select(_TICKET.c.id, _TICKET.c.reference).where(
    _TICKET.c.conversation_id == bindparam("conversation_id"),
    _TICKET.c.category == bindparam("category"),
    _TICKET.c.status == TicketStatus.OPEN,
)
_ADD_TO_TICKET = (
    update(_TICKET)
    .where(_TICKET.c.id == bindparam("b_id"))
    .values(
        requests=_TICKET.c.requests + 1,
        order_number=func.coalesce(bindparam("order_number"), _TICKET.c.order_number),
        contact=func.coalesce(bindparam("contact"), _TICKET.c.contact),
        transcript=bindparam("transcript"),
        updated_at=bindparam("updated_at"),
    )
)
_NEW_TICKET = insert(_TICKET)
_RECENT_MESSAGES = (
    select(_MESSAGE.c.text, _MESSAGE.c.replies, _MESSAGE.c.received_at)
    .where(_MESSAGE.c.conversation_id == bindparam("conversation_id"))
    .order_by(_MESSAGE.c.id.desc())
    .limit(TRANSCRIPT_MESSAGES)
)


_ACTIVE_SUBSCRIPTION = select(_SUBSCRIPTION.c.id).where(
    _SUBSCRIPTION.c.conversation_id == bindparam("conversation_id"),
    _SUBSCRIPTION.c.order_number == bindparam("order_number"),
    _SUBSCRIPTION.c.channel == bindparam("channel"),
    _SUBSCRIPTION.c.address == bindparam("address"),
    _SUBSCRIPTION.c.status == _ACTIVE,
)
_SUBSCRIBE = insert(_SUBSCRIPTION).returning(_SUBSCRIPTION.c.id)
_KNOWN_NOTICES = select(_NOTICE.c.shipment_key, _NOTICE.c.event).where(
    _NOTICE.c.subscription_id == bindparam("subscription_id")
)
_NOTICE_KNOWN = insert(_NOTICE)


class SqlConversationStore:
    """Implements the ``ConversationStore``, ``MessageLog`` and ``FailureLog`` ports.

    ``updates_max_days``: how long a yes to shipping updates lasts at most (``LUMEN_UPDATES_MAX_DAYS``)."""

    def __init__(self, database: Database, *, updates_max_days: int = 30) -> None:
        self._database = database
        self._engine = database.engine
        # Every read here is one statement: no transaction of its own (see ``Database.single_reads``).
        self._reads = database.single_reads
        self._updates_last = timedelta(days=updates_max_days)

    async def load(self, channel: str, key: str, provider_message_id: str | None = None) -> Snapshot:
        return await self._database.lookup(self._load, channel, key, provider_message_id)

    async def commit(
        self,
        snapshot: Snapshot,
        message: InboundMessage,
        understanding: Understanding,
        state: ConversationState,
        replies: Sequence[Reply],
        effects: Sequence[Effect],
        now: datetime,
        check: AttemptCheck | None = None,
        record: TurnRecord | None = None,
    ) -> None:
        await self._database.record(
            self._commit,
            snapshot,
            message,
            understanding,
            state,
            tuple(replies),
            tuple(effects),
            now,
            check,
            record,
        )

    async def open_ticket(self, conversation_id: int, category: TicketCategory) -> str | None:
        return await self._database.lookup(self._open_ticket, conversation_id, category)

    async def replies_for(self, channel: str, provider_message_id: str) -> list[Reply] | None:
        return await self._database.lookup(self._replies_for, channel, provider_message_id)

    async def count_failures(
        self, conversation_id: int | None, order_number: str, email_digest: str, since: datetime
    ) -> FailureCounts:
        params = {
            "conversation_id": conversation_id,
            "order_number": order_number,
            "email_digest": email_digest,
            "since": since,
        }
        return await self._database.lookup(self._count_failures, params)

    def _load(self, channel: str, key: str, provider_message_id: str | None) -> Snapshot:
        if provider_message_id is None:
            with self._reads.connect() as connection:
                row = _LOAD.run(connection, {"channel": channel, "key": key}).fetchone()
            if row is None:
                return Snapshot(conversation_id=None, state=ConversationState(), version=0)
            conversation_id, state, version = row
            return Snapshot(conversation_id, ConversationState.model_validate_json(state), version)
        params = {"channel": channel, "key": key, "provider_message_id": provider_message_id}
        with self._reads.connect() as connection:
            rows = _LOAD_ANSWERED.run(connection, params).fetchall()
        conversation = next((row for row in rows if row[0] == _IS_CONVERSATION), None)
        logged = next((row for row in rows if row[0] == _IS_MESSAGE), None)
        # A redelivery needs only the replies it got the first time: its state is not parsed.
        answered = None if logged is None else load_replies(logged[4])
        if conversation is None:
            return Snapshot(None, ConversationState(), 0, answered)
        _kind, conversation_id, state, version, _replies = conversation
        if answered is not None:
            return Snapshot(conversation_id, ConversationState(), version, answered)
        return Snapshot(conversation_id, ConversationState.model_validate_json(state), version)

    def _commit(
        self,
        snapshot: Snapshot,
        message: InboundMessage,
        understanding: Understanding,
        state: ConversationState,
        replies: tuple[Reply, ...],
        effects: tuple[Effect, ...],
        now: datetime,
        check: AttemptCheck | None,
        record: TurnRecord | None,
    ) -> None:
        try:
            with self._engine.begin() as connection:
                if check is not None:
                    _lock_attempts(connection, check)
                conversation_id = self._save_state(connection, snapshot, message, state, now, check)
                _LOG.run(
                    connection,
                    {
                        "conversation_id": conversation_id,
                        "channel": message.channel,
                        "provider_message_id": message.provider_message_id,
                        "text": message.text,
                        "intent": understanding.intent.value,
                        "replies": dump_replies(replies),
                        "raw": json.dumps(message.raw) if message.raw is not None else None,
                        "received_at": message.received_at,
                        **_figures(record),
                    },
                )
                for verified in record.verified if record is not None else ():
                    _VERIFIED.run(
                        connection,
                        {
                            "conversation_id": conversation_id,
                            "order_number": verified.order_number,
                            "email_digest": verified.email_digest,
                            "verified_at": now,
                        },
                    )
                _apply_effects(connection, conversation_id, message, effects, now, self._updates_last)
        except IntegrityError as error:
            pid = message.provider_message_id
            if pid and self._replies_for(message.channel, pid) is not None:
                raise DuplicateMessage(pid) from error
            # Otherwise a concurrent first message created the same conversation: a lost race.
            raise ConcurrentUpdate(message.conversation_key) from error

    def _save_state(
        self,
        connection: Connection,
        snapshot: Snapshot,
        message: InboundMessage,
        state: ConversationState,
        now: datetime,
        check: AttemptCheck | None,
    ) -> int:
        """The conversation's id once its new state is saved. Raises :class:`ConcurrentUpdate` when the
        version moved on, or when another turn recorded a failure for the checked order or email since
        this one counted (``check``, its locks already held)."""
        encoded = state.model_dump_json()
        if snapshot.conversation_id is None:
            created = _CREATE.run(
                connection,
                {
                    "channel": message.channel,
                    "key": message.conversation_key,
                    "state": encoded,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            conversation_id = int(_one(created)[0])
            if check is not None and _recounted(connection, conversation_id, check) != check.counted:
                raise ConcurrentUpdate(message.conversation_key)
            return conversation_id
        params: dict[str, object] = {
            "b_id": snapshot.conversation_id,
            "b_version": snapshot.version,
            "state": encoded,
            "version": snapshot.version + 1,
            "updated_at": now,
        }
        if check is not None:
            params |= {
                "order_number": check.order_number,
                "email_digest": check.email_digest,
                "since": check.since,
                "in_conversation": check.counted.in_conversation,
                "for_order": check.counted.for_order,
                "for_email": check.counted.for_email,
            }
        result = (_SAVE if check is None else _SAVE_IF_COUNTS_STAND).run(connection, params)
        if result.rowcount != 1:
            raise ConcurrentUpdate(message.conversation_key)
        return snapshot.conversation_id

    def _open_ticket(self, conversation_id: int, category: TicketCategory) -> str | None:
        params = {"conversation_id": conversation_id, "category": category}
        with self._reads.connect() as connection:
            row = connection.execute(_OPEN_TICKET, params).first()
        return None if row is None else str(row.reference)

    def _replies_for(self, channel: str, provider_message_id: str) -> list[Reply] | None:
        params = {"channel": channel, "provider_message_id": provider_message_id}
        with self._reads.connect() as connection:
            stored = connection.execute(_REPLIES, params).scalar_one_or_none()
        return None if stored is None else load_replies(stored)

    def _count_failures(self, params: dict[str, object]) -> FailureCounts:
        with self._reads.connect() as connection:
            return _counts(connection, params)


def _lock_attempts(connection: Connection, check: AttemptCheck) -> None:
    """Checks of one order number or one email take turns until their transaction ends. PostgreSQL:
    advisory locks, always order before email so two turns never wait on each other. SQLite needs none:
    the state saved next takes the database's one write lock, which every other writer waits for."""
    if connection.dialect.name == "postgresql":
        keys = {
            "order_key": f"verify-order:{check.order_number}",
            "email_key": f"verify-email:{check.email_digest}",
        }
        connection.execute(_ADVISORY_LOCKS, keys)


def _recounted(connection: Connection, conversation_id: int, check: AttemptCheck) -> FailureCounts:
    params = {
        "conversation_id": conversation_id,
        "order_number": check.order_number,
        "email_digest": check.email_digest,
        "since": check.since,
    }
    return _counts(connection, params)


def _counts(connection: Connection, params: dict[str, object]) -> FailureCounts:
    row = _one(_COUNT_FAILURES.run(connection, params))
    return FailureCounts(int(row[0]), int(row[1]), int(row[2]))


def _one(rows: Rows) -> Sequence[Any]:
    row = rows.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row


_NO_FIGURES: dict[str, object] = {
    "understander": None,
    "tokens_in": 0,
    "tokens_out": 0,
    "reply_ms": None,
    "outcome": None,
    "verification": None,
}


def _figures(record: TurnRecord | None) -> dict[str, object]:
    """The message log's columns the dashboard counts."""
    if record is None:
        return _NO_FIGURES
    return {
        "understander": record.understander,
        "tokens_in": record.tokens_in,
        "tokens_out": record.tokens_out,
        "reply_ms": record.reply_ms,
        "outcome": record.outcome.value if record.outcome else None,
        "verification": record.verification.value if record.verification else None,
    }


def _apply_effects(
    connection: Connection,
    conversation_id: int,
    message: InboundMessage,
    effects: tuple[Effect, ...],
    now: datetime,
    updates_last: timedelta,
) -> None:
    for effect in effects:
        if isinstance(effect, RecordFailure):
            connection.execute(
                _FAIL,
                {
                    "conversation_id": conversation_id,
                    "order_number": effect.order_number,
                    "email_digest": effect.email_digest,
                    "created_at": now,
                },
            )
        elif isinstance(effect, Escalate):
            _open_ticket(connection, conversation_id, message, effect, now)
        elif isinstance(effect, Subscribe):
            _subscribe(connection, conversation_id, message, effect, now, updates_last)
        elif isinstance(effect, Unsubscribe):
            _unsubscribe(connection, conversation_id, message, effect, now)
        elif isinstance(effect, Told):
            _told(connection, conversation_id, effect, now)


def _subscribe(
    connection: Connection,
    conversation_id: int,
    message: InboundMessage,
    effect: Subscribe,
    now: datetime,
    updates_last: timedelta,
) -> None:
    """One active subscription per conversation, order, channel and address: a second yes only adds what
    the shopper has learnt since to what is never sent as news."""
    subscription_id = connection.execute(
        _ACTIVE_SUBSCRIPTION,
        {
            "conversation_id": conversation_id,
            "order_number": effect.order_number,
            "channel": effect.channel,
            "address": effect.address,
        },
    ).scalar()
    if subscription_id is None:
        subscription_id = connection.execute(
            _SUBSCRIBE,
            {
                "conversation_id": conversation_id,
                "order_number": effect.order_number,
                "channel": effect.channel,
                "address": effect.address,
                "shop_address": message.reply_from,
                "language": effect.language,
                "status": _ACTIVE,
                "unsubscribe_token": secrets.token_urlsafe(32),
                "created_at": now,
                "ends_at": now + updates_last,
            },
        ).scalar_one()
    _add_known(connection, subscription_id, effect.told, now)


def _told(connection: Connection, conversation_id: int, effect: Told, now: datetime) -> None:
    active = connection.execute(
        select(_SUBSCRIPTION.c.id).where(
            _SUBSCRIPTION.c.conversation_id == conversation_id,
            _SUBSCRIPTION.c.order_number == effect.order_number,
            _SUBSCRIPTION.c.status == _ACTIVE,
        )
    ).scalars()
    for subscription_id in list(active):
        _add_known(connection, subscription_id, effect.told, now)


def _add_known(
    connection: Connection, subscription_id: int, told: Sequence[tuple[str, str]], now: datetime
) -> None:
    """Record what the shopper knows as never to be sent as news. The notifier may be recording the same
    milestone right now: each row has its savepoint, so whichever is first stands and the turn goes on."""
    rows = connection.execute(_KNOWN_NOTICES, {"subscription_id": subscription_id}).all()
    recorded = {(row.shipment_key, row.event) for row in rows}
    for shipment_key, event in dict.fromkeys(told):
        if (shipment_key, event) in recorded:
            continue
        notice = {
            "subscription_id": subscription_id,
            "shipment_key": shipment_key,
            "event": event,
            "status": _KNOWN,
            "created_at": now,
        }
        try:
            with connection.begin_nested():
                connection.execute(_NOTICE_KNOWN, notice)
        except IntegrityError:
            continue


def _unsubscribe(
    connection: Connection, conversation_id: int, message: InboundMessage, effect: Unsubscribe, now: datetime
) -> None:
    """Stop the conversation's active subscriptions (to one order, or all), and any to the address the
    message came from on its channel: "STOP UPDATES" by email stops the email updates a web chat set up."""
    whose = _SUBSCRIPTION.c.conversation_id == conversation_id
    if message.contact_address:
        whose = or_(
            whose,
            and_(
                _SUBSCRIPTION.c.channel == message.channel,
                func.lower(_SUBSCRIPTION.c.address) == message.contact_address.lower(),
            ),
        )
    which = [_SUBSCRIPTION.c.status == _ACTIVE, whose]
    if effect.order_number is not None:
        which.append(_SUBSCRIPTION.c.order_number == effect.order_number)
    connection.execute(update(_SUBSCRIPTION).where(*which).values(status=_STOPPED, ended_at=now))


def _open_ticket(
    connection: Connection, conversation_id: int, message: InboundMessage, effect: Escalate, now: datetime
) -> None:
    """One open ticket per conversation and category: asking again adds to it."""
    recent = connection.execute(_RECENT_MESSAGES, {"conversation_id": conversation_id}).all()
    transcript = render_transcript(
        [(row.text, row.received_at, load_replies(row.replies)) for row in reversed(recent)]
    )
    existing = connection.execute(
        _OPEN_TICKET, {"conversation_id": conversation_id, "category": effect.category}
    ).first()
    if existing is not None:
        connection.execute(
            _ADD_TO_TICKET,
            {
                "b_id": existing.id,
                "order_number": effect.order_number,
                "contact": effect.contact,
                "transcript": transcript,
                "updated_at": now,
            },
        )
        return
    connection.execute(
        _NEW_TICKET,
        {
            "reference": effect.reference,
            "conversation_id": conversation_id,
            "channel": message.channel,
            "category": effect.category,
            "order_number": effect.order_number,
            "contact": effect.contact,
            "summary": effect.summary,
            "language": effect.language,
            "transcript": transcript,
            "requests": 1,
            "status": TicketStatus.OPEN,
            "created_at": now,
            "updated_at": now,
        },
    )
