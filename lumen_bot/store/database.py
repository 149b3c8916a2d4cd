"""Lumen's own database: engines made per settings (never at import time), and SQL that may wait run off
the event loop.

Every statement that may wait runs in a worker thread of the :class:`Database`, so a slow or locked
database delays only the requests that wait for it: ``/healthz`` and the conversations that need no write
keep answering. (On a SQLite file, a turn's lookups and its commit, which cannot wait, run in the caller's
thread: :meth:`Database.lookup`, :meth:`Database.record`.) SQLite waits at most
:data:`SQLITE_BUSY_TIMEOUT_SECONDS` for another connection's write lock, then the work fails as
:class:`StoreUnavailable` and the shopper hears "try again in a few minutes".
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import SQLModel, create_engine

from lumen_bot.ports import StoreUnavailable
from lumen_bot.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)

# Long enough for another connection's write to finish; short enough that a shopper whose message is
# held up hears "try again" within a few seconds rather than waiting on a stuck lock.
SQLITE_BUSY_TIMEOUT_SECONDS = 5.0
_BUSY_TIMEOUT_MS = int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)
# The same bound on PostgreSQL, for each wait a request can meet there: connecting, a connection from the
# pool, a lock, a statement. A stalled server then costs a shopper seconds, not the length of the stall.
POSTGRES_TIMEOUT_SECONDS = 5
_POSTGRES_TIMEOUT_MS = POSTGRES_TIMEOUT_SECONDS * 1000
# Threads for reading (and, on PostgreSQL, writing): fewer than SQLAlchemy's pool has connections (5, and
# 10 more under load), so a thread never waits for one. More would only contend for the interpreter.
_THREADS = 4

P = ParamSpec("P")
T = TypeVar("T")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the schema created or upgraded; SQLite tuned for concurrent readers and
    one writer."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    else:
        # A server may have dropped an idle connection; a file cannot.
        kwargs["pool_pre_ping"] = True
        kwargs["pool_timeout"] = POSTGRES_TIMEOUT_SECONDS
        kwargs["connect_args"] = {
            "connect_timeout": POSTGRES_TIMEOUT_SECONDS,
            "options": f"-c statement_timeout={_POSTGRES_TIMEOUT_MS} -c lock_timeout={_POSTGRES_TIMEOUT_MS}",
        }
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    prepare_schema(engine)
    return engine


class Database:
    """Runs blocking database work in threads of its own, translating an unreachable or locked database
    into :class:`StoreUnavailable`. Shared by every SQL adapter of one engine.

    SQLite takes one writer at a time, so this process's writes to it queue in one thread: they never
    wait in SQLite's busy handler for each other (it sleeps in steps of up to 100 ms), only for another
    process's lock. A write waits :data:`SQLITE_BUSY_TIMEOUT_SECONDS` in all, queue included.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # For reads of one statement, which see one snapshot with or without a transaction. On PostgreSQL
        # a transaction costs two more round trips (BEGIN, and ROLLBACK when the connection goes back to
        # the pool), so these run without one. SQLite needs no switch: its driver begins no transaction
        # for a SELECT, and changing its isolation level would cost a PRAGMA each time.
        self.single_reads = engine
        if engine.dialect.name == "postgresql":
            self.single_reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._readers = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="lumen-db")
        self._writer = self._readers
        self._budgeted = engine.dialect.name == "sqlite"
        # A SQLite file in WAL mode: a read never waits for a writer, and a write can be tried without
        # waiting. (An in-memory database keeps a rollback journal, where readers wait for writers.)
        self._in_caller = self._budgeted and not _is_memory_url(engine)
        if self._budgeted:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lumen-db-writer")
            # A pool event, not a connection event ("begin"): any connection event makes SQLAlchemy look
            # up its listeners around every statement.
            if not event.contains(engine, "checkout", _wait_within_budget):
                event.listen(engine, "checkout", _wait_within_budget)

    async def read(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)``, which only reads, in a worker thread."""
        return await self._run(self._readers, functools.partial(work, *args, **kwargs))

    async def write(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)``, a transaction that writes, in the writers' thread."""
        return await self._write(functools.partial(work, *args, **kwargs))

    async def _write(self, work: Callable[[], T]) -> T:
        if self._budgeted:
            work = functools.partial(_within, time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS, work)
        return await self._run(self._writer, work)

    # A message's turn reads a few rows by key and writes one short transaction. On a SQLite file, handing
    # each to a thread costs more CPU than the work (a wake-up, contention for the interpreter, a wake-up
    # back: about a fifth of a turn's CPU, measured with scripts/bench.py), so these two run in the
    # caller's thread there, when they cannot hold it up. Everything else, and PostgreSQL (every statement
    # a network round trip), stays in the threads.

    async def lookup(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Like :meth:`read`, for a read of a few rows by an indexed key: on a SQLite file it runs at once
        in the caller's thread (in WAL mode a read never waits for a writer)."""
        if not self._in_caller:
            return await self.read(work, *args, **kwargs)
        try:
            with _not_waiting():
                return work(*args, **kwargs)
        except (OperationalError, InterfaceError, PoolTimeout) as error:
            raise StoreUnavailable(type(error).__name__) from error

    async def record(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Like :meth:`write`, for a short transaction: on a SQLite file it is tried at once in the caller's
        thread without waiting for a lock; when another connection holds the write lock it was rolled
        back, and it waits its turn in the writers' thread as :meth:`write` does."""
        call = functools.partial(work, *args, **kwargs)
        if not self._in_caller:
            return await self._write(call)
        try:
            with _not_waiting():
                return call()
        except OperationalError as error:
            if not _is_busy(error):
                raise StoreUnavailable(type(error).__name__) from error
        except (InterfaceError, PoolTimeout) as error:
            raise StoreUnavailable(type(error).__name__) from error
        return await self._write(call)

    async def _run(self, threads: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        # The caller's context goes along, so log lines written in the thread keep the request id.
        call = functools.partial(contextvars.copy_context().run, work)
        try:
            return await asyncio.get_running_loop().run_in_executor(threads, call)
        except (OperationalError, InterfaceError, PoolTimeout) as error:
            raise StoreUnavailable(type(error).__name__) from error

    async def ping(self) -> None:
        """Raises :class:`StoreUnavailable` unless the database answers a query."""
        await self.read(self._select_one)

    def _select_one(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    async def aclose(self) -> None:
        """Wait for the work in progress; the threads end with it. (The engine is its maker's to dispose.)"""
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)


# How long the current thread's next SQLite transaction may wait for another process's lock (ms).
_budget = threading.local()


def _within(deadline: float, work: Callable[[], T]) -> T:
    """``work()`` with what is left of the write's time after its turn in the queue."""
    left = int((deadline - time.monotonic()) * 1000)
    if left <= 0:
        raise StoreUnavailable("the database stayed locked while this write waited its turn")
    _budget.ms = left
    return work()


@contextlib.contextmanager
def _not_waiting() -> Iterator[None]:
    """The current thread's transactions meanwhile do not wait for another connection's lock. (Reads in
    the caller's thread too, though in WAL mode they never wait: so its connections keep one timeout.)"""
    before = getattr(_budget, "ms", None)
    _budget.ms = 0
    try:
        yield
    finally:
        if before is None:
            del _budget.ms
        else:
            _budget.ms = before


# A connection's busy timeout counts as set when it is at most the budget and within this many ms below
# it. A write's budget is nearly always a few ms under the full 5 s (its moment in the queue): with an
# exact match every write lowered the timeout and the next read raised it again, a PRAGMA statement each.
_BUDGET_SLACK_MS = 100


def _wait_within_budget(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """Set the connection's busy timeout to the budget of the work that takes it from the pool (when it is
    not set so already).

    Never longer than the budget, so a write keeps its bound; up to :data:`_BUDGET_SLACK_MS` shorter. A
    budget of 0 (:meth:`Database.record` in the caller's thread) does not wait at all.
    """
    wanted = getattr(_budget, "ms", _BUSY_TIMEOUT_MS)
    current = record.info.get("busy_timeout_ms", _BUSY_TIMEOUT_MS)
    if current > wanted or current < wanted - _BUDGET_SLACK_MS:
        # Rounded down to a step, so the writes that follow (their budgets a little lower) match it too.
        wanted = wanted // _BUDGET_SLACK_MS * _BUDGET_SLACK_MS
        dbapi_connection.execute(f"PRAGMA busy_timeout={wanted}")
        record.info["busy_timeout_ms"] = wanted


def prepare_schema(engine: Engine) -> None:
    """Create the schema in an empty database; upgrade an older one with the migrations.

    A database of Lumen 0.1 (tables, no ``alembic_version``) is taken as the baseline revision first.

    On PostgreSQL the whole step holds an advisory lock (released with the transaction), so processes
    starting at once — replicas, ``lumen serve --workers`` — take turns: the first creates or upgrades the
    schema, the others then find it at the head revision. Without it, two would both find the database
    empty and both create the tables, and one start-up would fail.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Not a shopper's request: a migration may take longer than the 5 s bounds, and so may waiting
            # for another process's migration.
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
            connection.execute(_SCHEMA_LOCK)
        context = MigrationContext.configure(connection)
        current = context.get_current_revision()
        if current is None and not inspect(connection).has_table("conversations"):
            SQLModel.metadata.create_all(connection)
            context.stamp(_scripts(), "head")
            return
        if current == _scripts().get_current_head():
            return
        config = _config()
        config.attributes["connection"] = connection
        if current is None:
            command.stamp(config, _BASELINE)
        command.upgrade(config, "head")


_BASELINE = "0001"
# One fixed key for every Lumen process on the database: the 64-bit hash of a name no other lock uses (the
# conversation store's locks hash "verify-order:…" and "verify-email:…").
_SCHEMA_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('lumen:schema', 0))")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "lumen_bot.store:migrations")
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    if not _is_memory(dbapi_connection):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.close()


# SQLite's result codes for "another connection holds the lock" (the low byte of an extended code).
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _is_busy(error: OperationalError) -> bool:
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)


def _is_memory_url(engine: Engine) -> bool:
    database = engine.url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def _is_memory(dbapi_connection: Any) -> bool:
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    return any(row[2] == "" for row in rows)
