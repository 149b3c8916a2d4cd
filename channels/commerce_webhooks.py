"""Order events from the shop's platform: ``POST /webhooks/shopify`` and ``POST /webhooks/woocommerce``.

A webhook only says *which* order moved. Each one is checked (the platform's HMAC-SHA256 of the raw body,
compared in constant time: 401 when it is missing or wrong), read for the order's number, answered 200,
and then handed to the update notifier, which reads the order again from the configured order source and
tells the subscribed shoppers what is new. Nothing in a payload is believed beyond the order's identity:
the order source stays the one truth, so a webhook delivered late, twice or out of order cannot tell a
shopper something that is no longer so. That is also why the payload's state is not written into the
embedded order book — those webhooks are meant with ``LUMEN_ORDER_SOURCE=shopify`` (or ``woocommerce``).

The notifier runs after the 200 (Shopify gives a webhook five seconds): what fails there is logged, and
the notifier's periodic re-check of every subscribed order (``LUMEN_UPDATES_POLL_SECONDS``) makes up for
it, as it does for a webhook that never came.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from channels.commerce_topics import SHOPIFY_PATH, SHOPIFY_TOPICS, WOOCOMMERCE_PATH, WOOCOMMERCE_TOPICS
from channels.http_errors import BODY_TOO_LARGE, error_responses
from lumen_bot.domain.clock import Clock
from lumen_bot.domain.identifiers import normalize_order_number
from lumen_bot.ports import OrderSourceUnavailable, SeenTokens
from lumen_bot.services.background import Background

log = logging.getLogger(__name__)

SHOPIFY = "shopify"
# An order's payload carries every line item, address and tax line: a large order is larger than any chat
# message, and a webhook refused as too large is one Shopify retries and, failing again, stops sending.
MAX_BODY_BYTES = 2 * 1024 * 1024
# A fulfillment's name is its order's name and its place in the order: "#1042.1".
_FULFILLMENT_NAME = re.compile(r"^(?P<order>.+)\.\d+$")
_WOO_PING = re.compile(r"^webhook_id=\d{1,20}$")
_ORDER_NUMBER_LENGTH = 40
_ERRORS = {
    401: "A missing or wrong signature",
    400: "A signed body that is not a JSON object",
    413: BODY_TOO_LARGE,
}


class OrderChanges(Protocol):
    """Who is told that orders moved: the update notifier."""

    async def orders_changed(self, order_numbers: Sequence[str]) -> int: ...


class ShopifyOrders(Protocol):
    """The Admin API, for the name of an order a webhook gives only by its id."""

    async def order_name(self, order_id: str) -> str | None: ...


def router(
    changes: OrderChanges,
    seen_tokens: SeenTokens,
    background: Background,
    *,
    shopify_secret: str | None,
    woocommerce_secret: str | None,
    shopify_orders: ShopifyOrders | None,
    clock: Clock,
) -> APIRouter:
    """The routes of the platforms whose webhook secret is set; the others are off (404)."""
    api = APIRouter()
    if shopify_secret:
        _shopify(api, changes, seen_tokens, background, shopify_secret.encode(), shopify_orders, clock)
    else:
        log.info("Shopify webhook disabled: LUMEN_SHOPIFY_WEBHOOK_SECRET not set")
    if woocommerce_secret:
        _woocommerce(api, changes, background, woocommerce_secret.encode())
    else:
        log.info("WooCommerce webhook disabled: LUMEN_WOOCOMMERCE_WEBHOOK_SECRET not set")
    return api


def signature(body: bytes, secret: bytes) -> str:
    """Base64 of the HMAC-SHA256 of ``body``: how Shopify and WooCommerce both sign a webhook."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def _signed(body: bytes, header: str | None, secret: bytes) -> bool:
    return header is not None and hmac.compare_digest(signature(body, secret).encode(), header.encode())


def _unauthorized(header: str) -> HTTPException:
    return HTTPException(
        401, f"missing or wrong {header}", headers={"WWW-Authenticate": f'HMAC-SHA256 header="{header}"'}
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise HTTPException(400, "body must be a JSON object")
    return payload


def _shopify(
    api: APIRouter,
    changes: OrderChanges,
    seen_tokens: SeenTokens,
    background: Background,
    secret: bytes,
    shopify_orders: ShopifyOrders | None,
    clock: Clock,
) -> None:
    @api.post(SHOPIFY_PATH, responses=error_responses(_ERRORS))
    async def shopify(request: Request) -> JSONResponse:
        """A Shopify webhook: an order or a fulfillment of it changed. Answered ``{"status": …}`` —
        ``accepted``, ``ignored`` (a topic Lumen does not follow, or no order named) or ``duplicate``
        (a webhook id seen before: Shopify delivers again what it thinks was not received)."""
        body = await request.body()
        if not _signed(body, request.headers.get("X-Shopify-Hmac-Sha256"), secret):
            log.warning("Shopify webhook with a missing or wrong signature")
            raise _unauthorized("X-Shopify-Hmac-Sha256")
        topic = request.headers.get("X-Shopify-Topic", "")
        if topic not in SHOPIFY_TOPICS:
            log.info("Shopify webhook ignored: topic %r", topic[:60])
            return _answer("ignored")
        payload = _json_object(body)
        webhook_id = request.headers.get("X-Shopify-Webhook-Id")
        if webhook_id and not await seen_tokens.first_use(SHOPIFY, webhook_id, clock()):
            log.info("Shopify webhook delivered again: already taken")
            return _answer("duplicate")
        number = _shopify_number(topic, payload)
        order_id = _text(payload.get("order_id") if topic.startswith("fulfillment") else None)
        if number is None and (order_id is None or not order_id.isdigit()):
            log.warning("Shopify webhook %s names no order", topic)
            return _answer("ignored")
        background.job(_notify_shopify(changes, shopify_orders, number, order_id))
        return _answer("accepted")


async def _notify_shopify(
    changes: OrderChanges, shopify_orders: ShopifyOrders | None, number: str | None, order_id: str | None
) -> None:
    if number is None and order_id is not None:
        number = await _named(shopify_orders, order_id)
    if number is not None:
        await changes.orders_changed([number])


async def _named(shopify_orders: ShopifyOrders | None, order_id: str) -> str | None:
    """The order number of Shopify's order ``order_id``, asked of the Admin API."""
    if shopify_orders is None:
        log.warning(
            "Shopify fulfillment event not followed: naming its order needs the Admin API"
            " (LUMEN_SHOPIFY_STORE_URL and LUMEN_SHOPIFY_ACCESS_TOKEN)"
        )
        return None
    try:
        name = await shopify_orders.order_name(order_id)
    except OrderSourceUnavailable as error:
        log.warning("Shopify fulfillment event not followed: %s", error)
        return None
    return _number(name)


def _shopify_number(topic: str, payload: dict[str, Any]) -> str | None:
    """The order's number as Lumen looks it up (its name, "#1042" → "1042"), when the payload has it:
    an order's ``name`` (else ``order_number``), a fulfillment's name ("#1042.1"). A fulfillment
    event carries only the order's id."""
    if topic.startswith("orders/"):
        return _number(_text(payload.get("name"))) or _number(_text(payload.get("order_number")))
    if topic.startswith("fulfillments/"):
        name = _FULFILLMENT_NAME.match(_text(payload.get("name")) or "")
        return _number(name.group("order")) if name else None
    return None


def _woocommerce(api: APIRouter, changes: OrderChanges, background: Background, secret: bytes) -> None:
    @api.post(WOOCOMMERCE_PATH, responses=error_responses(_ERRORS))
    async def woocommerce(request: Request) -> JSONResponse:
        """A WooCommerce webhook: an order was created or updated. WooCommerce's unsigned ping when the
        webhook is saved (``webhook_id=…``) is answered 200, or WooCommerce would not save it."""
        body = await request.body()
        header = request.headers.get("X-WC-Webhook-Signature")
        if header is None and _WOO_PING.fullmatch(body.decode("latin-1")):
            webhook = dict(parse_qsl(body.decode("latin-1")))["webhook_id"]
            log.info("WooCommerce webhook %s pinged", webhook)
            return _answer("pong")
        if not _signed(body, header, secret):
            log.warning("WooCommerce webhook with a missing or wrong signature")
            raise _unauthorized("X-WC-Webhook-Signature")
        topic = request.headers.get("X-WC-Webhook-Topic", "")
        if topic not in WOOCOMMERCE_TOPICS:
            log.info("WooCommerce webhook ignored: topic %r", topic[:60])
            return _answer("ignored")
        payload = _json_object(body)
        number = _number(_text(payload.get("number"))) or _number(_text(payload.get("id")))
        if number is None:
            log.warning("WooCommerce webhook %s names no order", topic)
            return _answer("ignored")
        # No deduplication: a delivery again only makes the notifier look again, and it never tells twice.
        background.job(changes.orders_changed([number]))
        return _answer("accepted")


def _text(value: Any) -> str | None:
    """A string or integer field as text; anything else (a list, an object, true) is not a name."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


def _number(value: str | None) -> str | None:
    number = normalize_order_number(value or "")
    return number if 0 < len(number) <= _ORDER_NUMBER_LENGTH else None


def _answer(status: str) -> JSONResponse:
    return JSONResponse({"status": status})
