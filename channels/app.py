"""The composition root of the HTTP server: ``create_app(settings)`` wires every channel to the core."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr
from sqlalchemy import Engine

from channels import admin, ticket_sinks, twilio, web, whatsapp_cloud, widget
from channels.email import outbound as email_outbound
from channels.email import service as email_service
from channels.email import webhooks as email_webhooks
from channels.http_guards import BodyLimit, PathCors, RequestContext
from lumen_bot.logs import configure_logging
from lumen_bot.outbox import Outbox
from lumen_bot.ports import ReplySender
from lumen_bot.runtime import build_runtime
from lumen_bot.settings import Settings, load_settings
from lumen_bot.store.opt_outs import OptOuts
from lumen_bot.tickets import TicketDesk

log = logging.getLogger(__name__)

# Generous for any chat message or provider webhook, small enough that no client can exhaust memory.
MAX_BODY_BYTES = 256 * 1024


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    runtime = build_runtime(settings, engine=engine, clock=clock)
    sinks, sink_senders = ticket_sinks.build(settings)
    outbox, senders = build_outbox(settings, runtime.engine, clock, extra=sink_senders)
    desk = TicketDesk(runtime.engine, outbox, sinks, **({"clock": clock} if clock else {}))
    log.info("ticket sinks", extra={"sinks": list(desk.sinks) or None})

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Messages that could not go out earlier (an outage, a restart) are retried from here, and new
        # tickets are handed to the outbox for every sink.
        loops = [asyncio.create_task(outbox.run()), asyncio.create_task(desk.run())]
        try:
            yield
        finally:
            for loop in loops:
                loop.cancel()
            for sender in senders:
                await sender.aclose()

    app = FastAPI(title="Lumen", version="0.1.0", docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.outbox = outbox
    app.state.tickets = desk
    app.add_middleware(
        BodyLimit, max_bytes=MAX_BODY_BYTES, larger={"/webhooks/email/": settings.email_max_bytes}
    )
    app.add_middleware(PathCors, paths={"/api/chat"}, origins=settings.widget_origins)
    app.add_middleware(RequestContext)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        # Counts only — understandings by understander, LLM tokens and latency — no personal data.
        return Response(generate_latest(runtime.metrics), media_type=CONTENT_TYPE_LATEST)

    admin_token = _secret(settings.admin_token)
    if admin_token is not None:
        app.include_router(admin.router(runtime.engine, admin_token, clock or _now))
    else:
        log.info("admin routes off: LUMEN_ADMIN_TOKEN is not set")
    rate_limit = web.RateLimit(settings.chat_rate_limit, settings.rate_limit_storage)
    app.include_router(web.router(runtime.handler, settings.max_text_length, rate_limit))
    app.include_router(widget.router(settings))
    app.include_router(twilio.router(runtime.handler, outbox, OptOuts(runtime.engine), settings))
    app.include_router(whatsapp_cloud.router(runtime.handler, outbox, settings))
    app.include_router(
        email_webhooks.router(
            email_service.EmailChannel(
                runtime.handler, outbox, settings, **({"clock": clock} if clock else {})
            ),
            runtime.engine,
            secret=_secret(settings.inbound_email_secret),
            mailgun_key=_secret(settings.mailgun_signing_key),
        )
    )
    return app


def build_outbox(
    settings: Settings,
    engine: Engine,
    clock: Callable[[], datetime] | None = None,
    *,
    extra: Mapping[str, ReplySender] | None = None,
) -> tuple[Outbox, list[ReplySender]]:
    """The outbox with a sender for every provider API that is configured (and the ``extra`` ones of
    ticket sinks), and those senders."""
    senders = {
        via: sender
        for via, sender in (
            ("twilio", twilio.sender(settings)),
            ("whatsapp_cloud", whatsapp_cloud.sender(settings)),
            (email_service.VIA, email_outbound.sender(settings)),
        )
        if sender is not None
    }
    senders.update(extra or {})
    options = {"clock": clock} if clock else {}
    return Outbox(engine, senders, max_attempts=settings.outbox_max_attempts, **options), list(
        senders.values()
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _secret(value: SecretStr | None) -> str | None:
    # An empty secret would accept an empty password or signing key: treat it as not set.
    return (value.get_secret_value() or None) if value is not None else None


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    reasons = [_reason(item) for item in error.errors()]
    return JSONResponse({"detail": "; ".join(reasons) or "invalid request"}, status_code=422)


def _reason(item: dict[str, Any]) -> str:
    """One validation error as a client developer wants to read it."""
    if item.get("type") == "json_invalid":
        return "body is not valid JSON"
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    if not where:
        return "body must be a JSON object"
    return f"{where}: {item.get('msg', 'invalid')}"


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=error)
    return JSONResponse({"detail": "something went wrong on our side; please try again"}, status_code=503)
