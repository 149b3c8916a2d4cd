"""Statements of a message's turn, run the cheapest way their database allows.

On SQLite a lookup through SQLAlchemy Core takes about 30 µs, of which the driver's own work is 3 µs: the
rest is Core's per-execution machinery (an execution context, parameter and result handling set up anew,
events looked up), and a turn runs four or five such statements. :class:`Prepared` compiles a Core
statement once per dialect and, on SQLite, hands its SQL and parameters — converted by the statement's
own types' bind processors, exactly as Core would — to the driver's cursor, and its rows back through the
column types' result processors. On other databases it is ``Connection.execute``: a network round trip
dwarfs Core's share there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


class Rows(Protocol):
    """What a turn reads of a statement's result, by position: a driver cursor or a Core result alike."""

    rowcount: int

    def fetchone(self) -> Sequence[Any] | None: ...

    def fetchall(self) -> Sequence[Sequence[Any]]: ...


_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    """The parameters in the order of the SQL's placeholders (a name may come more than once)."""
    binds: tuple[_Processor, ...]
    fixed: dict[str, Any]
    """The values the statement carries itself (``status == "pending"``), beside the caller's."""
    results: tuple[_Processor, ...] | None
    """Per result column, what turns the driver's value into the column type's; ``None`` when none does."""


@dataclass(slots=True)
class _Processed:
    """A driver cursor's rows with the column types' result processing applied."""

    rows: list[tuple[Any, ...]]
    rowcount: int

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


class Prepared:
    """One Core statement; ``columns``: the parameters an INSERT is given (its compiled form names them)."""

    __slots__ = ("_columns", "_compiled", "_statement")

    def __init__(self, statement: ClauseElement, columns: Sequence[str] | None = None) -> None:
        self._statement = statement
        self._columns = list(columns) if columns is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def run(self, connection: Connection, params: Mapping[str, Any]) -> Rows:
        """The statement with ``params`` in ``connection``'s transaction."""
        dialect = connection.dialect
        if dialect.name != "sqlite":
            return connection.execute(self._statement, params)  # type: ignore[call-overload,no-any-return]
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        if compiled.fixed:
            params = {**compiled.fixed, **params}
        values = [
            params[name] if process is None else process(params[name])
            for name, process in zip(compiled.names, compiled.binds, strict=True)
        ]
        try:
            cursor = connection.connection.driver_connection.execute(compiled.sql, values)  # type: ignore[union-attr]
            if compiled.results is None:
                return cursor  # type: ignore[no-any-return]
            return _Processed(
                [_processed(row, compiled.results) for row in cursor.fetchall()], cursor.rowcount
            )
        except dialect.loaded_dbapi.Error as error:
            # The errors Core would raise (IntegrityError, OperationalError …), so callers handle one kind.
            raise DBAPIError.instance(compiled.sql, values, error, dialect.loaded_dbapi.Error) from error

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect, column_keys=self._columns)
        names = tuple(compiled.positiontup or ())
        binds = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        )
        columns = getattr(self._statement, "selected_columns", ())
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        fixed = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        prepared = _Compiled(compiled.string, names, binds, fixed, results if any(results) else None)
        self._compiled[dialect.name] = prepared
        return prepared


def _processed(row: Sequence[Any], processors: tuple[_Processor, ...]) -> tuple[Any, ...]:
    return tuple(
        value if process is None else process(value) for value, process in zip(row, processors, strict=True)
    )
