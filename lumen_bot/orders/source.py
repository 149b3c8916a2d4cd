"""The embedded order source: orders imported into Lumen's own database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from lumen_bot.orders.model import Order, OrderStatus, Shipment
from lumen_bot.ports import OrderSourceUnavailable
from lumen_bot.store.database import run_query
from lumen_bot.store.tables import OrderRow, ShipmentRow

_ORDER = OrderRow.__table__  # type: ignore[attr-defined]
_SHIPMENT = ShipmentRow.__table__  # type: ignore[attr-defined]
# Built once so its compiled form is reused. One round trip: the order left-joined with its shipments.
_FIND = (
    select(
        _ORDER,
        _SHIPMENT.c.status.label("s_status"),
        _SHIPMENT.c.carrier,
        _SHIPMENT.c.tracking_number,
        _SHIPMENT.c.tracking_url,
        _SHIPMENT.c.estimated_delivery,
    )
    .select_from(_ORDER.outerjoin(_SHIPMENT, _SHIPMENT.c.order_id == _ORDER.c.id))
    .where(_ORDER.c.number == bindparam("number"))
    .order_by(_SHIPMENT.c.position)
)


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class SqlOrderSource:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def find(self, order_number: str) -> Order | None:
        return await run_query(self._engine, self.find_now, order_number)

    def find_now(self, order_number: str) -> Order | None:
        # One round trip: the order left-joined with its shipments.
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(_FIND, {"number": order_number}).all()
        except SQLAlchemyError as error:
            raise OrderSourceUnavailable(str(error)) from error
        if not rows:
            return None
        first = rows[0]
        shipments = tuple(
            Shipment(
                status=OrderStatus(row.s_status),
                carrier=row.carrier,
                tracking_number=row.tracking_number,
                tracking_url=row.tracking_url,
                estimated_delivery=row.estimated_delivery,
            )
            for row in rows
            if row.s_status is not None
        )
        return Order(
            number=first.number,
            email=first.email,
            status=OrderStatus(first.status),
            # SQLite returns stored UTC times without their offset.
            placed_at=_as_utc(first.placed_at),
            customer_name=first.customer_name,
            shipments=shipments,
        )
