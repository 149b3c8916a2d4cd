"""Engines are made here, per settings, never at import time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from anyio import to_thread
from sqlalchemy import Engine, event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import SQLModel, create_engine

from lumen_bot.ports import StoreUnavailable
from lumen_bot.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the schema created; SQLite tuned for concurrent readers and one writer."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    SQLModel.metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    if not _is_memory(dbapi_connection):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _is_memory(dbapi_connection: Any) -> bool:
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    return any(row[2] == "" for row in rows)


P = ParamSpec("P")
T = TypeVar("T")


async def run_query(engine: Engine, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking database work from async code.

    An embedded SQLite database answers in tens of microseconds, less than a hop to a worker thread
    costs, so its work runs inline; a networked database's work runs in a worker thread so the event
    loop keeps serving while it waits.
    """
    try:
        if engine.dialect.name == "sqlite":
            return work(*args, **kwargs)
        return await to_thread.run_sync(lambda: work(*args, **kwargs))
    except (OperationalError, InterfaceError, PoolTimeout) as error:
        raise StoreUnavailable(type(error).__name__) from error
