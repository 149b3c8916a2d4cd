"""Orders from WooCommerce, live, through the REST API v3 (``/wp-json/wc/v3``).

An order is found by its number: directly (``/orders/{id}``, where the number is the id, as it is by
default) and otherwise by ``/orders?search=…``, keeping only the order whose ``number`` matches — shops
with a sequential-numbers plugin have numbers that differ from ids. Tracking comes from the order meta
``_wc_shipment_tracking_items`` that the WooCommerce Shipment Tracking extension (and Advanced Shipment
Tracking, which shares it) writes. Authentication is HTTP Basic with the consumer key and secret, which
WooCommerce accepts over HTTPS.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from lumen_bot.domain.carriers import carrier_named
from lumen_bot.domain.identifiers import normalize_order_number
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.orders.remote import get_response, raise_for_busy, with_retries
from lumen_bot.ports import OrderSourceUnavailable

SERVICE = "woocommerce"
TRACKING_META = "_wc_shipment_tracking_items"
_CANCELLED = frozenset({"cancelled", "refunded", "failed"})


class WooCommerceSource:
    def __init__(self, base_url: str, consumer_key: str, consumer_secret: str, *, timeout: float) -> None:
        self._timeout = timeout
        self._client = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/wp-json/wc/v3",
            auth=(consumer_key, consumer_secret),
            timeout=timeout,
            headers={"User-Agent": "Lumen"},
        )

    async def find(self, order_number: str) -> Order | None:
        return await with_retries(SERVICE, self._timeout, lambda: self._find(order_number))

    async def _find(self, order_number: str) -> Order | None:
        if order_number.isdigit():
            response = await get_response(self._client, "GET", f"/orders/{order_number}")
            if response.status_code != 404:
                raise_for_busy(SERVICE, response)
                found = _json(response)
                if isinstance(found, dict) and _number(found) == order_number:
                    return _order(order_number, found)
        response = await get_response(
            self._client, "GET", "/orders", params={"search": order_number, "per_page": 20}
        )
        raise_for_busy(SERVICE, response)
        candidates = _json(response)
        if not isinstance(candidates, list):
            raise OrderSourceUnavailable(f"{SERVICE}: the search did not answer with a list")
        for candidate in candidates:
            if isinstance(candidate, dict) and _number(candidate) == order_number:
                return _order(order_number, candidate)
        return None

    async def aclose(self) -> None:
        await self._client.aclose()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise OrderSourceUnavailable(f"{SERVICE}: the answer is not JSON") from error


def _number(order: dict[str, Any]) -> str:
    return normalize_order_number(str(order.get("number") or order.get("id") or ""))


def _order(number: str, order: dict[str, Any]) -> Order:
    shipments = tuple(_shipment(item) for item in _tracking_items(order))
    woo_status = str(order.get("status") or "")
    if woo_status in _CANCELLED:
        status = OrderStatus.CANCELLED
    elif woo_status == "completed" or shipments:
        status = OrderStatus.SHIPPED
    else:
        status = OrderStatus.PROCESSING
    billing = order.get("billing") or {}
    name = " ".join(part for part in (billing.get("first_name"), billing.get("last_name")) if part) or None
    return Order(
        number=number,
        email=str(billing.get("email") or ""),
        status=status,
        placed_at=_moment(order.get("date_created_gmt")),
        customer_name=name,
        shipments=shipments,
    )


def _tracking_items(order: dict[str, Any]) -> list[dict[str, Any]]:
    for meta in order.get("meta_data") or []:
        if (
            isinstance(meta, dict)
            and meta.get("key") == TRACKING_META
            and isinstance(meta.get("value"), list)
        ):
            return [item for item in meta["value"] if isinstance(item, dict) and item.get("tracking_number")]
    return []


def _shipment(item: dict[str, Any]) -> Shipment:
    provider = str(item.get("custom_tracking_provider") or item.get("tracking_provider") or "").strip()
    known = carrier_named(provider) if provider else None
    return Shipment(
        status=OrderStatus.SHIPPED,
        carrier=known.name if known else provider or None,
        tracking_number=str(item["tracking_number"]).strip(),
        tracking_url=str(item.get("custom_tracking_link") or "").strip() or None,
    )


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    # The *_gmt fields are UTC without saying so.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
