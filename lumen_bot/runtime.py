"""Assembling the core from settings: the one place that picks the adapters behind each port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from lumen_bot.conversation import ConversationHandler, Limits
from lumen_bot.engine import Policy
from lumen_bot.orders.http_source import HttpOrderSource
from lumen_bot.orders.remote import CachedSource, CarrierLinks
from lumen_bot.orders.shopify import ShopifySource
from lumen_bot.orders.source import SqlOrderSource
from lumen_bot.orders.woocommerce import WooCommerceSource
from lumen_bot.ports import OrderSource, Understander
from lumen_bot.settings import Settings
from lumen_bot.store.conversations import SqlConversationStore
from lumen_bot.store.database import make_engine
from lumen_bot.understanding.hybrid import HybridUnderstander, UnderstandingMetrics
from lumen_bot.understanding.llm import build_llm_understander
from lumen_bot.understanding.prompts import load_prompts
from lumen_bot.understanding.rules import RuleUnderstander


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    handler: ConversationHandler
    metrics: CollectorRegistry


def build_understander(settings: Settings, metrics: CollectorRegistry | None = None) -> Understander:
    """The rules alone, or with an LLM for what they are unsure of (hybrid) or for everything (llm).

    Raises :class:`PromptError` when the prompt files are missing or invalid: better at start-up than
    on a shopper's message."""
    rules = RuleUnderstander(settings.order_number_pattern)
    if settings.understanding_mode == "rules":
        return rules
    return HybridUnderstander(
        rules,
        build_llm_understander(settings, load_prompts(settings.prompts_dir)),
        always_llm=settings.understanding_mode == "llm",
        metrics=UnderstandingMetrics(metrics or CollectorRegistry()),
    )


def build_order_source(settings: Settings, engine: Engine) -> OrderSource:
    """The configured source of orders, with carrier links filled in; a live platform's orders cached."""
    timeout = settings.order_source_timeout_seconds
    live: OrderSource
    if settings.order_source == "shopify":
        assert settings.shopify_store_url and settings.shopify_access_token  # checked by Settings
        token = settings.shopify_access_token.get_secret_value()
        live = ShopifySource(settings.shopify_store_url, token, settings.shopify_api_version, timeout=timeout)
    elif settings.order_source == "woocommerce":
        assert settings.woocommerce_url and settings.woocommerce_consumer_key
        assert settings.woocommerce_consumer_secret
        secret = settings.woocommerce_consumer_secret.get_secret_value()
        live = WooCommerceSource(
            settings.woocommerce_url, settings.woocommerce_consumer_key, secret, timeout=timeout
        )
    elif settings.order_source == "http":
        assert settings.order_http_url
        token = settings.order_http_token.get_secret_value() if settings.order_http_token else None
        live = HttpOrderSource(settings.order_http_url, token, timeout=timeout)
    else:
        return CarrierLinks(SqlOrderSource(engine))
    return CachedSource(CarrierLinks(live), settings.order_cache_seconds)


def build_runtime(
    settings: Settings,
    *,
    engine: Engine | None = None,
    orders: OrderSource | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Runtime:
    """The core for ``settings``; ``engine`` and ``orders`` replace the configured database and source."""
    engine = engine or make_engine(settings.database_url)
    store = SqlConversationStore(engine)
    metrics = CollectorRegistry()
    handler = ConversationHandler(
        understander=build_understander(settings, metrics),
        orders=orders or build_order_source(settings, engine),
        store=store,
        messages=store,
        failures=store,
        policy=Policy(
            shop_name=settings.shop_name,
            support_contact=settings.support_contact,
            idle_after=timedelta(minutes=settings.session_idle_minutes),
        ),
        limits=Limits(
            per_conversation=settings.verify_max_failures,
            per_order=settings.verify_max_failures_per_order,
            per_email=settings.verify_max_failures_per_email,
            window=timedelta(minutes=settings.verify_window_minutes),
        ),
        max_text_length=settings.max_text_length,
        **({"clock": clock} if clock else {}),
    )
    return Runtime(settings=settings, engine=engine, handler=handler, metrics=metrics)
