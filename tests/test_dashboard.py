"""The dashboard over real HTTP: the token exchanged for a session cookie, CSRF on every form, the pages
and what they show (personal data masked in lists, in full on a detail page)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from channels.app import create_app
from channels.dashboard.session import Sessions
from tests.conftest import Dialogue, LiveServer

TOKEN = "admin-token-8c4e77"
JANE = "jane.doe@example.com"


@pytest.fixture
def shop(settings, orders, clock) -> Iterator[httpx.Client]:
    app = create_app(
        settings.model_copy(update={"admin_token": SecretStr(TOKEN), "shop_name": "Acme"}),
        engine=orders,
        clock=clock,
    )
    with LiveServer(app) as client:
        yield client


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def log_in(http: httpx.Client, token: str = TOKEN, **headers: str) -> httpx.Response:
    form = http.get("/admin/login", headers=headers)
    return http.post("/admin/login", data={"csrf": csrf_of(form), "token": token}, headers=headers)


def chat(http: httpx.Client, *texts: str) -> None:
    session = None
    for text in texts:
        answer = http.post("/api/chat", json={"session": session, "text": text})
        session = answer.raise_for_status().json()["session"]


def only_ticket(http: httpx.Client) -> str:
    listed = http.get("/admin/tickets")
    return re.search(r"/admin/tickets/(LUM-[A-Z0-9]+)", listed.text).group(1)


def test_without_an_admin_token_the_dashboard_does_not_exist(http):
    assert http.get("/admin").status_code == 404
    assert http.get("/admin/login").status_code == 404


def test_a_page_without_a_session_sends_the_browser_to_the_login_form(shop):
    for path in ("/admin", "/admin/tickets", "/admin/conversations", "/admin/conversations/1"):
        response = shop.get(path)

        assert (response.status_code, response.headers["location"]) == (303, "/admin/login")


def test_the_right_token_gives_a_strict_http_only_expiring_session_cookie(shop):
    response = log_in(shop)

    assert (response.status_code, response.headers["location"]) == (303, "/admin")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("lumen_admin="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain http: the browser would drop a Secure cookie
    assert shop.get("/admin").status_code == 200


def test_behind_https_both_cookies_are_secure(shop):
    # The test server trusts its loopback proxy, as uvicorn does by default. httpx keeps a Secure cookie
    # from a plain-http server to itself, so the login form's cookie is sent back by hand.
    https = {"X-Forwarded-Proto": "https"}
    form = shop.get("/admin/login", headers=https)
    login_cookie = form.headers["set-cookie"]
    value = login_cookie.split(";")[0].split("=", 1)[1]

    response = httpx.post(
        shop.base_url.join("/admin/login"),
        data={"csrf": csrf_of(form), "token": TOKEN},
        headers={**https, "Cookie": f"lumen_admin_login={value}"},
    )

    session_cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("lumen_admin="))
    assert "Secure" in login_cookie and "Secure" in session_cookie


def test_a_wrong_token_is_refused_and_gives_no_session(shop):
    response = log_in(shop, token="guess")

    assert response.status_code == 401
    assert "That token is not right." in response.text
    assert "lumen_admin" not in shop.cookies
    assert shop.get("/admin").status_code == 303


def test_a_login_without_the_forms_csrf_token_is_refused(shop):
    shop.get("/admin/login")

    response = shop.post("/admin/login", data={"token": TOKEN})

    assert response.status_code == 403
    assert shop.get("/admin").status_code == 303


def test_a_forged_session_cookie_is_no_session(shop):
    shop.cookies.set("lumen_admin", "eyJjc3JmIjoiYWJjIn0.forged.signature", path="/admin")

    assert shop.get("/admin").status_code == 303


def test_a_session_expires():
    sessions = Sessions(TOKEN)
    cookie, csrf = sessions.new_session()

    assert sessions.session_csrf(cookie) == csrf
    assert sessions.session_csrf(cookie, max_age=-1) is None


def test_a_new_admin_token_ends_every_session():
    cookie, _csrf = Sessions(TOKEN).new_session()

    assert Sessions("a-new-token").session_csrf(cookie) is None


def test_a_form_without_the_sessions_csrf_token_changes_nothing(shop):
    chat(shop, "I want a refund")
    log_in(shop)
    reference = only_ticket(shop)

    refused = shop.post(f"/admin/tickets/{reference}/close", data={"csrf": "not-the-one"})

    assert refused.status_code == 403
    assert "open" in shop.get(f"/admin/tickets/{reference}").text
    assert shop.post("/admin/logout").status_code == 403


def test_closing_a_ticket_from_its_page(shop):
    chat(shop, "I want a refund")
    log_in(shop)
    reference = only_ticket(shop)
    page = shop.get(f"/admin/tickets/{reference}")

    closed = shop.post(f"/admin/tickets/{reference}/close", data={"csrf": csrf_of(page)})

    assert closed.status_code == 303
    after = shop.get(closed.headers["location"])
    assert "Ticket closed." in after.text and "Close ticket" not in after.text


def test_logging_out_ends_the_session(shop):
    page = log_in(shop) and shop.get("/admin")

    response = shop.post("/admin/logout", data={"csrf": csrf_of(page)})

    assert (response.status_code, response.headers["location"]) == (303, "/admin/login")
    assert shop.get("/admin").status_code == 303


def test_pages_forbid_scripts_framing_and_caching(shop):
    log_in(shop)

    headers = shop.get("/admin").headers

    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"


def test_the_overview_draws_its_charts_with_text_alternatives(shop):
    chat(shop, "where is order 1042", JANE)
    log_in(shop)

    page = shop.get("/admin", params={"period": "30d"}).text

    assert page.count('class="chart"') == 4 and 'role="img"' in page
    assert "<table>" in page and "Conversations and messages per day and channel" in page


def test_the_stylesheet_is_served_by_lumen(shop):
    response = shop.get("/admin/static/dashboard.css")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")


def test_a_tickets_contact_is_masked_in_the_list_and_shown_on_its_page(shop):
    chat(shop, "where is order 1042", JANE, "I want a refund")
    log_in(shop)

    listed = shop.get("/admin/tickets").text
    reference = only_ticket(shop)

    assert JANE not in listed and "j***@e***" in listed
    assert JANE in shop.get(f"/admin/tickets/{reference}").text


def test_tickets_are_filtered_by_category(shop):
    chat(shop, "I want a refund")
    chat(shop, "Can I talk to a person?")
    log_in(shop)

    page = shop.get("/admin/tickets", params={"category": "refund"}).text

    assert page.count("/admin/tickets/LUM-") == 1 and ">refund<" in page


@pytest.mark.parametrize("query", ["1042", "#1042", JANE, "Jane.Doe@Example.com"])
def test_a_conversation_is_found_by_its_verified_order_or_its_email(shop, query):
    chat(shop, "where is order 1042", JANE)
    chat(shop, "hello")
    log_in(shop)

    page = shop.get("/admin/conversations", params={"q": query}).text

    assert len(re.findall(r'href="/admin/conversations/\d+"', page)) == 1


def test_an_sms_conversation_is_found_by_its_phone_number_masked_in_the_list(shop, runtime):
    Dialogue(runtime.handler, channel="sms", key="+15550100199")("hello")
    log_in(shop)

    page = shop.get("/admin/conversations", params={"q": "+1 (555) 010-0199"}).text

    assert "+15550100199" not in page and "*********99" in page


def test_a_conversations_page_shows_the_whole_transcript(shop):
    chat(shop, "where is order 1042", JANE)
    log_in(shop)
    listed = shop.get("/admin/conversations", params={"q": "1042"}).text
    path = re.search(r'href="(/admin/conversations/\d+)"', listed).group(1)

    page = shop.get(path).text

    assert "where is order 1042" in page and JANE in page and "UPS" in page


def test_an_unknown_conversation_or_ticket_is_not_found(shop):
    log_in(shop)

    assert shop.get("/admin/conversations/999999").status_code == 404
    assert shop.get("/admin/tickets/LUM-NOPE").status_code == 404
