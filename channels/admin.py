"""Admin routes for the shop's team: list, read and close tickets, with ``Authorization: Bearer``.

Mounted only when ``LUMEN_ADMIN_TOKEN`` is set; without it the routes do not exist.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import Engine

from lumen_bot.store.database import run_query
from lumen_bot.tickets import CATEGORIES, close_ticket, get_ticket, list_tickets

Category = Literal[CATEGORIES]  # type: ignore[valid-type]


def router(engine: Engine, token: str, clock: Callable[[], datetime]) -> APIRouter:
    # Digests have one length whatever was sent, so the comparison takes the same time for any guess.
    expected = hashlib.sha256(token.encode()).digest()

    def authorized(request: Request) -> None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        offered = hashlib.sha256(given.strip().encode()).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(offered, expected):
            raise HTTPException(
                401, "a valid admin token is required", headers={"WWW-Authenticate": 'Bearer realm="lumen"'}
            )

    admin = APIRouter(prefix="/api/tickets", tags=["admin"], dependencies=[Depends(authorized)])

    @admin.get("")
    async def tickets(
        status: Literal["open", "closed"] | None = None,
        category: Annotated[Category | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, list[dict[str, Any]]]:
        found = await run_query(engine, list_tickets, engine, status=status, category=category, limit=limit)
        return {"tickets": [ticket.as_json() for ticket in found]}

    @admin.get("/{reference}")
    async def ticket(reference: str) -> dict[str, Any]:
        found = await run_query(engine, get_ticket, engine, reference)
        if found is None:
            raise HTTPException(404, f"no ticket {reference}")
        return found.as_json()

    @admin.post("/{reference}/close")
    async def close(reference: str) -> dict[str, Any]:
        closed = await run_query(engine, close_ticket, engine, reference, clock())
        if closed is None:
            raise HTTPException(404, f"no ticket {reference}")
        return closed.as_json()

    return admin
