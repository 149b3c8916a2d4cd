"""The embedded orders: imported into Lumen's own database, and looked up there.

Writing is all at once: every order of an import is inserted or updated, its shipments replaced, in one
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from lumen_bot.domain.order_file import ImportSummary, parse_orders
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.ports import OrderSourceUnavailable
from lumen_bot.store.database import Database
from lumen_bot.store.prepared import Prepared
from lumen_bot.store.tables import OrderRow, ShipmentRow

_ORDER = OrderRow.__table__  # type: ignore[attr-defined]
_SHIPMENT = ShipmentRow.__table__  # type: ignore[attr-defined]
# Built once so its compiled form is reused. One round trip: the order left-joined with its shipments.
_FIND = Prepared(
    select(
        _ORDER.c.number,
        _ORDER.c.email,
        _ORDER.c.status,
        _ORDER.c.placed_at,
        _ORDER.c.customer_name,
        _SHIPMENT.c.status,
        _SHIPMENT.c.carrier,
        _SHIPMENT.c.tracking_number,
        _SHIPMENT.c.tracking_url,
        _SHIPMENT.c.estimated_delivery,
    )
    .select_from(_ORDER.outerjoin(_SHIPMENT, _SHIPMENT.c.order_id == _ORDER.c.id))
    .where(_ORDER.c.number == bindparam("number"))
    .order_by(_SHIPMENT.c.position)
)
_ANY_ORDER = select(_ORDER.c.id).limit(1)
# Below SQLite's and PostgreSQL's limits on parameters per statement.
_CHUNK = 1000


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class SqlOrderSource:
    """Implements the ``OrderSource`` port on the embedded orders."""

    def __init__(self, database: Database) -> None:
        self._database = database
        # The lookup is one statement: no transaction of its own (see ``Database.single_reads``).
        self._reads = database.single_reads

    async def find(self, order_number: str) -> Order | None:
        return await self._database.lookup(self.find_now, order_number)

    def find_now(self, order_number: str) -> Order | None:
        # One round trip: the order left-joined with its shipments.
        try:
            with self._reads.connect() as connection:
                rows = _FIND.run(connection, {"number": order_number}).fetchall()
        except SQLAlchemyError as error:
            raise OrderSourceUnavailable(str(error)) from error
        if not rows:
            return None
        number, email, status, placed_at, customer_name = rows[0][:5]
        shipments = tuple(
            Shipment(
                status=OrderStatus(shipment_status),
                carrier=carrier,
                tracking_number=tracking_number,
                tracking_url=tracking_url,
                estimated_delivery=estimated_delivery,
            )
            for shipment_status, carrier, tracking_number, tracking_url, estimated_delivery in (
                row[5:] for row in rows
            )
            if shipment_status is not None
        )
        return Order(
            number=number,
            email=email,
            status=OrderStatus(status),
            # SQLite returns stored UTC times without their offset.
            placed_at=_as_utc(placed_at),
            customer_name=customer_name,
            shipments=shipments,
        )


class SqlOrderBook:
    """Implements the ``OrderBook`` port: imports into the embedded orders."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def write(self, orders: Sequence[Order]) -> ImportSummary:
        return await self._database.write(write_orders, self._database.engine, orders)

    async def is_empty(self) -> bool:
        return await self._database.read(is_empty, self._database.engine)


def import_file(engine: Engine, path: Path) -> ImportSummary:
    """Import the orders of a CSV or JSON Lines file: all of them, or none when any row is bad."""
    return write_orders(engine, parse_orders(path.read_bytes(), name=path.name))


def write_orders(engine: Engine, orders: Sequence[Order]) -> ImportSummary:
    """Insert new orders and update known ones (replacing their shipments), in one transaction."""
    numbers = {order.number for order in orders}
    if len(numbers) != len(orders):
        raise ValueError("each order number may occur only once")
    shipment_count = sum(len(order.shipments) for order in orders)
    if orders:
        with engine.begin() as connection:
            ids = _upsert_orders(connection, orders)
            _replace_shipments(connection, orders, ids)
    return ImportSummary(orders=len(orders), shipments=shipment_count)


def is_empty(engine: Engine) -> bool:
    """Whether there are no orders yet."""
    with engine.connect() as connection:
        return connection.execute(_ANY_ORDER).first() is None


def _upsert_orders(connection: Connection, orders: Sequence[Order]) -> dict[str, int]:
    """The id of each order by number, after inserting the new ones and updating the known ones."""
    # ON CONFLICT is spelt the same by both databases Lumen runs on, but lives in their dialects.
    dialect_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[connection.dialect.name]
    statement = dialect_insert(_ORDER)
    updated = ("email", "status", "placed_at", "customer_name", "updated_at")
    statement = statement.on_conflict_do_update(
        index_elements=[_ORDER.c.number],
        set_={name: statement.excluded[name] for name in updated},
    ).returning(_ORDER.c.id, _ORDER.c.number)
    now = datetime.now(UTC)
    values = [
        {
            "number": order.number,
            "email": order.email,
            "status": order.status.value,
            "placed_at": order.placed_at,
            "customer_name": order.customer_name,
            "updated_at": now,
        }
        for order in orders
    ]
    return {number: order_id for order_id, number in connection.execute(statement, values)}


def _replace_shipments(connection: Connection, orders: Sequence[Order], ids: dict[str, int]) -> None:
    order_ids = list(ids.values())
    for start in range(0, len(order_ids), _CHUNK):
        chunk = order_ids[start : start + _CHUNK]
        connection.execute(delete(_SHIPMENT).where(_SHIPMENT.c.order_id.in_(chunk)))
    values = [
        shipment.model_dump(exclude={"last_update"})  # a live source's field; imports have none
        | {"status": shipment.status.value, "order_id": ids[order.number], "position": position}
        for order in orders
        for position, shipment in enumerate(order.shipments)
    ]
    if values:
        connection.execute(insert(_SHIPMENT), values)
