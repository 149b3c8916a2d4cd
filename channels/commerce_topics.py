"""The order webhooks' paths and topics (``channels/commerce_webhooks.py`` serves them), apart from the web
framework: ``lumen shopify subscribe`` names them in its help, which must not import FastAPI."""

from __future__ import annotations

SHOPIFY_PATH = "/webhooks/shopify"
WOOCOMMERCE_PATH = "/webhooks/woocommerce"
# The topics that can move an order a shopper follows, as X-Shopify-Topic names them and as the Admin
# API's WebhookSubscriptionTopic enum does (`lumen shopify subscribe` registers these).
SHOPIFY_TOPICS = {
    "fulfillments/create": "FULFILLMENTS_CREATE",
    "fulfillments/update": "FULFILLMENTS_UPDATE",
    "fulfillment_events/create": "FULFILLMENT_EVENTS_CREATE",
    "orders/updated": "ORDERS_UPDATED",
    "orders/cancelled": "ORDERS_CANCELLED",
}
# WooCommerce's order topics (X-WC-Webhook-Topic); a tracking number added by the Shipment Tracking
# extension is an order.updated.
WOOCOMMERCE_TOPICS = frozenset({"order.created", "order.updated"})
