"""A prepared statement gives what SQLAlchemy Core gives for the same statement — the same SQL, the same
conversion of datetimes and dates both ways, the same errors — on SQLite through the driver directly."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from lumen_bot.store.prepared import Prepared
from lumen_bot.store.tables import ConversationRow, OrderRow, ShipmentRow

CONVERSATION = ConversationRow.__table__  # type: ignore[attr-defined]
ORDER = OrderRow.__table__  # type: ignore[attr-defined]
SHIPMENT = ShipmentRow.__table__  # type: ignore[attr-defined]
MOMENT = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
CREATE = Prepared(
    insert(CONVERSATION).returning(CONVERSATION.c.id),
    ["channel", "key", "state", "version", "created_at", "updated_at"],
)
ROW = {"channel": "web", "key": "k1", "state": "{}", "version": 1, "created_at": MOMENT, "updated_at": MOMENT}
SINCE = select(CONVERSATION.c.key, CONVERSATION.c.created_at).where(
    CONVERSATION.c.created_at >= bindparam("since")
)


def test_an_insert_returns_its_new_id_and_stores_the_datetime_as_core_would(engine: Engine):
    with engine.begin() as connection:
        new_id = CREATE.run(connection, ROW).fetchone()
        core = connection.execute(
            insert(CONVERSATION).returning(CONVERSATION.c.id), {**ROW, "key": "k2"}
        ).one()
        stored = (
            connection.execute(select(CONVERSATION.c.created_at).order_by(CONVERSATION.c.id)).scalars().all()
        )

    assert new_id is not None and new_id[0] == core[0] - 1
    assert stored[0] == stored[1]


def test_a_datetime_parameter_compares_as_it_does_through_core(engine: Engine):
    with engine.begin() as connection:
        CREATE.run(connection, ROW)
    with engine.connect() as connection:
        prepared = [tuple(row) for row in Prepared(SINCE).run(connection, {"since": MOMENT}).fetchall()]
        core = [tuple(row) for row in connection.execute(SINCE, {"since": MOMENT}).all()]
        later = Prepared(SINCE).run(connection, {"since": datetime(2026, 12, 2, tzinfo=UTC)}).fetchall()

    assert prepared == core and len(core) == 1
    assert list(later) == []


def test_dates_and_datetimes_come_back_as_their_column_types(engine: Engine):
    with engine.begin() as connection:
        order = connection.execute(
            insert(ORDER).returning(ORDER.c.id),
            {
                "number": "1042",
                "email": "a@b.example",
                "status": "shipped",
                "placed_at": MOMENT,
                "updated_at": MOMENT,
            },
        ).scalar_one()
        connection.execute(
            insert(SHIPMENT),
            {"order_id": order, "position": 0, "status": "shipped", "estimated_delivery": date(2026, 12, 4)},
        )
    statement = select(ORDER.c.placed_at, SHIPMENT.c.estimated_delivery).join(
        SHIPMENT, SHIPMENT.c.order_id == ORDER.c.id
    )
    with engine.connect() as connection:
        prepared = Prepared(statement).run(connection, {}).fetchone()
        core = connection.execute(statement).one()

    assert prepared is not None and tuple(prepared) == tuple(core)
    assert isinstance(prepared[1], date)


def test_a_value_the_statement_carries_itself_is_bound_with_the_callers(engine: Engine):
    with engine.begin() as connection:
        CREATE.run(connection, ROW)
        moved = Prepared(
            update(CONVERSATION).where(CONVERSATION.c.version == 1).values(version=bindparam("version"))
        ).run(connection, {"version": 2})

    assert moved.rowcount == 1


def test_a_broken_constraint_raises_sqlalchemys_integrity_error(engine: Engine):
    with pytest.raises(IntegrityError), engine.begin() as connection:
        CREATE.run(connection, ROW)
        CREATE.run(connection, ROW)
