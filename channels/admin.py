"""Admin routes for the shop's team, with ``Authorization: Bearer``: list, read, close and redeliver
tickets; list the subscriptions to shipping updates and what each was told; the dashboard's figures as
JSON (``GET /api/stats``, the same query layer as ``/admin``).

Mounted only when ``LUMEN_ADMIN_TOKEN`` is set; without it the routes do not exist.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from channels.http_errors import BODY_TOO_LARGE, error_responses
from lumen_bot.domain.clock import Clock
from lumen_bot.domain.redaction import redact
from lumen_bot.domain.stats import Period, window
from lumen_bot.domain.tickets import TicketCategory, TicketStatus
from lumen_bot.ports import DashboardStats, SubscriptionReport, TicketStore, UpdateStore

log = logging.getLogger(__name__)


def router(
    tickets: TicketStore,
    token: str | None,
    clock: Clock,
    *,
    updates: UpdateStore | None = None,
    stats: DashboardStats | None = None,
    timezone: str = "UTC",
) -> APIRouter:
    """The admin routes (``/api/updates`` too with ``updates``, ``/api/stats`` with ``stats``, its days
    in ``timezone``); none without a token."""
    if token is None:
        log.info("admin routes off: LUMEN_ADMIN_TOKEN is not set")
        return APIRouter()
    # Digests have one length whatever was sent, so the comparison takes the same time for any guess.
    expected = hashlib.sha256(token.encode()).digest()

    def authorized(request: Request) -> None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        offered = hashlib.sha256(given.strip().encode()).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(offered, expected):
            raise HTTPException(
                401, "a valid admin token is required", headers={"WWW-Authenticate": 'Bearer realm="lumen"'}
            )

    admin = APIRouter(
        prefix="/api/tickets",
        tags=["admin"],
        dependencies=[Depends(authorized)],
        responses=error_responses({401: "No valid admin token"}),
    )
    no_ticket = error_responses({404: "No ticket with that reference"})
    # Every POST may carry a body, and so be over the limit, though none of these reads one.
    no_ticket_or_too_large = {**no_ticket, **error_responses({413: BODY_TOO_LARGE})}

    @admin.get("")
    async def newest(
        status: TicketStatus | None = None,
        category: Annotated[TicketCategory | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, list[dict[str, Any]]]:
        found = await tickets.newest(status=status, category=category, limit=limit)
        return {"tickets": [ticket.as_json() for ticket in found]}

    @admin.get("/{reference}", responses=no_ticket)
    async def ticket(reference: str) -> dict[str, Any]:
        found = await tickets.get(reference)
        if found is None:
            raise HTTPException(404, f"no ticket {reference}")
        return found.as_json()

    @admin.post("/{reference}/close", responses=no_ticket_or_too_large)
    async def close(reference: str) -> dict[str, Any]:
        closed = await tickets.close(reference, clock())
        if closed is None:
            raise HTTPException(404, f"no ticket {reference}")
        return closed.as_json()

    @admin.post("/{reference}/redeliver", responses=no_ticket_or_too_large)
    async def redeliver(reference: str) -> dict[str, Any]:
        """Send the ticket's failed and dropped deliveries again: they are due at once (the server's
        delivery loop takes them within a second) with a new retry window."""
        requeued = await tickets.requeue(reference, clock())
        found = await tickets.get(reference) if requeued is not None else None
        if found is None:
            raise HTTPException(404, f"no ticket {reference}")
        return {"requeued": [delivery.sink for delivery in requeued or ()], "ticket": found.as_json()}

    everything = APIRouter()
    everything.include_router(admin)
    if stats is not None:
        figures = APIRouter(
            tags=["admin"],
            dependencies=[Depends(authorized)],
            responses=error_responses({401: "No valid admin token"}),
        )

        @figures.get("/api/stats")
        async def overview(period: Period = Period.WEEK) -> dict[str, Any]:
            """The dashboard's figures for ``period`` (``today``, ``7d``, ``30d``: whole days in the shop's
            timezone, ending today), as ``/admin`` shows them."""
            return (await stats.overview(window(period, clock(), timezone))).as_json()

        everything.include_router(figures)
    if updates is None:
        return everything
    subscriptions = APIRouter(
        prefix="/api/updates",
        tags=["admin"],
        dependencies=[Depends(authorized)],
        responses=error_responses({401: "No valid admin token"}),
    )

    @subscriptions.get("")
    async def subscribed(
        order: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, list[dict[str, Any]]]:
        """Subscriptions to shipping updates, newest first (of one order with ``order``), with what each
        was told: ``queued`` (and the outbox's delivery state), ``skipped`` (and why), or ``known``
        (the shopper knew it when they said yes). Addresses are masked."""
        found = await updates.reports(order.strip().lstrip("#") if order else None, limit)
        return {"subscriptions": [subscription_json(report) for report in found]}

    everything.include_router(subscriptions)
    return everything


def subscription_json(report: SubscriptionReport) -> dict[str, Any]:
    """A subscription and its notices as the shop sees them: the shopper's address masked."""
    subscription = report.subscription
    return {
        "id": subscription.id,
        "order_number": subscription.order_number,
        "channel": subscription.channel,
        "address": redact(subscription.address),
        "language": subscription.language,
        "status": subscription.status.value,
        "created_at": subscription.created_at.isoformat(),
        "ends_at": subscription.ends_at.isoformat(),
        "ended_at": subscription.ended_at.isoformat() if subscription.ended_at else None,
        "notices": [
            {
                "shipment": notice.shipment_key,
                "event": notice.event,
                "status": notice.status.value,
                "detail": notice.detail,
                "delivery": notice.delivery.value if notice.delivery else None,
                "at": notice.created_at.isoformat(),
            }
            for notice in report.notices
        ],
    }
