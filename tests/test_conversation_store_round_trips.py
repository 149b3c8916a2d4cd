"""The conversation store's few statements per turn keep its guarantees: the load tells a redelivery, the
save of an email check holds only while the failures it counted still stand, and a turn stays within its
statement budget (issue 18)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, select

from lumen_bot.domain.engine import ConversationState, RecordFailure
from lumen_bot.domain.messages import InboundMessage, Reply, ReplyKind
from lumen_bot.domain.understanding import Intent, Understanding
from lumen_bot.ports import AttemptCheck, ConcurrentUpdate, FailureCounts
from lumen_bot.store.conversations import SqlConversationStore
from lumen_bot.store.database import Database
from lumen_bot.store.tables import ConversationRow, MessageRow, VerificationFailureRow

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(hours=1)
UNDERSTOOD = Understanding(intent=Intent.ORDER_STATUS)
NONE_COUNTED = FailureCounts(0, 0, 0)


@pytest.fixture
def store(engine: Engine) -> Iterator[SqlConversationStore]:
    database = Database(engine)
    yield SqlConversationStore(database)
    database.close()


def message(text: str, pid: str | None = None, key: str = "+15550001") -> InboundMessage:
    return InboundMessage("sms", key, text, NOW, provider_message_id=pid)


def commit(store: SqlConversationStore, msg: InboundMessage, check: AttemptCheck | None = None, **kw) -> None:
    snapshot = asyncio.run(store.load(msg.channel, msg.conversation_key))
    replies = [Reply.plain(ReplyKind.ASK_EMAIL, "Which email?")]
    effects = kw.get("effects", ())
    asyncio.run(store.commit(snapshot, msg, UNDERSTOOD, ConversationState(), replies, effects, NOW, check))


def rows(engine: Engine, table: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_load_tells_a_redelivery_with_its_first_replies(store):
    commit(store, message("order 1042", "SM1"))
    again = asyncio.run(store.load("sms", "+15550001", "SM1"))
    fresh = asyncio.run(store.load("sms", "+15550001", "SM2"))
    assert again.answered == [Reply.plain(ReplyKind.ASK_EMAIL, "Which email?")]
    assert fresh.answered is None
    assert fresh.conversation_id == again.conversation_id is not None
    assert fresh.version == 1


def test_the_load_tells_a_redelivery_even_without_the_conversation_key(store):
    commit(store, message("order 1042", "SM1"))
    # The message log is keyed by channel and provider id alone.
    elsewhere = asyncio.run(store.load("sms", "+15559999", "SM1"))
    assert elsewhere.answered is not None
    assert elsewhere.conversation_id is None


def test_a_new_conversation_loads_empty_with_or_without_a_provider_id(store):
    for pid in (None, "SM9"):
        snapshot = asyncio.run(store.load("sms", "+15550002", pid))
        assert (snapshot.conversation_id, snapshot.version, snapshot.answered) == (None, 0, None)


@pytest.mark.parametrize("existing", [True, False], ids=["saved conversation", "new conversation"])
def test_a_check_whose_count_went_stale_writes_nothing(store, engine, existing):
    if existing:
        commit(store, message("order 1042", "SM1"))
    other = message("order 1042", "SM-other", key="+15550003")
    # Another shopper's check of the same order failed after this turn counted.
    commit(store, other, effects=(RecordFailure("1042", "digest-other"),))
    before = (rows(engine, ConversationRow), rows(engine, MessageRow), rows(engine, VerificationFailureRow))
    stale = AttemptCheck("1042", "digest-1", SINCE, NONE_COUNTED)
    with pytest.raises(ConcurrentUpdate):
        commit(store, message("jane@example.com", "SM2"), stale, effects=(RecordFailure("1042", "digest-1"),))
    after = (rows(engine, ConversationRow), rows(engine, MessageRow), rows(engine, VerificationFailureRow))
    assert after == before


@pytest.mark.parametrize("existing", [True, False], ids=["saved conversation", "new conversation"])
def test_a_check_whose_count_stands_is_saved(store, engine, existing):
    if existing:
        commit(store, message("order 1042", "SM1"))
    commit(store, message("order 1042", "SM-other", key="+15550003"), effects=(RecordFailure("1042", "d"),))
    standing = AttemptCheck("1042", "digest-1", SINCE, FailureCounts(0, 1, 0))
    commit(store, message("jane@example.com", "SM2"), standing)
    assert rows(engine, MessageRow) == (3 if existing else 2)


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement the engine runs meanwhile, as its driver sees them: on SQLite a turn's statements
    bypass SQLAlchemy's execution events (store/prepared.py); transaction control is not counted."""
    ran: list[str] = []
    if engine.dialect.name != "sqlite":

        def counted(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            ran.append(statement)

        event.listen(engine, "before_cursor_execute", counted)
        yield ran
        event.remove(engine, "before_cursor_execute", counted)
        return

    def traced(statement: str) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            ran.append(statement)

    def trace(dbapi_connection, *_args) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.set_trace_callback(traced)

    def untrace(dbapi_connection, *_args) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.set_trace_callback(None)

    event.listen(engine, "checkout", trace)
    event.listen(engine, "checkin", untrace)
    yield ran
    event.remove(engine, "checkout", trace)
    event.remove(engine, "checkin", untrace)


def test_a_two_turn_sms_dialogue_stays_within_its_statements(runtime, engine, statements):
    """Turn 1: the load (with the redelivery check), the new conversation, the log. Turn 2 adds the order,
    the failure count and the verified order (for support's search); the save carries the recount;
    PostgreSQL takes both locks in one statement."""
    per_turn = []
    for number, text in enumerate(["where is order 1042", "jane.doe@example.com"]):
        statements.clear()
        msg = InboundMessage("sms", "+15550004", text, datetime.now(UTC), provider_message_id=f"SM{number}")
        asyncio.run(runtime.handler.handle(msg))
        per_turn.append(len(statements))
    locks = 1 if engine.dialect.name == "postgresql" else 0
    assert per_turn == [3, 6 + locks]


def test_the_first_message_of_a_new_chat_session_is_saved_without_a_load(runtime, statements):
    msg = InboundMessage("web", "session-digest-1", "where is order 1042", datetime.now(UTC))

    replies = asyncio.run(runtime.handler.start(msg))

    assert [reply.kind for reply in replies] == [ReplyKind.ASK_EMAIL]
    assert [statement.split()[0] for statement in statements] == ["INSERT", "INSERT"]


def test_a_new_chat_session_whose_key_was_taken_after_all_is_answered_in_that_conversation(runtime):
    taken = InboundMessage("web", "session-digest-2", "where is order 1042", datetime.now(UTC))
    asyncio.run(runtime.handler.handle(taken))

    again = InboundMessage("web", "session-digest-2", "jane.doe@example.com", datetime.now(UTC))
    replies = asyncio.run(runtime.handler.start(again))

    assert ReplyKind.ORDER_ANSWER in [reply.kind for reply in replies]
