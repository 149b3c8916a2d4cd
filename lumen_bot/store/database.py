"""Engines are made here, per settings, never at import time."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from anyio import to_thread
from sqlalchemy import Engine, event, inspect
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import SQLModel, create_engine

from lumen_bot.ports import StoreUnavailable
from lumen_bot.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the schema created or upgraded; SQLite tuned for concurrent readers and
    one writer."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    prepare_schema(engine)
    return engine


def prepare_schema(engine: Engine) -> None:
    """Create the schema in an empty database; upgrade an older one with the migrations.

    A database of Lumen 0.1 (tables, no ``alembic_version``) is taken as the baseline revision first.
    """
    with engine.begin() as connection:
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
