"""Orders and shipments as the conversation sees them: plain, immutable facts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class MaxLength:
    """How long each field may be: the database's columns, the import's checks and the live sources'
    answers all hold to these."""

    ORDER_NUMBER = 40
    EMAIL = 254
    CUSTOMER_NAME = 200
    CARRIER = 100
    TRACKING_NUMBER = 100
    TRACKING_URL = 2000


class OrderStatus(StrEnum):
    PROCESSING = "processing"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    """A delivery attempt failed, or the parcel is on its way back to the shop."""
    CANCELLED = "cancelled"


class Shipment(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: OrderStatus
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    estimated_delivery: date | None = None
    last_update: datetime | None = None
    """When the carrier last reported on the parcel, when the source says."""


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: str
    """Normalized (see :func:`lumen_bot.domain.identifiers.normalize_order_number`)."""
    email: str
    status: OrderStatus
    placed_at: datetime | None = None
    customer_name: str | None = None
    shipments: tuple[Shipment, ...] = ()
