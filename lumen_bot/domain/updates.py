"""Proactive shipping updates: which moves of an order are worth a message — pure, no I/O.

A subscription remembers the milestones the shopper already knows (those reached when they said yes);
each later milestone of each shipment is worth one message, never two. A milestone is keyed by the
shipment it belongs to, so an order of two parcels tells of each parcel's delivery.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from lumen_bot.domain.orders import Order, OrderStatus, Shipment


class Milestone(StrEnum):
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    """A delivery attempt failed, or the parcel is going back to the shop."""
    CANCELLED = "cancelled"
    RUNNING_LATE = "running_late"
    """The estimated delivery passed without delivery, or moved later."""


@dataclass(frozen=True, slots=True)
class Reached:
    """One milestone of one shipment (or of the order, before it has any)."""

    shipment_key: str
    milestone: Milestone
    detail: str = ""
    """What makes a repeat of the milestone a new one: the late ETA (``2026-12-03``), else ``""``."""

    @property
    def key(self) -> tuple[str, str]:
        """What is told at most once per subscription."""
        event = f"{self.milestone.value}:{self.detail}" if self.detail else self.milestone.value
        return (self.shipment_key, event)


ORDER_KEY = "order"
"""The shipment key of milestones of the order itself (cancelled before anything shipped)."""

_PROGRESS = {
    OrderStatus.SHIPPED: (Milestone.SHIPPED,),
    OrderStatus.OUT_FOR_DELIVERY: (Milestone.SHIPPED, Milestone.OUT_FOR_DELIVERY),
    OrderStatus.DELIVERED: (Milestone.SHIPPED, Milestone.DELIVERED),
    OrderStatus.EXCEPTION: (Milestone.SHIPPED, Milestone.EXCEPTION),
    OrderStatus.CANCELLED: (Milestone.CANCELLED,),
}


def shipment_key(shipment: Shipment, index: int) -> str:
    """A shipment's stable name: its tracking number, else its place in the order."""
    return shipment.tracking_number or f"#{index + 1}"


def reached(order: Order, today: date) -> list[Reached]:
    """Every milestone the order has reached, as of ``today`` in the shop's timezone."""
    if not order.shipments:
        if order.status is OrderStatus.CANCELLED:
            return [Reached(ORDER_KEY, Milestone.CANCELLED)]
        return []
    found: list[Reached] = []
    for index, shipment in enumerate(order.shipments):
        key = shipment_key(shipment, index)
        found += [Reached(key, milestone) for milestone in _PROGRESS.get(shipment.status, ())]
        eta = shipment.estimated_delivery
        if eta is not None and eta < today and shipment.status in _UNDELIVERED:
            found.append(Reached(key, Milestone.RUNNING_LATE, eta.isoformat()))
    return found


_UNDELIVERED = frozenset({OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.EXCEPTION})


def is_settled(order: Order) -> bool:
    """Nothing more will happen to the order: every shipment delivered or cancelled."""
    statuses = [shipment.status for shipment in order.shipments] or [order.status]
    return all(status in (OrderStatus.DELIVERED, OrderStatus.CANCELLED) for status in statuses)


ESTIMATE = "eta"
"""The event of a notice recording the estimated delivery a shopper knows of a shipment
(``eta:2026-12-01``): an estimate later than every one known is news (running late)."""

_NOT_SETTLED = frozenset(
    status for status in OrderStatus if status not in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)
)


def estimates(order: Order) -> list[tuple[str, str]]:
    """The estimated delivery of each shipment still to arrive, as notice keys (``"eta:2026-12-01"``)."""
    return [
        (shipment_key(shipment, index), f"{ESTIMATE}:{shipment.estimated_delivery.isoformat()}")
        for index, shipment in enumerate(order.shipments)
        if shipment.estimated_delivery is not None and shipment.status in _NOT_SETTLED
    ]


def moved_later(order: Order, known: Collection[tuple[str, str]], today: date) -> list[Reached]:
    """Shipments still to arrive whose estimated delivery moved past every estimate known of them (``known``:
    recorded notice keys), to a day not gone yet: running late, with the new estimate as the detail. A
    shipment with no known estimate has nothing to be late against."""
    latest: dict[str, date] = {}
    for key, event in known:
        name, _, day = event.partition(":")
        if name == ESTIMATE:
            latest[key] = max(date.fromisoformat(day), latest.get(key, date.min))
    found = []
    for index, shipment in enumerate(order.shipments):
        key, eta = shipment_key(shipment, index), shipment.estimated_delivery
        if (
            eta is not None
            and shipment.status in _NOT_SETTLED
            and key in latest
            and eta > latest[key]
            and eta >= today
        ):
            found.append(Reached(key, Milestone.RUNNING_LATE, eta.isoformat()))
    return found
