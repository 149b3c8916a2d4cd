"""The composition root: the one place that reads the settings and picks the adapter behind every port.

:func:`build_runtime` assembles the core — the database and its stores, the order source, understanding,
the conversation handler, the outbox with a sender per provider, the ticket desk, the update notifier —
and :func:`create_app` serves it over HTTP. The console script (``channels/cli.py``) runs on the same
runtime. No other module of ``channels`` imports the SQL store or SQLAlchemy: the channels get ports and
services from here.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, SecretStr
from sqlalchemy import Engine, make_url
from starlette.responses import JSONResponse, Response

from channels import admin, commerce_webhooks, dashboard, twilio, unsubscribe, web, whatsapp_cloud, widget
from channels.email import service as email_service
from channels.email import webhooks as email_webhooks
from channels.email.outbound import SmtpSender
from channels.http_errors import (
    RETRY_AFTER_SECONDS,
    UNEXPECTED,
    ErrorBody,
    document_error_bodies,
    error_headers,
    error_responses,
    invalid_request,
)
from channels.http_guards import LumenApi
from channels.ticket_sinks import SupportInboxSink, WebhookSink, ZendeskSink
from channels.understanders import build_understander
from channels.update_delivery import build_update_renderers
from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.engine import Policy
from lumen_bot.domain.rules import RuleUnderstander
from lumen_bot.domain.speech import Speech
from lumen_bot.domain.stats import Prices
from lumen_bot.locales.voices import load_voices
from lumen_bot.logs import configure_logging, quiet_access_log
from lumen_bot.metrics import OutboxMetrics, UpdateMetrics
from lumen_bot.orders.http_source import HttpOrderSource
from lumen_bot.orders.remote import CachedSource, CarrierLinks
from lumen_bot.orders.shopify import ShopifySource
from lumen_bot.orders.woocommerce import WooCommerceSource
from lumen_bot.ports import (
    ConversationLog,
    DashboardStats,
    ExplainingUnderstander,
    OptOuts,
    OrderBook,
    OrderSource,
    ReplySender,
    SeenTokens,
    StoreUnavailable,
    TicketSink,
    TicketStore,
    UpdateStore,
)
from lumen_bot.services.background import Background
from lumen_bot.services.conversation import ConversationHandler, Limits
from lumen_bot.services.intake import Intake
from lumen_bot.services.outbox import Outbox
from lumen_bot.services.ticket_desk import TicketDesk
from lumen_bot.services.updates import UpdateNotifier
from lumen_bot.settings import ConfigurationError, Settings, load_settings, required
from lumen_bot.store.conversation_log import SqlConversationLog
from lumen_bot.store.conversations import SqlConversationStore
from lumen_bot.store.database import Database, make_engine
from lumen_bot.store.inbox import SqlInbox
from lumen_bot.store.opt_outs import SqlOptOuts
from lumen_bot.store.orders import SqlOrderBook, SqlOrderSource
from lumen_bot.store.outbox import SqlOutboxStore
from lumen_bot.store.seen_tokens import SqlSeenTokens
from lumen_bot.store.stats import SqlStats
from lumen_bot.store.tickets import SqlTicketStore
from lumen_bot.store.updates import SqlUpdateStore

log = logging.getLogger(__name__)

# Generous for any chat message or provider webhook, small enough that no client can exhaust memory.
MAX_BODY_BYTES = 256 * 1024
# At shutdown, replies still being prepared (a late Twilio reply) get this long to go out.
_SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything the channels use, built from one set of settings; :meth:`aclose` releases it all."""

    settings: Settings
    clock: Clock
    handler: ConversationHandler
    understander: ExplainingUnderstander
    outbox: Outbox
    intake: Intake
    """Webhook messages stored before they are acknowledged, answered once."""
    desk: TicketDesk
    tickets: TicketStore
    order_book: OrderBook
    opt_outs: OptOuts
    seen_tokens: SeenTokens
    metrics: CollectorRegistry
    voices: Mapping[str, Speech]
    """The enabled languages' voices, for what channels say outside a conversation."""
    database: Database
    updates: UpdateNotifier
    """Proactive shipping updates: the moves of subscribed orders, told through the outbox."""
    update_store: UpdateStore
    """The subscriptions to updates and what each was told (the unsubscribe link, the shop's listings)."""
    stats: DashboardStats
    """The dashboard's figures (``/admin``, ``GET /api/stats``)."""
    conversation_log: ConversationLog
    """Conversations as the shop's team finds and reads them."""
    background: Background = field(default_factory=Background)
    resources: AsyncExitStack = field(default_factory=AsyncExitStack)
    """Closes, in reverse order of opening: senders, order source and model clients, the database."""

    async def aclose(self) -> None:
        """Finish background work, then close every client and the database."""
        await self.background.stop(_SHUTDOWN_GRACE_SECONDS)
        await self.resources.aclose()


def build_runtime(
    settings: Settings,
    *,
    engine: Engine | None = None,
    orders: OrderSource | None = None,
    clock: Clock = utc_now,
) -> Runtime:
    """The core for ``settings``; ``engine`` and ``orders`` replace the configured database and source
    (the caller then keeps ownership of ``engine``)."""
    resources = AsyncExitStack()
    if engine is None:
        engine = open_database(settings)
        resources.push_async_callback(asyncio.to_thread, engine.dispose)
    database = Database(engine)
    resources.push_async_callback(database.aclose)
    metrics = CollectorRegistry()
    understander = build_understander(settings, metrics, resources)
    timezone = ZoneInfo(settings.timezone)
    voices = load_voices(settings.languages, timezone)
    store = SqlConversationStore(database, updates_max_days=settings.updates_max_days)
    orders = orders or build_order_source(settings, database, resources)
    opt_outs = SqlOptOuts(database)
    handler = ConversationHandler(
        understander=understander,
        orders=orders,
        store=store,
        messages=store,
        failures=store,
        policy=Policy(
            shop_name=settings.shop_name,
            support_contact=settings.support_contact,
            idle_after=timedelta(minutes=settings.session_idle_minutes),
            voices=voices,
            default_language=settings.default_language,
            timezone=timezone,
            update_channels=update_channels(settings),
        ),
        limits=Limits(
            per_conversation=settings.verify_max_failures,
            per_order=settings.verify_max_failures_per_order,
            per_email=settings.verify_max_failures_per_email,
            window=timedelta(minutes=settings.verify_window_minutes),
        ),
        max_text_length=settings.max_text_length,
        clock=clock,
    )
    sinks, sink_senders = build_sinks(settings, voices[settings.default_language])
    senders = {**build_senders(settings), **sink_senders}
    for sender in senders.values():
        resources.push_async_callback(sender.aclose)
    outbox = build_outbox(settings, database, senders, clock, metrics)
    intake = Intake(
        SqlInbox(database),
        handler,
        outbox,
        {**twilio.RENDERERS, **whatsapp_cloud.RENDERERS},
        lease=timedelta(seconds=settings.inbox_lease_seconds),
        clock=clock,
    )
    tickets = SqlTicketStore(database)
    update_store = SqlUpdateStore(database)
    updates = UpdateNotifier(
        update_store,
        # Not through the cache: a webhook says an order moved, often seconds after a conversation read it.
        orders.uncached if isinstance(orders, CachedSource) else orders,
        opt_outs,
        build_update_renderers(settings, voices),
        voices,
        default_language=settings.default_language,
        timezone=timezone,
        quiet_hours=settings.quiet_hours_span,
        monitor=UpdateMetrics(metrics),
        clock=clock,
    )
    return Runtime(
        settings=settings,
        clock=clock,
        handler=handler,
        understander=understander,
        outbox=outbox,
        intake=intake,
        desk=TicketDesk(tickets, outbox, sinks, clock=clock),
        tickets=tickets,
        order_book=SqlOrderBook(database),
        opt_outs=opt_outs,
        seen_tokens=SqlSeenTokens(database),
        metrics=metrics,
        voices=voices,
        database=database,
        updates=updates,
        update_store=update_store,
        stats=SqlStats(database, Prices(settings.llm_price_per_1k_input, settings.llm_price_per_1k_output)),
        conversation_log=SqlConversationLog(database),
        resources=resources,
    )


def update_channels(settings: Settings) -> frozenset[str]:
    """The channels updates can go out on, as configured: SMS through Twilio's REST API, WhatsApp through
    the Cloud API or Twilio, email through SMTP from ``LUMEN_EMAIL_FROM`` (a web chat offers email)."""
    twilio_rest = bool(settings.twilio_account_sid and secret(settings.twilio_auth_token))
    configured = {
        "sms": twilio_rest,
        "whatsapp": twilio_rest or secret(settings.whatsapp_access_token) is not None,
        email_service.CHANNEL: bool(settings.smtp_host and settings.email_from),
    }
    return frozenset(channel for channel, possible in configured.items() if possible)


def build_order_source(
    settings: Settings, database: Database, resources: AsyncExitStack | None = None
) -> OrderSource:
    """The configured source of orders, with carrier links filled in; a live platform's orders cached.
    A live source's HTTP client is closed with ``resources``."""
    timeout = settings.order_source_timeout_seconds
    live: ShopifySource | WooCommerceSource | HttpOrderSource
    if settings.order_source == "shopify":
        live = ShopifySource(
            required(settings.shopify_store_url, "LUMEN_SHOPIFY_STORE_URL"),
            required(settings.shopify_access_token, "LUMEN_SHOPIFY_ACCESS_TOKEN").get_secret_value(),
            settings.shopify_api_version,
            timeout=timeout,
        )
    elif settings.order_source == "woocommerce":
        live = WooCommerceSource(
            required(settings.woocommerce_url, "LUMEN_WOOCOMMERCE_URL"),
            required(settings.woocommerce_consumer_key, "LUMEN_WOOCOMMERCE_CONSUMER_KEY"),
            required(
                settings.woocommerce_consumer_secret, "LUMEN_WOOCOMMERCE_CONSUMER_SECRET"
            ).get_secret_value(),
            timeout=timeout,
        )
    elif settings.order_source == "http":
        token = settings.order_http_token.get_secret_value() if settings.order_http_token else None
        live = HttpOrderSource(
            required(settings.order_http_url, "LUMEN_ORDER_HTTP_URL"), token, timeout=timeout
        )
    else:
        return CarrierLinks(SqlOrderSource(database))
    if resources is not None:
        resources.push_async_callback(live.aclose)
    return CachedSource(CarrierLinks(live), settings.order_cache_seconds)


def build_senders(settings: Settings) -> dict[str, ReplySender]:
    """A sender for every provider API that is configured, keyed by the name the outbox knows it by."""
    senders: dict[str, ReplySender] = {}
    if settings.twilio_account_sid and settings.twilio_auth_token:
        senders[twilio.VIA] = twilio.TwilioRestSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_api_url,
        )
        # WhatsApp updates outside the 24-hour window: an approved content template.
        senders[twilio.CONTENT_VIA] = twilio.TwilioContentSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_api_url,
        )
    if (token := secret(settings.whatsapp_access_token)) is not None:
        senders[whatsapp_cloud.VIA] = whatsapp_cloud.GraphSender(settings.whatsapp_graph_url, token)
        senders[whatsapp_cloud.TEMPLATE_VIA] = whatsapp_cloud.GraphTemplateSender(
            settings.whatsapp_graph_url, token
        )
    if (smtp := smtp_sender(settings)) is not None:
        senders[email_service.VIA] = smtp
    return senders


def build_shopify_admin(settings: Settings) -> ShopifySource | None:
    """The Shopify Admin API client (``LUMEN_SHOPIFY_STORE_URL`` and ``LUMEN_SHOPIFY_ACCESS_TOKEN``) that
    names the orders of fulfillment webhooks and registers them; ``None`` when it is not configured."""
    token = secret(settings.shopify_access_token)
    if not settings.shopify_store_url or token is None:
        return None
    return ShopifySource(
        settings.shopify_store_url,
        token,
        settings.shopify_api_version,
        timeout=settings.order_source_timeout_seconds,
    )


def smtp_sender(settings: Settings) -> SmtpSender | None:
    """The SMTP sender, or ``None`` when ``LUMEN_SMTP_HOST`` or ``LUMEN_EMAIL_FROM`` is not set."""
    if not settings.smtp_host or not settings.email_from:
        return None
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username or None,
        password=secret(settings.smtp_password),
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_tls,
    )


def build_sinks(settings: Settings, say: Speech) -> tuple[list[TicketSink], dict[str, ReplySender]]:
    """The configured ticket sinks, and the outbox senders they need beyond the channels' own (the
    support inbox goes out through the email channel's SMTP sender). They write to the team in the shop's
    language, ``say``."""
    sinks: list[TicketSink] = []
    senders: dict[str, ReplySender] = {}
    if settings.ticket_webhook_url and settings.ticket_webhook_secret:
        webhook = WebhookSink(settings.ticket_webhook_url, settings.ticket_webhook_secret.get_secret_value())
        sinks.append(webhook)
        senders[webhook.via] = webhook
    if settings.ticket_email_to and settings.email_from:
        sinks.append(SupportInboxSink(settings.email_from, settings.ticket_email_to, settings.shop_name, say))
    if settings.zendesk_url and settings.zendesk_email and settings.zendesk_api_token:
        zendesk = ZendeskSink(
            settings.zendesk_url, settings.zendesk_email, settings.zendesk_api_token.get_secret_value(), say
        )
        sinks.append(zendesk)
        senders[zendesk.via] = zendesk
    return sinks, senders


def build_outbox(
    settings: Settings,
    database: Database,
    senders: Mapping[str, ReplySender],
    clock: Clock = utc_now,
    metrics: CollectorRegistry | None = None,
) -> Outbox:
    return Outbox(
        SqlOutboxStore(database),
        senders,
        max_attempts=settings.outbox_max_attempts,
        ticket_retry_window=timedelta(hours=settings.ticket_delivery_retry_hours),
        monitor=OutboxMetrics(metrics or CollectorRegistry()),
        clock=clock,
    )


def build_email_channel(runtime: Runtime) -> email_service.EmailChannel:
    settings = runtime.settings
    return email_service.EmailChannel(
        runtime.handler,
        runtime.intake,
        runtime.outbox,
        settings,
        # The subject and the quoted confirmation are read for an order number the way the rules read it.
        order_numbers=RuleUnderstander(settings.order_number_pattern),
        voices=runtime.voices,
        clock=runtime.clock,
    )


def build_rate_limit(settings: Settings) -> web.RateLimit:
    """The chat's rate limit; :class:`ConfigurationError` when its storage cannot be used."""
    return web.RateLimit(
        settings.chat_rate_limit, settings.rate_limit_storage, per_client=settings.chat_rate_limit_per_client
    )


def migrate(settings: Settings) -> None:
    """Create or upgrade the schema of ``LUMEN_DATABASE_URL`` (every process does it at start-up too, one
    at a time on PostgreSQL: see ``store.database.prepare_schema``)."""
    open_database(settings).dispose()


def open_database(settings: Settings) -> Engine:
    """The engine of ``LUMEN_DATABASE_URL``, its schema up to date. A SQLite file this process cannot
    create or write is refused with one line naming the folder and the user (a Docker volume mounted
    read-only or owned by root), rather than SQLite's "unable to open database file"."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database).absolute()
        folder = path.parent
        who = f"uid {os.getuid()}" if hasattr(os, "getuid") else "this user"
        if not folder.is_dir():
            raise ConfigurationError(f"LUMEN_DATABASE_URL: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise ConfigurationError(
                f"LUMEN_DATABASE_URL: {folder} is not writable by {who}, which runs Lumen: "
                "give it write access (in Docker, a volume it owns: chown 10001 on the host folder)"
            )
    return make_engine(settings.database_url)


def prepare_workers(settings: Settings, workers: int) -> None:
    """What each of ``workers`` server processes would do first, done once before they start: refuse a
    rate limit storage that cannot be used with one message (not a traceback from every worker), and
    migrate the schema."""
    build_rate_limit(settings)
    if settings.rate_limit_storage.startswith("memory://"):
        log.warning(
            "LUMEN_RATE_LIMIT_STORAGE is memory://: each of the %d workers counts on its own, so the chat"
            " rate limit is %d times higher; use redis:// to share the counts",
            workers,
            workers,
        )
    migrate(settings)


_READY_WITHIN_SECONDS = 2.0  # a load balancer's probe must not hang on a stalled database


class NotReady(BaseModel):
    """``GET /readyz``'s 503: why the server cannot take traffic now."""

    status: Literal["not ready"]
    reasons: list[str]


async def not_ready(database: Database, rate_limit: web.RateLimit) -> list[str]:
    """Why the server cannot take traffic now; empty when it can."""
    reasons = []
    try:
        await asyncio.wait_for(database.ping(), _READY_WITHIN_SECONDS)
    except StoreUnavailable as error:
        reasons.append(f"the database does not answer ({error})")
    except TimeoutError:
        reasons.append(f"the database does not answer within {_READY_WITHIN_SECONDS:g} s")
    try:
        reachable = await asyncio.wait_for(asyncio.to_thread(rate_limit.reachable), _READY_WITHIN_SECONDS)
    except TimeoutError:
        reachable = False
    if not reachable:
        reasons.append("the rate limit's storage (LUMEN_RATE_LIMIT_STORAGE) does not answer")
    return reasons


def secret(value: SecretStr | None) -> str | None:
    """A secret setting's value; an empty one counts as unset (it would accept an empty password or sign
    with an empty key)."""
    return (value.get_secret_value() or None) if value is not None else None


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, clock: Clock = utc_now
) -> FastAPI:
    """The HTTP server: every channel's routes on one runtime, its background loops run by the lifespan."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    # Before the database: a storage that cannot be used (redis:// without the redis extra) stops here.
    rate_limit = build_rate_limit(settings)
    runtime = build_runtime(settings, engine=engine, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Messages that could not go out earlier (an outage, a restart) are retried from here, and new
        # tickets are handed to the outbox for every sink.
        runtime.background.loop(runtime.outbox.run())
        runtime.background.loop(runtime.desk.run())
        runtime.background.loop(runtime.intake.run())
        # Subscribed orders are checked again now and then, so a missed webhook only delays an update.
        runtime.background.loop(runtime.updates.run(settings.updates_poll_seconds))
        try:
            yield
        finally:
            await runtime.aclose()

    app = LumenApi(
        title="Lumen",
        version="0.1.0",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
        # Any route may fail unexpectedly: the HTTP guard answers it (http_errors.answer_failure).
        responses=error_responses({503: UNEXPECTED}),
        # One layer for the request id and log line, body limits, the chat's CORS and the 503.
        guard={
            "max_bytes": MAX_BODY_BYTES,
            "larger": {
                "/webhooks/email/": settings.email_max_bytes,
                commerce_webhooks.SHOPIFY_PATH: commerce_webhooks.MAX_BODY_BYTES,
                commerce_webhooks.WOOCOMMERCE_PATH: commerce_webhooks.MAX_BODY_BYTES,
            },
            "cors_paths": {"/api/chat"},
            "cors_origins": settings.widget_origins,
        },
    )
    # The guard writes the one line per request: uvicorn's access line would be a second.
    quiet_access_log()
    document_error_bodies(app)
    app.state.runtime = runtime
    app.state.outbox = runtime.outbox
    app.state.tickets = runtime.desk
    app.add_exception_handler(RequestValidationError, invalid_request)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    not_ready_response = {
        "description": "Not ready: the reasons, and when to ask again (or a failure on the server's side)",
        "model": NotReady | ErrorBody,
        "headers": error_headers(503),
    }

    @app.get("/readyz", responses={503: not_ready_response})
    async def readyz() -> JSONResponse:
        """Ready for traffic: the database answers, and so does the rate limit's storage."""
        reasons = await not_ready(runtime.database, rate_limit)
        if reasons:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            return JSONResponse({"status": "not ready", "reasons": reasons}, status_code=503, headers=headers)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        # Counts only — understandings by understander, LLM tokens and latency — no personal data.
        return Response(generate_latest(runtime.metrics), media_type=CONTENT_TYPE_LATEST)

    app.include_router(
        admin.router(
            runtime.tickets,
            secret(settings.admin_token),
            clock,
            updates=runtime.update_store,
            stats=runtime.stats,
            timezone=settings.timezone,
        )
    )
    app.include_router(
        dashboard.router(
            token=secret(settings.admin_token),
            stats=runtime.stats,
            tickets=runtime.tickets,
            conversations=runtime.conversation_log,
            clock=clock,
            timezone=settings.timezone,
            shop_name=settings.shop_name,
        )
    )
    app.include_router(web.router(runtime.handler, settings.max_text_length, rate_limit, clock))
    app.include_router(widget.router(settings, runtime.voices))
    app.include_router(
        twilio.router(
            runtime.intake,
            runtime.opt_outs,
            runtime.background,
            settings,
            runtime.voices[settings.default_language],
            clock,
        )
    )
    app.include_router(whatsapp_cloud.router(runtime.intake, runtime.background, settings))
    app.include_router(
        email_webhooks.router(
            build_email_channel(runtime),
            runtime.seen_tokens,
            secret=secret(settings.inbound_email_secret),
            mailgun_key=secret(settings.mailgun_signing_key),
            clock=clock,
        )
    )
    # The email updates' one-click unsubscribe link, in the shop's language.
    app.include_router(
        unsubscribe.router(runtime.update_store, runtime.voices[settings.default_language], clock)
    )
    app.include_router(build_commerce_webhooks(runtime))
    return app


def build_commerce_webhooks(runtime: Runtime) -> APIRouter:
    """``POST /webhooks/shopify`` and ``/webhooks/woocommerce``: the order events the update notifier
    follows; a route is off when its webhook secret is not set."""
    settings = runtime.settings
    shopify_admin = build_shopify_admin(settings) if settings.shopify_webhook_secret else None
    if shopify_admin is not None:
        runtime.resources.push_async_callback(shopify_admin.aclose)
    return commerce_webhooks.router(
        runtime.updates,
        runtime.seen_tokens,
        runtime.background,
        shopify_secret=secret(settings.shopify_webhook_secret),
        woocommerce_secret=secret(settings.woocommerce_webhook_secret),
        shopify_orders=shopify_admin,
        clock=runtime.clock,
    )
