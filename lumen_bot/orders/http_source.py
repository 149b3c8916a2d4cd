"""Orders from the shop's own backend: ``GET {LUMEN_ORDER_HTTP_URL}/orders/{number}``.

The backend answers 200 with the JSON shape of :class:`HttpOrder` (README, "Order sources"), 404 when
there is no such order, and anything else when it cannot say. A bearer token authenticates Lumen.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lumen_bot.domain.identifiers import normalize_order_number
from lumen_bot.domain.orders import MaxLength, Order, OrderStatus, Shipment
from lumen_bot.orders.remote import get_response, raise_for_busy, with_retries
from lumen_bot.ports import OrderSourceUnavailable

SERVICE = "http"


class HttpShipment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: OrderStatus
    carrier: str | None = Field(default=None, max_length=MaxLength.CARRIER)
    tracking_number: str | None = Field(default=None, max_length=MaxLength.TRACKING_NUMBER)
    tracking_url: str | None = Field(default=None, max_length=MaxLength.TRACKING_URL)
    estimated_delivery: date | None = None
    last_update: datetime | None = None


class HttpOrder(BaseModel):
    """The documented answer of ``GET /orders/{number}``; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    number: str = Field(max_length=MaxLength.ORDER_NUMBER)
    email: str = Field(max_length=MaxLength.EMAIL)
    status: OrderStatus
    placed_at: datetime | None = None
    customer_name: str | None = Field(default=None, max_length=MaxLength.CUSTOMER_NAME)
    shipments: list[HttpShipment] = Field(default_factory=list, max_length=50)


class HttpOrderSource:
    def __init__(self, base_url: str, token: str | None, *, timeout: float) -> None:
        self._timeout = timeout
        headers = {"User-Agent": "Lumen", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, headers=headers)

    async def find(self, order_number: str) -> Order | None:
        return await with_retries(SERVICE, self._timeout, lambda: self._find(order_number))

    async def _find(self, order_number: str) -> Order | None:
        response = await get_response(self._client, "GET", f"/orders/{quote(order_number, safe='')}")
        if response.status_code == 404:
            return None
        raise_for_busy(SERVICE, response)
        try:
            found = HttpOrder.model_validate_json(response.content)
        except ValidationError as error:
            raise OrderSourceUnavailable(
                f"{SERVICE}: the answer is not an order: {error.error_count()} errors"
            ) from error
        if normalize_order_number(found.number) != order_number:
            raise OrderSourceUnavailable(f"{SERVICE}: asked for one order, got another")
        return Order(
            number=order_number,
            email=found.email,
            status=found.status,
            placed_at=found.placed_at,
            customer_name=found.customer_name,
            shipments=tuple(Shipment(**shipment.model_dump()) for shipment in found.shipments),
        )

    async def aclose(self) -> None:
        await self._client.aclose()
