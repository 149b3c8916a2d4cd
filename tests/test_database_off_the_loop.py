"""A database that makes Lumen wait never stalls the server: SQL that may wait runs off the event loop.

Another process holding SQLite's write lock (a backup, an import, a second worker) delays only the
messages that must write; the event loop keeps serving everything else meanwhile. What cannot wait — a
WAL read by key, a commit tried without waiting for the lock — runs in the loop, where a thread would cost
more than the work.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from channels.app import Runtime, build_runtime
from lumen_bot.domain.messages import InboundMessage, ReplyKind
from lumen_bot.settings import load_settings
from lumen_bot.store.database import make_engine
from lumen_bot.store.orders import import_file
from tests.conftest import FIXTURES, Clock

# Loop turns that must pass while the message waits for the lock: far more than a blocked loop allows.
TURNS = 50


@pytest.fixture
def database_file(tmp_path: Path) -> Path:
    path = tmp_path / "lumen.db"
    engine = make_engine(f"sqlite:///{path}")
    import_file(engine, FIXTURES / "orders.csv")
    engine.dispose()
    return path


@pytest.fixture
def runtime(database_file: Path, clock: Clock) -> Iterator[Runtime]:
    yield build_runtime(load_settings(database_url=f"sqlite:///{database_file}"), clock=clock)


@pytest.fixture
def write_lock(database_file: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock until the test commits it."""
    other = sqlite3.connect(database_file, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO opt_outs (channel, address, created_at) VALUES ('sms', '+1555', '2026-11-28')")
    yield other
    other.close()


def message(text: str) -> InboundMessage:
    return InboundMessage("web", "shopper-1", text, datetime.now(UTC))


def test_while_a_message_waits_for_the_write_lock_the_event_loop_keeps_turning(runtime, write_lock):
    async def scenario() -> tuple[int, bool, list[ReplyKind]]:
        waiting = asyncio.create_task(runtime.handler.handle(message("where is order 1042")))
        turns = 0
        while turns < TURNS and not waiting.done():
            await asyncio.sleep(0.005)
            turns += 1
        still_waiting = not waiting.done()
        write_lock.execute("COMMIT")
        replies = await waiting
        await runtime.aclose()
        return turns, still_waiting, [reply.kind for reply in replies]

    turns, still_waiting, kinds = asyncio.run(scenario())

    assert (turns, still_waiting) == (TURNS, True)
    assert kinds == [ReplyKind.ASK_EMAIL]


def test_a_message_that_needs_no_write_is_answered_while_the_lock_is_held(runtime, write_lock):
    async def scenario() -> list[ReplyKind]:
        # A redelivery is answered from the message log: reading is all it needs.
        first = message("where is order 1042")
        first = InboundMessage(first.channel, first.conversation_key, first.text, first.received_at, "SM1")
        write_lock.execute("COMMIT")
        await runtime.handler.handle(first)
        write_lock.execute("BEGIN EXCLUSIVE")
        write_lock.execute("DELETE FROM opt_outs")
        replies = await runtime.handler.handle(first)
        write_lock.execute("COMMIT")
        await runtime.aclose()
        return [reply.kind for reply in replies]

    assert asyncio.run(scenario()) == [ReplyKind.ASK_EMAIL]


def test_on_a_sqlite_file_a_turn_reads_and_commits_in_the_event_loop_when_nothing_holds_the_lock(runtime):
    threads: set[str] = set()

    def seen(_statement: str) -> None:
        threads.add(threading.current_thread().name)

    def trace(dbapi_connection, *_args) -> None:  # type: ignore[no-untyped-def]
        # At the driver: the turn's statements do not pass SQLAlchemy's execution events.
        dbapi_connection.set_trace_callback(seen)

    engine = runtime.database.engine
    event.listen(engine, "checkout", trace)
    try:
        asyncio.run(runtime.handler.handle(message("where is order 1042")))
        asyncio.run(runtime.handler.handle(message("jane.doe@example.com")))
    finally:
        event.remove(engine, "checkout", trace)
        asyncio.run(runtime.aclose())

    assert threads == {threading.main_thread().name}


def test_a_commit_that_finds_the_write_lock_taken_is_saved_once_it_is_released(runtime, write_lock):
    async def scenario() -> list[ReplyKind]:
        waiting = asyncio.create_task(runtime.handler.handle(message("where is order 1042")))
        await asyncio.sleep(0.2)
        write_lock.execute("COMMIT")
        replies = await waiting
        await runtime.aclose()
        return [reply.kind for reply in replies]

    assert asyncio.run(scenario()) == [ReplyKind.ASK_EMAIL]
    with sqlite3.connect(runtime.database.engine.url.database) as reader:
        assert reader.execute("SELECT count(*) FROM messages").fetchone() == (1,)
