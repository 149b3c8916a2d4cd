"""Assembling the core from settings: the one place that picks the adapters behind each port."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from lumen_bot.conversation import ConversationHandler, Limits
from lumen_bot.engine import Policy
from lumen_bot.orders.source import SqlOrderSource
from lumen_bot.ports import OrderSource, Understander
from lumen_bot.settings import Settings
from lumen_bot.store.conversations import SqlConversationStore
from lumen_bot.store.database import make_engine
from lumen_bot.understanding.rules import RuleUnderstander

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    handler: ConversationHandler


def build_understander(settings: Settings) -> Understander:
    if settings.understanding_mode != "rules":
        log.warning(
            "LLM understanding is not available in this release; using the rule-based understander",
            extra={"requested": settings.understanding_mode},
        )
    return RuleUnderstander(settings.order_number_pattern)


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
    handler = ConversationHandler(
        understander=build_understander(settings),
        orders=orders or SqlOrderSource(engine),
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
    return Runtime(settings=settings, engine=engine, handler=handler)
