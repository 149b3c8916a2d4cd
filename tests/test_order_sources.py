"""Live order sources — Shopify (Admin GraphQL), WooCommerce (REST v3), a shop's own HTTP backend —
against a real server on loopback replaying answers in the shapes the platforms document."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from channels.app import build_order_source, build_runtime
from lumen_bot.domain.messages import ReplyKind
from lumen_bot.domain.orders import Order, OrderStatus
from lumen_bot.orders.remote import CachedSource
from lumen_bot.ports import OrderSourceUnavailable
from lumen_bot.settings import Settings, load_settings
from tests.conftest import Dialogue, LiveServer, ProviderApi, RecordedRequest

JANE = "jane.doe@example.com"
UPS_NUMBER = "1Z999AA10123456784"
Answer = tuple[int, Any, dict[str, str]]


def script(api: ProviderApi, *answers: Answer) -> None:
    """The server gives ``answers`` in turn, then its default."""
    queue = list(answers)

    def respond(_request: RecordedRequest) -> Answer:
        return queue.pop(0) if queue else api.default

    api.respond = respond  # type: ignore[method-assign]


def find(settings: Settings, number: str) -> Order | None:
    return asyncio.run(build_order_source(settings, None).find(number))  # type: ignore[arg-type]


# --- Shopify ---------------------------------------------------------------------------------------------


def fulfillment(
    *tracking: tuple[str | None, str | None, str | None],
    display: str = "IN_TRANSIT",
    status: str = "SUCCESS",
    updated: str = "2026-11-27T15:04:00Z",
    estimated: str | None = "2026-12-01T20:00:00Z",
    delivered: str | None = None,
) -> dict[str, Any]:
    """A Fulfillment as the Admin GraphQL API returns it."""
    return {
        "status": status,
        "displayStatus": display,
        "createdAt": "2026-11-24T10:00:00Z",
        "updatedAt": updated,
        "inTransitAt": "2026-11-25T08:00:00Z",
        "deliveredAt": delivered,
        "estimatedDeliveryAt": estimated,
        "trackingInfo": [
            {"company": company, "number": number, "url": url} for company, number, url in tracking
        ],
    }


def shopify_order(
    name: str = "#1042",
    *fulfillments: dict[str, Any],
    display_status: str = "FULFILLED",
    cancelled_at: str | None = None,
    email: str = JANE,
) -> dict[str, Any]:
    return {
        "name": name,
        "email": email,
        "createdAt": "2026-11-20T09:30:00Z",
        "cancelledAt": cancelled_at,
        "displayFulfillmentStatus": display_status,
        "customer": {"displayName": "Jane Doe"},
        "fulfillments": list(fulfillments),
    }


def shopify_answer(*orders: dict[str, Any], available: float = 980.0) -> Answer:
    body = {
        "data": {"orders": {"nodes": list(orders)}},
        "extensions": {
            "cost": {
                "requestedQueryCost": 32,
                "actualQueryCost": 12,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": available,
                    "restoreRate": 100.0,
                },
            }
        },
    }
    return (200, body, {})


THROTTLED: Answer = (
    200,
    {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev"},
            }
        ],
        "extensions": {
            "cost": {
                "requestedQueryCost": 32,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 22.0,
                    "restoreRate": 100.0,
                },
            }
        },
    },
    {},
)
SHIPPED_1042 = shopify_order(
    "#1042", fulfillment(("UPS", UPS_NUMBER, f"https://www.ups.com/track?tracknum={UPS_NUMBER}"))
)


@pytest.fixture
def shopify(settings: Settings, provider_api: ProviderApi) -> Settings:
    provider_api.default = shopify_answer(SHIPPED_1042)
    return settings.model_copy(
        update={
            "order_source": "shopify",
            "shopify_store_url": provider_api.url,
            "shopify_access_token": SecretStr("shpat_test_token"),
            "order_source_timeout_seconds": 2.0,
        }
    )


def test_shopify_answers_the_seed_dialogue(shopify, engine):
    chat = Dialogue(build_runtime(shopify, engine=engine).handler)

    assert "email" in chat("Where is order 1042?")
    answer = chat(JANE)

    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "Order #1042 has shipped." in answer
    assert (
        f"UPS tracking number {UPS_NUMBER}" in answer and "estimated delivery Tuesday, December 1" in answer
    )


def test_shopify_is_asked_for_the_order_by_name_with_the_access_token(shopify, provider_api):
    find(shopify, "1042")

    [request] = provider_api.requests
    assert (request.method, request.path) == ("POST", "/admin/api/2025-10/graphql.json")
    assert request.headers["x-shopify-access-token"] == "shpat_test_token"
    body = request.json()
    assert "orders(first: 5, query: $query)" in body["query"]
    assert body["variables"] == {"query": 'name:"#1042"'}


def test_shopify_fulfillments_become_shipments_with_their_tracking(shopify, provider_api):
    provider_api.default = shopify_answer(
        shopify_order(
            "#2001",
            fulfillment(
                ("FedEx", "771234567890", None), display="DELIVERED", delivered="2026-11-26T12:00:00Z"
            ),
            fulfillment(("UPS", UPS_NUMBER, None), ("USPS", "9400111899223100001234", None)),
            display_status="PARTIALLY_FULFILLED",
        )
    )

    order = find(shopify, "2001")

    assert order is not None and order.status is OrderStatus.PARTIALLY_SHIPPED
    assert [(s.carrier, s.tracking_number, s.status) for s in order.shipments] == [
        ("FedEx", "771234567890", OrderStatus.DELIVERED),
        ("UPS", UPS_NUMBER, OrderStatus.SHIPPED),
        ("USPS", "9400111899223100001234", OrderStatus.SHIPPED),
    ]


def test_a_tracking_number_without_a_link_gets_the_carriers_link(shopify, provider_api):
    provider_api.default = shopify_answer(shopify_order("#1042", fulfillment(("UPS", UPS_NUMBER, None))))

    order = find(shopify, "1042")

    assert order is not None
    assert order.shipments[0].tracking_url == f"https://www.ups.com/track?tracknum={UPS_NUMBER}"


def test_a_cancelled_shopify_order_is_cancelled(shopify, provider_api):
    provider_api.default = shopify_answer(
        shopify_order("#6006", display_status="UNFULFILLED", cancelled_at="2026-11-21T10:00:00Z")
    )

    order = find(shopify, "6006")

    assert order is not None and order.status is OrderStatus.CANCELLED and order.shipments == ()


def test_an_unfulfilled_shopify_order_is_processing_without_tracking(shopify, provider_api):
    provider_api.default = shopify_answer(shopify_order("#3003", display_status="UNFULFILLED"))

    order = find(shopify, "3003")

    assert order is not None and order.status is OrderStatus.PROCESSING and order.shipments == ()


def test_a_fulfillment_without_tracking_is_a_shipment_without_tracking(shopify, provider_api):
    provider_api.default = shopify_answer(shopify_order("#1042", fulfillment()))

    order = find(shopify, "1042")

    assert order is not None and order.status is OrderStatus.SHIPPED
    [shipment] = order.shipments
    assert (shipment.carrier, shipment.tracking_number, shipment.tracking_url) == (None, None, None)


def test_an_order_whose_parcels_all_arrived_is_delivered(shopify, provider_api):
    provider_api.default = shopify_answer(
        shopify_order("#4004", fulfillment(("UPS", UPS_NUMBER, None), display="DELIVERED"))
    )

    order = find(shopify, "4004")

    assert order is not None and order.status is OrderStatus.DELIVERED


def test_the_answer_says_when_the_carrier_last_reported(shopify, engine):
    chat = Dialogue(build_runtime(shopify, engine=engine).handler)

    answer = chat(f"where is order 1042? {JANE}")

    assert "Last carrier update: Nov 27." in answer


def test_a_similar_order_name_from_a_fuzzy_search_is_not_taken(shopify, provider_api):
    provider_api.default = shopify_answer(shopify_order("#10421", fulfillment()))

    assert find(shopify, "1042") is None


def test_an_order_shopify_does_not_know_is_not_found(shopify, provider_api):
    provider_api.default = shopify_answer()

    assert find(shopify, "9999") is None


def test_a_throttled_query_is_retried_when_the_bucket_has_refilled(shopify, provider_api):
    script(provider_api, THROTTLED)

    order = find(shopify, "1042")

    assert order is not None and len(provider_api.requests) == 2


def test_a_429_is_retried_after_the_time_shopify_asks_for(shopify, provider_api):
    script(provider_api, (429, {"errors": "Exceeded 2 calls per second"}, {"Retry-After": "0.1"}))

    assert find(shopify, "1042") is not None
    assert len(provider_api.requests) == 2


def test_a_wait_longer_than_the_deadline_is_not_waited(shopify, provider_api):
    provider_api.default = (429, {"errors": "Exceeded"}, {"Retry-After": "30"})

    with pytest.raises(OrderSourceUnavailable):
        find(shopify, "1042")

    assert len(provider_api.requests) == 1


def test_shopify_being_down_is_unavailable_not_unknown(shopify, provider_api):
    provider_api.default = (503, {"errors": "Service Unavailable"}, {})

    with pytest.raises(OrderSourceUnavailable):
        find(shopify, "1042")

    assert len(provider_api.requests) == 3  # retried, then given up within the deadline


def test_a_rejected_token_is_unavailable_and_not_retried(shopify, provider_api):
    provider_api.default = (401, {"errors": "[API] Invalid API key or access token"}, {})

    with pytest.raises(OrderSourceUnavailable):
        find(shopify, "1042")

    assert len(provider_api.requests) == 1


def test_with_shopify_down_the_shopper_is_told_to_try_again_and_nothing_is_written(
    shopify, provider_api, engine
):
    provider_api.default = (502, {"errors": "Bad Gateway"}, {})
    chat = Dialogue(build_runtime(shopify, engine=engine).handler)

    answer = chat(f"where is order 1042? {JANE}")

    assert chat.kinds == [ReplyKind.UNAVAILABLE]
    assert "can't look orders up right now" in answer and "pass this to our team" in answer
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM verification_failures")).scalar_one() == 0


# --- WooCommerce -----------------------------------------------------------------------------------------


def woo_order(
    number: str = "1042",
    *,
    order_id: int = 1042,
    status: str = "completed",
    tracking: list[dict[str, str]] | None = None,
    email: str = JANE,
) -> dict[str, Any]:
    """An order as ``GET /wp-json/wc/v3/orders/{id}`` returns it (the fields Lumen reads, and a few more)."""
    meta = [{"id": 9101, "key": "_order_source", "value": "web"}]
    if tracking is not None:
        meta.append({"id": 9102, "key": "_wc_shipment_tracking_items", "value": tracking})
    return {
        "id": order_id,
        "number": number,
        "status": status,
        "currency": "USD",
        "date_created": "2026-11-20T10:30:00",
        "date_created_gmt": "2026-11-20T09:30:00",
        "date_modified_gmt": "2026-11-24T09:30:00",
        "total": "129.00",
        "billing": {"first_name": "Jane", "last_name": "Doe", "email": email, "phone": "555-0100"},
        "shipping": {"first_name": "Jane", "last_name": "Doe", "city": "Springfield"},
        "line_items": [{"id": 1, "name": "Summit Pack 35 L", "quantity": 1}],
        "meta_data": meta,
    }


def tracking_item(provider: str, number: str, link: str = "", custom: str = "") -> dict[str, str]:
    """One entry of the Shipment Tracking extension's ``_wc_shipment_tracking_items`` meta."""
    return {
        "tracking_provider": provider,
        "custom_tracking_provider": custom,
        "custom_tracking_link": link,
        "tracking_number": number,
        "date_shipped": "1764201600",
        "tracking_id": "a1b2c3",
    }


@pytest.fixture
def woocommerce(settings: Settings, provider_api: ProviderApi) -> Settings:
    provider_api.default = (200, woo_order(tracking=[tracking_item("ups", UPS_NUMBER)]), {})
    return settings.model_copy(
        update={
            "order_source": "woocommerce",
            "woocommerce_url": provider_api.url,
            "woocommerce_consumer_key": "ck_test",
            "woocommerce_consumer_secret": SecretStr("cs_test"),
            "order_source_timeout_seconds": 2.0,
        }
    )


def test_woocommerce_answers_the_seed_dialogue(woocommerce, engine):
    chat = Dialogue(build_runtime(woocommerce, engine=engine).handler)

    chat("Where is order 1042?")
    answer = chat(JANE)

    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert f"UPS tracking number {UPS_NUMBER}" in answer
    assert f"https://www.ups.com/track?tracknum={UPS_NUMBER}" in answer


def test_woocommerce_is_asked_with_the_consumer_key_and_secret(woocommerce, provider_api):
    find(woocommerce, "1042")

    [request] = provider_api.requests
    assert (request.method, request.path) == ("GET", "/wp-json/wc/v3/orders/1042")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"ck_test:cs_test").decode()


def test_every_tracking_item_is_a_shipment_named_and_linked(woocommerce, provider_api):
    provider_api.default = (
        200,
        woo_order(
            tracking=[
                tracking_item("royal-mail", "AB123456785GB"),
                tracking_item("", "PKG-77", link="https://track.example/PKG-77", custom="Speedy Couriers"),
            ]
        ),
        {},
    )

    order = find(woocommerce, "1042")

    assert order is not None
    assert [(s.carrier, s.tracking_number) for s in order.shipments] == [
        ("Royal Mail", "AB123456785GB"),
        ("Speedy Couriers", "PKG-77"),
    ]
    assert order.shipments[1].tracking_url == "https://track.example/PKG-77"
    assert order.shipments[0].tracking_url is not None and "AB123456785GB" in order.shipments[0].tracking_url


def test_a_woocommerce_number_that_is_not_the_id_is_found_by_search(woocommerce, provider_api):
    script(
        provider_api,
        (404, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}, {}),
        (200, [woo_order("5005", order_id=88, status="processing")], {}),
    )

    order = find(woocommerce, "5005")

    assert order is not None and order.number == "5005" and order.status is OrderStatus.PROCESSING
    assert provider_api.requests[1].path == "/wp-json/wc/v3/orders"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("processing", OrderStatus.PROCESSING),
        ("on-hold", OrderStatus.PROCESSING),
        ("completed", OrderStatus.SHIPPED),
        ("cancelled", OrderStatus.CANCELLED),
        ("refunded", OrderStatus.CANCELLED),
    ],
)
def test_woocommerce_statuses_map_to_lumens(woocommerce, provider_api, status, expected):
    provider_api.default = (200, woo_order(status=status), {})

    order = find(woocommerce, "1042")

    assert order is not None and order.status is expected


def test_an_order_woocommerce_does_not_know_is_not_found(woocommerce, provider_api):
    script(provider_api, (404, {"code": "woocommerce_rest_shop_order_invalid_id"}, {}), (200, [], {}))

    assert find(woocommerce, "9999") is None


def test_woocommerce_being_down_is_unavailable(woocommerce, provider_api):
    provider_api.default = (500, {"code": "internal_server_error"}, {})

    with pytest.raises(OrderSourceUnavailable):
        find(woocommerce, "1042")


# --- The shop's own HTTP backend ----------------------------------------------------------------------------


def backend_order(number: str = "1042") -> dict[str, Any]:
    return {
        "number": number,
        "email": JANE,
        "status": "shipped",
        "placed_at": "2026-11-20T09:30:00Z",
        "customer_name": "Jane Doe",
        "shipments": [
            {
                "status": "shipped",
                "carrier": "UPS",
                "tracking_number": UPS_NUMBER,
                "estimated_delivery": "2026-12-01",
                "last_update": "2026-11-27T15:04:00Z",
            }
        ],
    }


@pytest.fixture
def backend(settings: Settings, provider_api: ProviderApi) -> Settings:
    provider_api.default = (200, backend_order(), {})
    return settings.model_copy(
        update={
            "order_source": "http",
            "order_http_url": f"{provider_api.url}/shop-api",
            "order_http_token": SecretStr("backend-token"),
            "order_source_timeout_seconds": 2.0,
        }
    )


def test_the_http_backend_answers_the_seed_dialogue(backend, engine):
    chat = Dialogue(build_runtime(backend, engine=engine).handler)

    answer = chat(f"Order 1042 status {JANE}")

    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert f"https://www.ups.com/track?tracknum={UPS_NUMBER}" in answer


def test_the_http_backend_is_asked_for_the_order_with_the_bearer_token(backend, provider_api):
    provider_api.default = (200, backend_order("LUM-1042"), {})

    find(backend, "LUM-1042")

    [request] = provider_api.requests
    assert (request.method, request.path) == ("GET", "/shop-api/orders/LUM-1042")
    assert request.headers["authorization"] == "Bearer backend-token"


def test_a_404_from_the_backend_is_no_such_order(backend, provider_api):
    provider_api.default = (404, {"error": "not found"}, {})

    assert find(backend, "9999") is None


def test_an_answer_in_another_shape_is_unavailable_not_unknown(backend, provider_api):
    provider_api.default = (200, {"order": "1042", "state": "sent"}, {})

    with pytest.raises(OrderSourceUnavailable):
        find(backend, "1042")


def test_another_order_than_the_one_asked_for_is_refused(backend, provider_api):
    provider_api.default = (200, backend_order("2001"), {})

    with pytest.raises(OrderSourceUnavailable):
        find(backend, "1042")


def test_a_backend_slower_than_the_deadline_is_unavailable(backend):
    async def hung(_request: Request) -> JSONResponse:
        await asyncio.sleep(3)
        return JSONResponse(backend_order())

    slow_backend = Starlette(routes=[Route("/orders/{number}", hung)])
    with LiveServer(slow_backend) as client:
        slow = backend.model_copy(
            update={"order_http_url": str(client.base_url), "order_source_timeout_seconds": 0.3}
        )
        started = time.monotonic()
        with pytest.raises(OrderSourceUnavailable):
            find(slow, "1042")
        waited = time.monotonic() - started

    assert waited < 3  # gave up on the hung backend rather than waiting for it


# --- The cache ----------------------------------------------------------------------------------------------


class CountingSource:
    def __init__(self, order: Order | None) -> None:
        self.order = order
        self.calls = 0

    async def find(self, order_number: str) -> Order | None:
        self.calls += 1
        return self.order


def test_a_found_order_is_kept_for_the_ttl_and_fetched_again_after():
    now = [0.0]
    source = CountingSource(Order(number="1042", email=JANE, status=OrderStatus.SHIPPED))
    cached = CachedSource(source, ttl_seconds=60, timer=lambda: now[0])

    asyncio.run(cached.find("1042"))
    asyncio.run(cached.find("1042"))
    now[0] = 61
    asyncio.run(cached.find("1042"))

    assert source.calls == 2


def test_no_such_order_is_never_kept():
    source = CountingSource(None)
    cached = CachedSource(source, ttl_seconds=60)

    asyncio.run(cached.find("1042"))
    asyncio.run(cached.find("1042"))

    assert source.calls == 2


def test_a_live_source_needs_its_settings(monkeypatch):
    monkeypatch.setenv("LUMEN_ORDER_SOURCE", "shopify")
    with pytest.raises(ValueError, match="LUMEN_SHOPIFY_STORE_URL and LUMEN_SHOPIFY_ACCESS_TOKEN"):
        load_settings()
