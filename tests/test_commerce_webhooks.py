"""Order events from the shop's platform: ``POST /webhooks/shopify`` and ``POST /webhooks/woocommerce``
signed as Shopify and WooCommerce sign them, on the real app over loopback HTTP, and ``lumen shopify
subscribe`` against a loopback Admin API.

Signatures are computed here from the documentation, not with Lumen's code: base64 of the HMAC-SHA256 of
the raw body, keyed with the shared secret, in ``X-Shopify-Hmac-Sha256`` / ``X-WC-Webhook-Signature``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine, select

from channels.app import build_order_source, create_app
from channels.cli import main
from lumen_bot.domain.orders import OrderStatus
from lumen_bot.settings import Settings
from lumen_bot.store.tables import UpdateSubscriptionRow
from tests.conftest import Clock, LiveServer, ProviderApi, RecordedRequest, eventually
from tests.test_order_sources import fulfillment, shopify_answer, shopify_order
from tests.test_whatsapp_cloud import FakeGraph, encode, messages_event, text_message
from tests.test_whatsapp_cloud import signature as wa_signature

# On SQLite only: the webhooks' protocol is the subject; the notifier's SQL is tested on both
# databases in test_updates.py.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SHOPIFY_SECRET = "shopify-app-client-secret"
WOO_SECRET = "woocommerce-webhook-secret"
ACCESS_TOKEN = "shpat_test_token"
ORDER_ID = 820982911946154508
JSON = {"content-type": "application/json"}

# Payloads in the shapes of Shopify's sample webhooks (fields Lumen does not read left out).
ORDER_UPDATED = {
    "id": ORDER_ID,
    "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID}",
    "name": "#1042",
    "order_number": 42,
    "email": "jane.doe@example.com",
    "cancelled_at": None,
    "fulfillment_status": "fulfilled",
}
FULFILLMENT = {
    "id": 255858046,
    "order_id": ORDER_ID,
    "status": "success",
    "name": "#1042.1",
    "tracking_company": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "shipment_status": "in_transit",
    "admin_graphql_api_id": "gid://shopify/Fulfillment/255858046",
}
FULFILLMENT_EVENT = {
    "id": 944956395,
    "fulfillment_id": 255858046,
    "status": "delivered",
    "message": "Delivered, front door",
    "happened_at": "2026-11-28T11:40:00-05:00",
    "estimated_delivery_at": None,
    "shop_id": 690933842,
    "order_id": ORDER_ID,
    "admin_graphql_api_id": "gid://shopify/FulfillmentEvent/944956395",
}


def signed(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(
    topic: str, body: bytes, webhook_id: str = "b54557e4-a7d4-4b8e-8e35-1d1e0a1c2f01"
) -> dict:
    return {
        **JSON,
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signed(body, SHOPIFY_SECRET),
        "X-Shopify-Shop-Domain": "acme-outfitters.myshopify.com",
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Webhook-Id": webhook_id,
    }


def shopify_post(http: httpx.Client, topic: str, payload: Any, **headers: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    return http.post("/webhooks/shopify", content=body, headers={**shopify_headers(topic, body), **headers})


def woo_post(http: httpx.Client, topic: str, payload: Any) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        **JSON,
        "X-WC-Webhook-Source": "https://acme.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.partition(".")[0],
        "X-WC-Webhook-Event": topic.partition(".")[2],
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": "8ce4e9c2a3",
        "X-WC-Webhook-Signature": signed(body, WOO_SECRET),
    }
    return http.post("/webhooks/woocommerce", content=body, headers=headers)


class ShopifyAdmin(ProviderApi):
    """Shopify's Admin GraphQL API on loopback: an order's name by its id, and the order itself."""

    def __init__(self) -> None:
        super().__init__()
        self.order = shopify_order("#1042", fulfillment(("UPS", "1Z999AA10123456784", None)))
        self.down = False

    def respond(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        if self.down:
            return (503, {"errors": "Service unavailable"}, {})
        if "order(id:" in request.json()["query"]:
            return (200, {"data": {"order": {"name": self.order["name"]}}}, {})
        return shopify_answer(self.order)


@pytest.fixture
def provider_api() -> Iterator[ShopifyAdmin]:
    api = ShopifyAdmin()
    with LiveServer(api.asgi()) as client:
        api.url = str(client.base_url).rstrip("/")
        yield api


@pytest.fixture
def shop(settings: Settings, provider_api: ShopifyAdmin) -> Settings:
    """Orders from Shopify (its Admin API on loopback), both webhook routes on."""
    return settings.model_copy(
        update={
            "order_source": "shopify",
            "shopify_store_url": provider_api.url,
            "shopify_access_token": SecretStr(ACCESS_TOKEN),
            "order_source_timeout_seconds": 2.0,
            "shopify_webhook_secret": SecretStr(SHOPIFY_SECRET),
            "woocommerce_webhook_secret": SecretStr(WOO_SECRET),
        }
    )


@pytest.fixture
def app(shop: Settings, engine: Engine, clock: Clock) -> FastAPI:
    return create_app(shop, engine=engine, clock=clock)


@pytest.fixture
def notified(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The order numbers each call of the runtime's update notifier was given (the call goes through)."""
    calls: list[list[str]] = []
    notifier = app.state.runtime.updates
    real = notifier.orders_changed

    async def orders_changed(order_numbers: Sequence[str]) -> int:
        calls.append(list(order_numbers))
        return await real(order_numbers)

    monkeypatch.setattr(notifier, "orders_changed", orders_changed)
    return calls


def calls_of(notified: list[list[str]]) -> list[list[str]]:
    def called() -> list[list[str]]:
        """the update notifier is called"""
        return notified

    return eventually(called)


# --- Shopify ---------------------------------------------------------------------------------------------


def test_an_updated_order_tells_the_notifier_which_order_moved(http, notified):
    response = shopify_post(http, "orders/updated", ORDER_UPDATED)

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    assert calls_of(notified) == [["1042"]]


def test_a_cancelled_order_tells_the_notifier_too(http, notified):
    response = shopify_post(
        http, "orders/cancelled", {**ORDER_UPDATED, "cancelled_at": "2026-11-28T10:00:00Z"}
    )

    assert response.json() == {"status": "accepted"}
    assert calls_of(notified) == [["1042"]]


@pytest.mark.parametrize("topic", ["fulfillments/create", "fulfillments/update"])
def test_a_fulfillment_names_its_order_in_its_own_name(http, notified, provider_api, topic):
    response = shopify_post(http, topic, FULFILLMENT)

    assert response.json() == {"status": "accepted"}
    assert calls_of(notified) == [["1042"]]
    # "#1042.1" is the order's name and the fulfillment's place: no need to ask the Admin API.
    assert [request for request in provider_api.requests if "order(id:" in request.json()["query"]] == []


def test_a_fulfillment_event_is_named_by_the_admin_api(http, notified, provider_api):
    response = shopify_post(http, "fulfillment_events/create", FULFILLMENT_EVENT)

    assert response.json() == {"status": "accepted"}
    assert calls_of(notified) == [["1042"]]
    [asked] = [request for request in provider_api.requests if "order(id:" in request.json()["query"]]
    assert asked.path == "/admin/api/2025-10/graphql.json"
    assert asked.headers["x-shopify-access-token"] == ACCESS_TOKEN
    assert asked.json()["variables"] == {"id": f"gid://shopify/Order/{ORDER_ID}"}


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param(signed(b"another body", SHOPIFY_SECRET), id="another body's"),
        pytest.param(signed(json.dumps(ORDER_UPDATED).encode(), "not-the-secret"), id="another secret's"),
        pytest.param("not base64 at all", id="garbage"),
    ],
)
def test_a_forged_or_missing_hmac_is_refused_and_nothing_is_done(http, notified, signature):
    body = json.dumps(ORDER_UPDATED).encode()
    headers = shopify_headers("orders/updated", body)
    del headers["X-Shopify-Hmac-Sha256"]
    if signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = signature

    response = http.post("/webhooks/shopify", content=body, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": "missing or wrong X-Shopify-Hmac-Sha256"}
    assert "WWW-Authenticate" in response.headers
    assert notified == []


def test_a_redelivery_with_the_same_webhook_id_is_processed_once(http, notified):
    first = shopify_post(http, "orders/updated", ORDER_UPDATED)
    assert calls_of(notified) == [["1042"]]

    again = shopify_post(http, "orders/updated", ORDER_UPDATED)
    other = shopify_post(
        http, "orders/updated", ORDER_UPDATED, **{"X-Shopify-Webhook-Id": "another-delivery"}
    )

    assert (first.json(), again.json(), other.json()) == (
        {"status": "accepted"},
        {"status": "duplicate"},
        {"status": "accepted"},
    )
    assert eventually(lambda: len(notified) == 2)
    assert notified == [["1042"], ["1042"]]


@pytest.mark.parametrize("topic", ["products/update", "customers/create", ""])
def test_a_topic_lumen_does_not_follow_is_acknowledged_and_ignored(http, notified, topic):
    response = shopify_post(http, topic, {"id": 1, "title": "Trail shoe"})

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert notified == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"\xff\xfe", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
    ],
)
def test_a_signed_body_that_is_not_a_json_object_is_a_400_with_the_reason(http, notified, body, reason):
    response = http.post("/webhooks/shopify", content=body, headers=shopify_headers("orders/updated", body))

    assert response.status_code == 400
    assert response.json() == {"detail": reason}
    assert notified == []


def test_an_order_payload_without_a_name_is_ignored(http, notified):
    response = shopify_post(http, "orders/updated", {"id": ORDER_ID, "name": ["#1042"]})

    assert response.json() == {"status": "ignored"}
    assert notified == []


def test_a_large_order_is_taken_and_a_body_over_2_mib_is_refused(http, notified):
    # A thousand line items: over 1 MB, far more than a chat message may be.
    large = {**ORDER_UPDATED, "line_items": [{"title": "Trail shoe", "note": "x" * 1000}] * 1000}
    body = b"x" * (2 * 1024 * 1024 + 1)

    taken = shopify_post(http, "orders/updated", large)
    refused = http.post("/webhooks/shopify", content=body, headers=shopify_headers("orders/updated", body))

    assert (taken.status_code, refused.status_code) == (200, 413)
    assert calls_of(notified) == [["1042"]]


def test_an_admin_api_that_is_down_still_gets_shopify_a_200(http, provider_api, caplog):
    provider_api.down = True

    response = shopify_post(http, "fulfillment_events/create", FULFILLMENT_EVENT)

    assert response.status_code == 200
    assert eventually(lambda: "not followed" in caplog.text)


def test_without_a_secret_the_routes_are_off(settings, engine, clock):
    with LiveServer(create_app(settings, engine=engine, clock=clock)) as http:
        shopify = shopify_post(http, "orders/updated", ORDER_UPDATED)
        woo = woo_post(http, "order.updated", {"id": 1042, "number": "1042"})

    assert (shopify.status_code, woo.status_code) == (404, 404)


# --- WooCommerce -----------------------------------------------------------------------------------------


def test_woocommerces_ping_on_creating_the_webhook_is_answered_200(http, notified):
    # WooCommerce posts this, unsigned, when the webhook is saved, and keeps it only after a 2xx.
    response = http.post(
        "/webhooks/woocommerce",
        content=b"webhook_id=12",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200
    assert notified == []


@pytest.mark.parametrize("topic", ["order.updated", "order.created"])
def test_a_signed_woocommerce_order_tells_the_notifier_its_number(http, notified, topic):
    response = woo_post(http, topic, {"id": 727, "number": "1042", "status": "completed"})

    assert response.json() == {"status": "accepted"}
    assert calls_of(notified) == [["1042"]]


def test_a_woocommerce_order_without_a_number_is_known_by_its_id(http, notified):
    woo_post(http, "order.updated", {"id": 1042, "status": "processing"})

    assert calls_of(notified) == [["1042"]]


def test_a_forged_woocommerce_signature_is_refused(http, notified):
    body = json.dumps({"id": 1042}).encode()
    headers = {**JSON, "X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-Signature": signed(body, "guess")}

    response = http.post("/webhooks/woocommerce", content=body, headers=headers)
    unsigned = http.post("/webhooks/woocommerce", content=body, headers=JSON)

    assert (response.status_code, unsigned.status_code) == (401, 401)
    assert response.json() == {"detail": "missing or wrong X-WC-Webhook-Signature"}
    assert notified == []


def test_a_woocommerce_topic_lumen_does_not_follow_is_ignored(http, notified):
    response = woo_post(http, "product.updated", {"id": 5, "name": "Trail shoe"})

    assert response.json() == {"status": "ignored"}
    assert notified == []


def test_a_signed_woocommerce_body_that_is_not_json_is_a_400(http):
    body = b"<order/>"
    headers = {"X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-Signature": signed(body, WOO_SECRET)}

    response = http.post("/webhooks/woocommerce", content=body, headers=headers)

    assert response.status_code == 400
    assert response.json() == {"detail": "body is not valid JSON"}


# --- Shopify's delivery statuses -------------------------------------------------------------------------


@pytest.mark.parametrize("display", ["ATTEMPTED_DELIVERY", "FAILURE", "NOT_DELIVERED"])
def test_a_failed_delivery_on_shopify_is_an_exception(shop, provider_api, display):
    provider_api.order = shopify_order(
        "#1042", fulfillment(("UPS", "1Z999AA10123456784", None), display=display)
    )

    order = asyncio.run(build_order_source(shop, None).find("1042"))  # type: ignore[arg-type]

    assert order is not None
    assert [shipment.status for shipment in order.shipments] == [OrderStatus.EXCEPTION]
    assert order.status is OrderStatus.EXCEPTION


def test_one_parcel_in_trouble_makes_the_order_an_exception_even_if_another_arrived(shop, provider_api):
    provider_api.order = shopify_order(
        "#1042",
        fulfillment(("UPS", "1Z999AA10123456784", None), display="DELIVERED"),
        fulfillment(("UPS", "1Z999AA10123456785", None), display="ATTEMPTED_DELIVERY"),
    )

    order = asyncio.run(build_order_source(shop, None).find("1042"))  # type: ignore[arg-type]

    assert order is not None and order.status is OrderStatus.EXCEPTION


# --- lumen shopify subscribe -----------------------------------------------------------------------------


class AdminApi(ProviderApi):
    """Shopify's Admin GraphQL API for webhookSubscriptionCreate: creates, or says the address is taken."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: set[str] = set()
        self.refused: dict[str, str] = {}

    def respond(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        topic = request.json()["variables"]["topic"]
        errors = []
        if topic in self.refused:
            errors = [{"field": ["webhookSubscription", "uri"], "message": self.refused[topic]}]
        elif topic in self.taken:
            errors = [
                {
                    "field": ["webhookSubscription", "callbackUrl"],
                    "message": "Address for this topic has already been taken",
                }
            ]
        created = None if errors else {"id": f"gid://shopify/WebhookSubscription/{len(self.requests)}"}
        self.taken.add(topic)
        body = {"data": {"webhookSubscriptionCreate": {"webhookSubscription": created, "userErrors": errors}}}
        return (200, body, {})


@pytest.fixture
def admin_api() -> Iterator[AdminApi]:
    api = AdminApi()
    with LiveServer(api.asgi()) as client:
        api.url = str(client.base_url).rstrip("/")
        yield api


@pytest.fixture
def subscribe(admin_api, database_url, monkeypatch, capsys):
    """``lumen shopify subscribe`` with the store's Admin API on loopback."""
    environment = {
        "LUMEN_DATABASE_URL": database_url,
        "LUMEN_SHOPIFY_STORE_URL": admin_api.url,
        "LUMEN_SHOPIFY_ACCESS_TOKEN": ACCESS_TOKEN,
        "LUMEN_SHOPIFY_WEBHOOK_SECRET": SHOPIFY_SECRET,
        "LUMEN_PUBLIC_URL": "https://lumen.acme.example",
    }

    def run(**changes: str | None) -> tuple[int, str, str]:
        for name, value in {**environment, **changes}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        status = main(["shopify", "subscribe"])
        out, err = capsys.readouterr()
        return status, out, err

    return run


TOPICS = [
    "FULFILLMENTS_CREATE",
    "FULFILLMENTS_UPDATE",
    "FULFILLMENT_EVENTS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_CANCELLED",
]


def test_subscribe_registers_every_topic_at_the_public_url(subscribe, admin_api):
    status, out, _err = subscribe()

    assert status == 0
    asked = [request.json() for request in admin_api.requests]
    assert [question["variables"]["topic"] for question in asked] == TOPICS
    assert {question["variables"]["uri"] for question in asked} == {
        "https://lumen.acme.example/webhooks/shopify"
    }
    assert all("webhookSubscriptionCreate" in question["query"] for question in asked)
    assert {request.headers["x-shopify-access-token"] for request in admin_api.requests} == {ACCESS_TOKEN}
    assert {request.path for request in admin_api.requests} == {"/admin/api/2025-10/graphql.json"}
    assert "fulfillment_events/create" in out and "subscribed (gid://shopify/WebhookSubscription/" in out


def test_subscribing_again_changes_nothing_and_says_so(subscribe):
    subscribe()

    status, out, _err = subscribe()

    assert status == 0
    assert out.count("already subscribed") == 5


def test_a_topic_shopify_refuses_is_reported_and_the_command_fails(subscribe, admin_api):
    admin_api.refused["FULFILLMENT_EVENTS_CREATE"] = "Access denied for this topic"

    status, out, _err = subscribe()

    assert status == 1
    assert "fulfillment_events/create  failed: Access denied for this topic" in out
    assert "orders/cancelled" in out  # the other topics are still registered


def test_subscribe_needs_the_public_url_and_the_admin_api(subscribe):
    no_url = subscribe(LUMEN_PUBLIC_URL=None)
    no_store = subscribe(LUMEN_SHOPIFY_STORE_URL=None)

    assert no_url[0] == no_store[0] == 2
    assert "LUMEN_PUBLIC_URL" in no_url[2]
    assert "LUMEN_SHOPIFY_STORE_URL" in no_store[2]


def test_subscribe_warns_when_the_webhook_secret_is_not_set(subscribe):
    status, _out, err = subscribe(LUMEN_SHOPIFY_WEBHOOK_SECRET=None)

    assert status == 0
    assert "LUMEN_SHOPIFY_WEBHOOK_SECRET is not set" in err


# --- End to end: a Shopify delivery told on WhatsApp ------------------------------------------------------


WA_APP_SECRET = "meta-app-secret"
BUSINESS = "106540352242922"  # the shop's WhatsApp phone number id
SHOPPER = "16505551234"
UPDATE_TEMPLATE = "order_update"


@pytest.fixture
def graph_api() -> Iterator[FakeGraph]:
    api = FakeGraph()
    with LiveServer(api.asgi()) as client:
        api.url = str(client.base_url).rstrip("/")
        yield api


@pytest.fixture
def whatsapp_shop(shop: Settings, graph_api: FakeGraph) -> Settings:
    """The Shopify shop, talking to shoppers on the WhatsApp Cloud API (Graph on loopback), with an
    approved update template for outside the 24-hour window."""
    return shop.model_copy(
        update={
            "whatsapp_app_secret": SecretStr(WA_APP_SECRET),
            "whatsapp_verify_token": SecretStr("meta-verify-token"),
            "whatsapp_access_token": SecretStr("graph-access-token"),
            "whatsapp_graph_url": graph_api.url,
            "whatsapp_update_template": UPDATE_TEMPLATE,
        }
    )


@pytest.fixture
def whatsapp_app(whatsapp_shop: Settings, engine: Engine, clock: Clock) -> FastAPI:
    clock.now = datetime.now(UTC)  # the window is counted from when the shopper's messages arrived
    return create_app(whatsapp_shop, engine=engine, clock=clock)


@pytest.fixture
def subscribed(whatsapp_app, engine, graph_api) -> Iterator[tuple[httpx.Client, int]]:
    """Lumen serving a WhatsApp shopper who asked about order #1042 (shipped) and said yes to updates;
    also the number of messages Graph had sent them by then."""
    with LiveServer(whatsapp_app) as http:
        sent = 0
        for text in ("Where is order 1042?", "jane.doe@example.com", "yes"):
            body = encode(messages_event(text_message(text, sender=SHOPPER), business=BUSINESS))
            headers = {**JSON, "X-Hub-Signature-256": wa_signature(body, WA_APP_SECRET)}
            assert http.post("/webhooks/whatsapp", content=body, headers=headers).status_code == 200
            sent += 1
            graph_api.wait_for(sent)
        assert subscriptions(engine) == [("1042", "whatsapp", "+" + SHOPPER, "active")]
        yield http, sent


def subscriptions(engine: Engine) -> list[tuple[str, str, str, str]]:
    columns = (
        UpdateSubscriptionRow.order_number,
        UpdateSubscriptionRow.channel,
        UpdateSubscriptionRow.address,
        UpdateSubscriptionRow.status,
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(*columns))]  # type: ignore[call-overload, misc]


def deliver_on_shopify(provider_api: ShopifyAdmin) -> dict[str, Any]:
    """The carrier delivers the parcel: Shopify's order says so, and a fulfillment event is created."""
    provider_api.order = shopify_order(
        "#1042",
        fulfillment(
            ("UPS", "1Z999AA10123456784", None), display="DELIVERED", delivered="2026-11-28T16:40:00Z"
        ),
    )
    return FULFILLMENT_EVENT


def test_a_shopify_delivery_is_told_once_on_whatsapp_inside_the_window(
    whatsapp_app, subscribed, provider_api, graph_api, engine, monkeypatch
):
    http, before = subscribed
    queued: list[int] = []
    notifier = whatsapp_app.state.runtime.updates
    real = notifier.orders_changed

    async def orders_changed(order_numbers: Sequence[str]) -> int:
        queued.append(count := await real(order_numbers))
        return count

    monkeypatch.setattr(notifier, "orders_changed", orders_changed)

    first = shopify_post(http, "fulfillment_events/create", deliver_on_shopify(provider_api))
    # The same news again, as another subscription or a retry of Shopify's would bring it.
    again = shopify_post(
        http, "fulfillment_events/create", FULFILLMENT_EVENT, **{"X-Shopify-Webhook-Id": "another"}
    )

    assert (first.json(), again.json()) == ({"status": "accepted"}, {"status": "accepted"})
    assert sorted(eventually(lambda: queued if len(queued) == 2 else None)) == [0, 1]
    [update] = graph_api.sent(before + 1)[before:]
    assert update.body["to"] == SHOPPER and update.path == f"/{BUSINESS}/messages"
    assert update.body["type"] == "text"
    assert "delivered" in update.text.lower() and "1042" in update.text
    # The order is delivered: nothing more will happen to it, and the subscription ends.
    assert subscriptions(engine) == [("1042", "whatsapp", "+" + SHOPPER, "settled")]


def test_outside_the_24_hour_window_the_delivery_goes_out_as_the_approved_template(
    subscribed, provider_api, graph_api, clock
):
    http, before = subscribed
    clock.advance(hours=25)

    shopify_post(http, "fulfillment_events/create", deliver_on_shopify(provider_api))

    [update] = graph_api.sent(before + 1)[before:]
    assert update.body["to"] == SHOPPER
    assert update.body["type"] == "template"
    assert update.body["template"]["name"] == UPDATE_TEMPLATE
