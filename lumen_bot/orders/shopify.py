"""Orders from Shopify, live, through the Admin GraphQL API.

An order is looked up by its name ("#1042") with the ``orders(query: "name:…")`` connection. Its
fulfillments become shipments, one per tracking number (``trackingInfo { company number url }``), with
the estimated delivery and the last carrier update. Throttling is honoured: a ``THROTTLED`` error or a
429 is retried after the time the cost information says the bucket needs, within the lookup's deadline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from lumen_bot.domain.identifiers import normalize_order_number
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.orders.remote import Busy, get_response, raise_for_busy, with_retries
from lumen_bot.ports import OrderSourceUnavailable

SERVICE = "shopify"
QUERY = """
query LumenOrder($query: String!) {
  orders(first: 5, query: $query) {
    nodes {
      name
      email
      createdAt
      cancelledAt
      displayFulfillmentStatus
      customer { displayName }
      fulfillments(first: 20) {
        status
        displayStatus
        createdAt
        updatedAt
        inTransitAt
        deliveredAt
        estimatedDeliveryAt
        trackingInfo(first: 10) { company number url }
      }
    }
  }
}
"""
# Order.displayFulfillmentStatus → Lumen's order status (cancellation is read from cancelledAt first).
_ORDER_STATUS = {
    "FULFILLED": OrderStatus.SHIPPED,
    "PARTIALLY_FULFILLED": OrderStatus.PARTIALLY_SHIPPED,
    "RESTOCKED": OrderStatus.CANCELLED,
}
# Fulfillment.displayStatus → a shipment's status; anything else a fulfillment can be is "shipped".
_SHIPMENT_STATUS = {
    "DELIVERED": OrderStatus.DELIVERED,
    "PICKED_UP": OrderStatus.DELIVERED,
    "OUT_FOR_DELIVERY": OrderStatus.OUT_FOR_DELIVERY,
    "ATTEMPTED_DELIVERY": OrderStatus.OUT_FOR_DELIVERY,
    "READY_FOR_PICKUP": OrderStatus.OUT_FOR_DELIVERY,
    "LABEL_PRINTED": OrderStatus.PROCESSING,
    "LABEL_PURCHASED": OrderStatus.PROCESSING,
    "SUBMITTED": OrderStatus.PROCESSING,
}
_FAILED_FULFILLMENTS = frozenset({"CANCELLED", "ERROR", "FAILURE"})
# How far a parcel has come: a fulfilled order is out for delivery or delivered once all its parcels are.
_PROGRESS = (OrderStatus.PROCESSING, OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED)


class ShopifySource:
    def __init__(self, store_url: str, access_token: str, api_version: str, *, timeout: float) -> None:
        self._url = f"{store_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self._timeout = timeout
        self._client = httpx.AsyncClient(
            timeout=timeout, headers={"X-Shopify-Access-Token": access_token, "User-Agent": "Lumen"}
        )

    async def find(self, order_number: str) -> Order | None:
        data = await with_retries(SERVICE, self._timeout, lambda: self._query(order_number))
        for node in data["orders"]["nodes"]:
            # Search is fuzzy ("name:1042" also finds "#10421" on some stores): keep the exact name only.
            if normalize_order_number(str(node.get("name", ""))) == order_number:
                return _order(order_number, node)
        return None

    async def _query(self, order_number: str) -> dict[str, Any]:
        body = {"query": QUERY, "variables": {"query": f'name:"#{order_number}"'}}
        response = await get_response(self._client, "POST", self._url, json=body)
        raise_for_busy(SERVICE, response)
        try:
            payload = response.json()
        except ValueError as error:
            raise OrderSourceUnavailable(f"{SERVICE}: the answer is not JSON") from error
        errors = payload.get("errors") or []
        if any(_code(error) == "THROTTLED" for error in errors):
            raise Busy("throttled", _throttle_wait(payload))
        if errors or not isinstance(payload.get("data"), dict):
            raise OrderSourceUnavailable(f"{SERVICE}: {_first_message(errors)}")
        return payload["data"]

    async def aclose(self) -> None:
        await self._client.aclose()


def _code(error: Any) -> str | None:
    return (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None


def _first_message(errors: list[Any]) -> str:
    first = errors[0] if errors else {}
    return str(first.get("message", "no data"))[:200] if isinstance(first, dict) else "no data"


def _throttle_wait(payload: dict[str, Any]) -> float | None:
    """Seconds until the bucket holds the query's cost again (Shopify's leaky-bucket arithmetic)."""
    cost = (payload.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.0, missing / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def _order(number: str, node: dict[str, Any]) -> Order:
    shipments = tuple(
        shipment
        for fulfillment in node.get("fulfillments") or []
        if fulfillment.get("status") not in _FAILED_FULFILLMENTS
        for shipment in _shipments(fulfillment)
    )
    if node.get("cancelledAt"):
        status = OrderStatus.CANCELLED
    else:
        status = _ORDER_STATUS.get(node.get("displayFulfillmentStatus") or "", OrderStatus.PROCESSING)
        if status is OrderStatus.SHIPPED and shipments:
            least = min((s.status for s in shipments), key=_PROGRESS.index)
            if least in (OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED):
                status = least
    customer = node.get("customer") or {}
    return Order(
        number=number,
        email=str(node.get("email") or ""),
        status=status,
        placed_at=_moment(node.get("createdAt")),
        customer_name=customer.get("displayName"),
        shipments=shipments,
    )


def _shipments(fulfillment: dict[str, Any]) -> list[Shipment]:
    status = _SHIPMENT_STATUS.get(fulfillment.get("displayStatus") or "", OrderStatus.SHIPPED)
    estimate = _moment(fulfillment.get("estimatedDeliveryAt"))
    last_update = _moment(
        fulfillment.get("deliveredAt") or fulfillment.get("updatedAt") or fulfillment.get("inTransitAt")
    )
    common = {
        "status": status,
        "estimated_delivery": estimate.date() if estimate else None,
        "last_update": last_update,
    }
    tracking = fulfillment.get("trackingInfo") or []
    if not tracking:
        return [Shipment(**common)]  # type: ignore[arg-type]
    return [
        Shipment(
            carrier=info.get("company") or None,
            tracking_number=info.get("number") or None,
            tracking_url=info.get("url") or None,
            **common,  # type: ignore[arg-type]
        )
        for info in tracking
    ]


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
