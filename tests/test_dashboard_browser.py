"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): the owner logs in with the
token, sees the last 7 days with their charts, handles a ticket and logs out; a wrong token and a form
without its CSRF token are refused; the overview fits a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr

from channels.app import create_app
from tests.conftest import LiveServer, eventually, needs_chromium

pytestmark = needs_chromium

TOKEN = "admin-token-b7e1a9"
JANE = "jane.doe@example.com"


@pytest.fixture(params=["sqlite"])
def database_url(tmp_path) -> str:
    # The browser tests exercise the pages, not the database: SQLite alone keeps them quick.
    return f"sqlite:///{tmp_path / 'lumen-dashboard.db'}"


@pytest.fixture
def shop(settings, orders, clock, provider_api) -> Iterator[str]:
    """A shop whose tickets go to a webhook, with a few conversations already had."""
    configured = settings.model_copy(
        update={
            "admin_token": SecretStr(TOKEN),
            "shop_name": "Acme Outfitters",
            "ticket_webhook_url": f"{provider_api.url}/hooks",
            "ticket_webhook_secret": SecretStr("whsec-dashboard-test"),
        }
    )
    with LiveServer(create_app(configured, engine=orders, clock=clock)) as client:
        chat(client, "where is order 1042", JANE)
        chat(client, "where is order 1042", JANE, "I want a refund")
        yield str(client.base_url).rstrip("/")


def chat(http: httpx.Client, *texts: str) -> None:
    session = None
    for text in texts:
        session = http.post("/api/chat", json={"session": session, "text": text}).json()["session"]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def log_in(page: Page, shop: str, token: str = TOKEN) -> None:
    page.goto(f"{shop}/admin")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Log in").click()


def test_the_owner_logs_in_sees_the_week_handles_a_ticket_and_logs_out(page, shop):
    log_in(page, shop)

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("link", name="7 days")).to_have_attribute("aria-current", "true")
    expect(page.get_by_role("img", name=re.compile("Conversations per day"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Tickets by category"))).to_be_visible()
    expect(page.locator(".tile").first).to_contain_text("2")

    page.get_by_role("link", name="Tickets").click()
    page.get_by_role("link", name=re.compile(r"LUM-")).click()
    expect(page.get_by_role("heading", name=re.compile("Ticket LUM-"))).to_contain_text("open")
    expect(page.get_by_text("I want a refund")).to_be_visible()
    page.get_by_role("button", name="Close ticket").click()
    expect(page.get_by_role("status")).to_have_text("Ticket closed.")
    expect(page.get_by_role("heading", name=re.compile("Ticket LUM-"))).to_contain_text("closed")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to the dashboard")).to_be_visible()
    page.goto(f"{shop}/admin")
    expect(page).to_have_url(f"{shop}/admin/login")


def test_a_delivery_the_webhook_refused_is_redelivered_from_the_tickets_page(page, shop, provider_api):
    provider_api.default = (400, {"error": "unexpected field"}, {})
    chat(httpx.Client(base_url=shop), "Can I talk to a person?")
    log_in(page, shop)
    page.goto(f"{shop}/admin/tickets?category=human")
    page.get_by_role("link", name=re.compile(r"LUM-")).click()

    def dropped() -> bool:
        page.reload()
        return page.get_by_role("button", name="Redeliver").count() == 1

    eventually(dropped)
    expect(page.get_by_text("ticket webhook answered 400")).to_be_visible()
    provider_api.default = (200, {}, {})
    page.get_by_role("button", name="Redeliver").click()

    expect(page.get_by_role("status")).to_have_text("Deliveries queued again.")
    eventually(lambda: page.reload() or page.locator("td .status.sent").count() == 1)


def test_a_wrong_token_is_refused(page, shop):
    log_in(page, shop, token="not-the-token")

    expect(page.get_by_role("alert")).to_have_text("That token is not right.")
    page.goto(f"{shop}/admin")
    expect(page).to_have_url(f"{shop}/admin/login")


def test_a_form_posted_without_its_csrf_token_is_refused(page, shop):
    log_in(page, shop)
    page.goto(f"{shop}/admin/tickets")
    reference = page.get_by_role("link", name=re.compile(r"LUM-")).first.inner_text()

    # The browser's own session cookie goes along; only the form's CSRF field is missing.
    refused = page.request.post(f"{shop}/admin/tickets/{reference}/close", form={"reason": "forged"})

    assert refused.status == 403
    page.goto(f"{shop}/admin/tickets/{reference}")
    expect(page.get_by_role("heading", name=re.compile("Ticket LUM-"))).to_contain_text("open")


def test_the_overview_fits_a_phone(browser, shop):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    try:
        log_in(page, shop)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()

        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        chart = page.get_by_role("img", name=re.compile("Conversations per day")).bounding_box()

        assert overflow <= 0
        assert chart is not None and chart["width"] <= 360
    finally:
        context.close()
