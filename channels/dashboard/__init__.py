"""The shop's dashboard, ``/admin``: what Lumen answered, what it escalated and the tickets, in the browser.

Server-rendered (Jinja2) with charts drawn as SVG on the server (``charts.py``): no JavaScript, no build
step, every asset served by Lumen. Behind the admin token, exchanged at ``/admin/login`` for a session
cookie (``session.py``); every form carries the session's CSRF secret. Without ``LUMEN_ADMIN_TOKEN`` none
of it exists (404). The figures come from the same query layer as ``GET /api/stats``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as Path_
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from channels.dashboard import charts
from channels.dashboard.session import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    LOGIN_FORM_SECONDS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Sessions,
    same_secret,
)
from lumen_bot.domain.clock import Clock
from lumen_bot.domain.conversation_log import search_terms
from lumen_bot.domain.redaction import redact
from lumen_bot.domain.stats import Overview, Period, window
from lumen_bot.domain.tickets import DeliveryStatus, TicketCategory, TicketStatus
from lumen_bot.ports import ConversationLog, DashboardStats, TicketStore

log = logging.getLogger(__name__)

_HERE = Path(__file__).parent
_STYLESHEET = _HERE / "static" / "dashboard.css"
_LIST_LIMIT = 100
_TRANSCRIPT_LIMIT = 200
# No script runs on these pages, no other origin is asked for anything, and no other site may frame them.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_REDELIVERABLE = {DeliveryStatus.FAILED, DeliveryStatus.DROPPED}


def router(
    *,
    token: str | None,
    stats: DashboardStats,
    tickets: TicketStore,
    conversations: ConversationLog,
    clock: Clock,
    timezone: str,
    shop_name: str,
) -> APIRouter:
    if token is None:
        log.info("dashboard off: LUMEN_ADMIN_TOKEN is not set")
        return APIRouter()
    sessions = Sessions(token)
    pages = _environment()
    pages.globals["shop_name"] = shop_name
    admin = APIRouter(prefix="/admin", include_in_schema=False)

    def render(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
        html = pages.get_template(template).render(request=request, **context)
        return HTMLResponse(html, status_code=code, headers=_HEADERS)

    def session_csrf(request: Request) -> str | None:
        return sessions.session_csrf(request.cookies.get(SESSION_COOKIE))

    async def refused_form(request: Request) -> Response | None:
        """Why a form post of the session is refused (no session, a missing or wrong CSRF field), or
        ``None`` to go on."""
        csrf = session_csrf(request)
        if csrf is None:
            return _to_login()
        form = await request.form(max_files=0, max_fields=8)
        if not same_secret(csrf, _field(form.get("csrf"))):
            raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")
        return None

    @admin.get("/login")
    async def login_form(request: Request) -> HTMLResponse:
        return _login_page(request, render, sessions)

    @admin.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        expected = sessions.login_form_csrf(request.cookies.get(LOGIN_COOKIE))
        if not same_secret(expected, _field(form.get("csrf"))):
            return _login_page(request, render, sessions, "The form expired. Please try again.", 403)
        if not sessions.token_matches(_field(form.get("token")) or ""):
            log.warning("dashboard login refused: wrong admin token")
            return _login_page(request, render, sessions, "That token is not right.", 401)
        value, _csrf = sessions.new_session()
        signed = RedirectResponse("/admin", status_code=303, headers=_HEADERS)
        _set_cookie(signed, request, SESSION_COOKIE, value, SESSION_SECONDS)
        signed.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
        log.info("dashboard login")
        return signed

    @admin.post("/logout")
    async def logout(request: Request) -> Response:
        if refused := await refused_form(request):
            return refused
        gone = RedirectResponse("/admin/login", status_code=303, headers=_HEADERS)
        gone.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return gone

    @admin.get("/static/dashboard.css")
    async def stylesheet() -> FileResponse:
        return FileResponse(_STYLESHEET, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @admin.get("")
    async def overview(request: Request, period: Period = Period.WEEK) -> Response:
        if (csrf := session_csrf(request)) is None:
            return _to_login()
        figures = await stats.overview(window(period, clock(), timezone))
        return render(
            request,
            "overview.html",
            csrf=csrf,
            section="overview",
            figures=figures,
            periods=list(Period),
            charts=_charts(figures),
        )

    @admin.get("/tickets")
    async def ticket_list(
        request: Request,
        status: Annotated[str, Query(max_length=16)] = "",
        category: Annotated[str, Query(max_length=32)] = "",
    ) -> Response:
        if (csrf := session_csrf(request)) is None:
            return _to_login()
        chosen_status = _member(TicketStatus, status)
        chosen_category = _member(TicketCategory, category)
        found = await tickets.newest(status=chosen_status, category=chosen_category, limit=_LIST_LIMIT)
        return render(
            request,
            "tickets.html",
            csrf=csrf,
            section="tickets",
            tickets=found,
            statuses=list(TicketStatus),
            categories=list(TicketCategory),
            status=chosen_status,
            category=chosen_category,
        )

    @admin.get("/tickets/{reference}")
    async def ticket_page(
        request: Request, reference: Annotated[str, Path_(max_length=16)], done: str = ""
    ) -> Response:
        if (csrf := session_csrf(request)) is None:
            return _to_login()
        found = await tickets.get(reference)
        if found is None:
            return render(request, "missing.html", 404, csrf=csrf, section="tickets", what="ticket")
        redeliverable = any(delivery.status in _REDELIVERABLE for delivery in found.deliveries)
        return render(
            request,
            "ticket.html",
            csrf=csrf,
            section="tickets",
            ticket=found,
            redeliverable=redeliverable,
            done={"closed": "Ticket closed.", "redelivered": "Deliveries queued again."}.get(done),
        )

    @admin.post("/tickets/{reference}/close")
    async def close(request: Request, reference: Annotated[str, Path_(max_length=16)]) -> Response:
        if refused := await refused_form(request):
            return refused
        if await tickets.close(reference, clock()) is None:
            raise HTTPException(404, f"no ticket {reference}")
        return RedirectResponse(f"/admin/tickets/{reference}?done=closed", status_code=303, headers=_HEADERS)

    @admin.post("/tickets/{reference}/redeliver")
    async def redeliver(request: Request, reference: Annotated[str, Path_(max_length=16)]) -> Response:
        if refused := await refused_form(request):
            return refused
        if await tickets.requeue(reference, clock()) is None:
            raise HTTPException(404, f"no ticket {reference}")
        return RedirectResponse(
            f"/admin/tickets/{reference}?done=redelivered", status_code=303, headers=_HEADERS
        )

    @admin.get("/conversations")
    async def conversation_list(request: Request, q: Annotated[str, Query(max_length=320)] = "") -> Response:
        if (csrf := session_csrf(request)) is None:
            return _to_login()
        terms = search_terms(q)
        if q.strip():
            found = await conversations.search(terms, _LIST_LIMIT)
        else:
            found = await conversations.newest(_LIST_LIMIT)
        return render(
            request,
            "conversations.html",
            csrf=csrf,
            section="conversations",
            conversations=found,
            query=q.strip(),
            unreadable=bool(q.strip()) and terms.empty,
        )

    @admin.get("/conversations/{conversation_id}")
    async def conversation_page(request: Request, conversation_id: int) -> Response:
        if (csrf := session_csrf(request)) is None:
            return _to_login()
        found = await conversations.transcript(conversation_id, _TRANSCRIPT_LIMIT)
        if found is None:
            return render(
                request, "missing.html", 404, csrf=csrf, section="conversations", what="conversation"
            )
        return render(request, "conversation.html", csrf=csrf, section="conversations", conversation=found)

    return admin


def _to_login() -> Response:
    """The answer to a page asked for without a valid session."""
    return RedirectResponse("/admin/login", status_code=303, headers=_HEADERS)


def _environment() -> Environment:
    pages = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,
    )
    # Shown where a figure has nothing to count yet (a rate of no conversations).
    missing = "\N{EN DASH}"
    pages.filters["masked"] = redact
    pages.filters["number"] = lambda value: f"{value:,}" if value is not None else missing
    pages.filters["share"] = lambda value: f"{value:.0%}" if value is not None else missing
    pages.filters["moment"] = lambda value: f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else missing
    return pages


def _login_page(
    request: Request,
    render: Callable[..., HTMLResponse],
    sessions: Sessions,
    error: str | None = None,
    code: int = 200,
) -> HTMLResponse:
    """The login form, with a new CSRF secret in it and in its own cookie."""
    value, csrf = sessions.new_login_form()
    page = render(request, "login.html", code, csrf=csrf, error=error, section="login")
    _set_cookie(page, request, LOGIN_COOKIE, value, LOGIN_FORM_SECONDS)
    return page


def _set_cookie(response: Response, request: Request, name: str, value: str, seconds: int) -> None:
    # Secure whenever the browser came over https (uvicorn's proxy headers tell, behind a trusted proxy):
    # a plain-http loopback test or demo could not log in with a Secure cookie.
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path=COOKIE_PATH,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


def _field(value: object) -> str | None:
    return value if isinstance(value, str) else None


_Choice = TypeVar("_Choice", TicketStatus, TicketCategory)


def _member(kind: type[_Choice], value: str) -> _Choice | None:
    """The filter chosen, or none for an empty or unknown value (a stale bookmark shows every ticket)."""
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def _per_day(figures: Overview, figure: Literal["conversations", "messages"], description: str) -> Markup:
    """``figure`` on each day of the period, stacked by channel."""
    return Markup(
        charts.stacked_bars(
            [f"{day:%b} {day.day}" for day in figures.window.days],
            {channel: figures.per_day(channel, figure) for channel in figures.channels},
            title=f"{figure.capitalize()} per day",
            description=description,
        )
    )


def _charts(figures: Overview) -> dict[str, Markup]:
    understood = figures.understanders
    return {
        "conversations": _per_day(
            figures, "conversations", "Conversations with at least one message each day, stacked by channel."
        ),
        "messages": _per_day(figures, "messages", "Shopper messages each day, stacked by channel."),
        "tickets": Markup(
            charts.horizontal_bars(
                sorted(figures.tickets_by_category.items(), key=lambda item: -item[1]),
                title="Tickets by category",
                description="Requests passed to the team in this period, by what they asked for.",
            )
        ),
        "understanding": Markup(
            charts.horizontal_bars(
                [
                    ("Offline", understood.get("model", 0) + understood.get("rules", 0)),
                    ("LLM", understood.get("llm", 0)),
                ],
                title="Who understood the messages",
                description="Messages read by the offline understander and by the LLM.",
            )
        ),
    }
