"""Orders from Shopify, live, through the Admin GraphQL API.

An order is looked up by its name ("#1042") with the ``orders(query: "name:…")`` connection. Its
fulfillments become shipments, one per tracking number (``trackingInfo { company number url }``), with
the estimated delivery and the last carrier update. Throttling is honoured: a ``THROTTLED`` error or a
429 is retried after the time the cost information says the bucket needs, within the lookup's deadline.

The same client names the order a webhook speaks of (``fulfillment_events/create`` carries only the
order's id) and registers Lumen's webhook subscriptions (``webhookSubscriptionCreate``).
"""

from __future__ import annotations

from dataclasses import dataclass
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
ORDER_NAME_QUERY = """
query LumenOrderName($id: ID!) {
  order(id: $id) { name }
}
"""
SUBSCRIBE_MUTATION = """
mutation LumenWebhook($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id }
    userErrors { field message }
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
    "READY_FOR_PICKUP": OrderStatus.OUT_FOR_DELIVERY,
    "LABEL_PRINTED": OrderStatus.PROCESSING,
    "LABEL_PURCHASED": OrderStatus.PROCESSING,
    "SUBMITTED": OrderStatus.PROCESSING,
    # A failed attempt, or a parcel the carrier could not deliver (on its way back): the shopper needs to act.
    "ATTEMPTED_DELIVERY": OrderStatus.EXCEPTION,
    "FAILURE": OrderStatus.EXCEPTION,
    "NOT_DELIVERED": OrderStatus.EXCEPTION,
}
_FAILED_FULFILLMENTS = frozenset({"CANCELLED", "ERROR", "FAILURE"})
# How far a parcel has come: a fulfilled order is out for delivery or delivered once all its parcels are
# (and in trouble as soon as one of them is).
_PROGRESS = (OrderStatus.PROCESSING, OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED)


@dataclass(frozen=True, slots=True)
class Subscribed:
    """What ``webhookSubscriptionCreate`` did for one topic."""

    topic: str
    subscription_id: str | None = None
    existed: bool = False
    """Shopify had this address for this topic already."""
    error: str | None = None


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

    async def order_name(self, order_id: str) -> str | None:
        """The name ("#1042") of the order whose numeric id a webhook gives; ``None`` when there is none."""
        variables = {"id": f"gid://shopify/Order/{order_id}"}
        data = await with_retries(SERVICE, self._timeout, lambda: self._graphql(ORDER_NAME_QUERY, variables))
        order = data.get("order")
        name = order.get("name") if isinstance(order, dict) else None
        return str(name) if name else None

    async def subscribe(self, topic: str, uri: str) -> Subscribed:
        """Subscribes ``uri`` to the webhook ``topic`` (a ``WebhookSubscriptionTopic`` such as
        ``ORDERS_UPDATED``); a subscription that exists already is not an error."""
        variables = {"topic": topic, "uri": uri}
        data = await with_retries(
            SERVICE, self._timeout, lambda: self._graphql(SUBSCRIBE_MUTATION, variables)
        )
        created = data.get("webhookSubscriptionCreate") or {}
        problems = [str(error.get("message", "")) for error in created.get("userErrors") or []]
        if any("already been taken" in problem for problem in problems):
            return Subscribed(topic, existed=True)
        if problems or not (created.get("webhookSubscription") or {}).get("id"):
            return Subscribed(topic, error="; ".join(problems)[:200] or "no subscription created")
        return Subscribed(topic, subscription_id=str(created["webhookSubscription"]["id"]))

    async def _query(self, order_number: str) -> dict[str, Any]:
        return await self._graphql(QUERY, {"query": f'name:"#{order_number}"'})

    async def _graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = {"query": query, "variables": variables}
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
            if any(s.status is OrderStatus.EXCEPTION for s in shipments):
                status = OrderStatus.EXCEPTION
            else:
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
