"""The server side of the widget: the script and the demo page, CORS for storefronts, the chat rate
limit and the page's security headers."""

from __future__ import annotations

import re

import httpx
import pytest

from channels.app import create_app
from tests.conftest import LiveServer

STOREFRONT = "https://shop.example"


@pytest.fixture
def storefront_http(settings, orders, clock):
    app = create_app(settings.model_copy(update={"widget_origins": [STOREFRONT]}), engine=orders, clock=clock)
    with LiveServer(app) as client:
        yield client


def preflight(http: httpx.Client, path: str, origin: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    return http.options(path, headers=headers)


def test_the_widget_script_is_javascript_with_the_shops_settings(http):
    response = http.get("/widget.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert '"shopName": "Acme Outfitters"' in response.text
    assert "__LUMEN_CONFIG__" not in response.text


def test_a_shop_name_cannot_break_out_of_the_widgets_script(settings, orders, clock):
    hostile = settings.model_copy(update={"shop_name": "</script><script>alert(1)</script>"})
    with LiveServer(create_app(hostile, engine=orders, clock=clock)) as client:
        script = client.get("/widget.js").text

    [config] = [line for line in script.splitlines() if line.strip().startswith("var CONFIG = ")]
    assert "</script>" not in config and "\\u003c/script\\u003e" in config


def test_the_demo_storefront_carries_the_widget_and_a_strict_policy(http):
    response = http.get("/")

    assert response.status_code == 200
    assert "<h1>Acme Outfitters</h1>" in response.text
    assert '<script src="/widget.js" defer></script>' in response.text
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce and f'<style nonce="{nonce.group(1)}">' in response.text
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_each_page_view_gets_its_own_nonce(http):
    first, second = (http.get("/").headers["content-security-policy"] for _ in range(2))

    assert first != second


def test_the_shop_name_on_the_page_is_escaped(settings, orders, clock):
    hostile = settings.model_copy(update={"shop_name": "<img src=x onerror=alert(1)>"})
    with LiveServer(create_app(hostile, engine=orders, clock=clock)) as client:
        page = client.get("/").text

    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_an_allowed_storefront_may_call_the_chat_api(storefront_http):
    response = preflight(storefront_http, "/api/chat", STOREFRONT)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == STOREFRONT
    chat = storefront_http.post(
        "/api/chat", json={"session": None, "text": "hi"}, headers={"Origin": STOREFRONT}
    )
    assert chat.headers["access-control-allow-origin"] == STOREFRONT


def test_another_origin_gets_no_cors_permission(storefront_http):
    response = preflight(storefront_http, "/api/chat", "https://evil.example")

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_without_configured_origins_no_storefront_may_call_the_api(http):
    assert "access-control-allow-origin" not in preflight(http, "/api/chat", STOREFRONT).headers


def test_cors_never_opens_the_admin_routes(storefront_http):
    response = preflight(storefront_http, "/api/tickets", STOREFRONT)

    assert "access-control-allow-origin" not in response.headers


@pytest.fixture
def limited_app(settings, orders, clock):
    # Three messages a minute for a session, and for a client over all its sessions.
    limits = {"chat_rate_limit": "3/minute", "chat_rate_limit_per_client": "3/minute"}
    return create_app(settings.model_copy(update=limits), engine=orders, clock=clock)


def test_a_client_over_the_rate_limit_gets_429_with_a_clear_message(limited_app):
    with LiveServer(limited_app) as client:
        answers, session = [], None
        for _ in range(4):
            answers.append(client.post("/api/chat", json={"session": session, "text": "hi"}))
            session = answers[-1].json().get("session", session)

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json()["detail"].startswith("Too many messages in a short time. Please wait")
    assert 1 <= int(refused.headers["retry-after"]) <= 60


@pytest.mark.anyio
async def test_the_limit_is_per_client(limited_app):
    async def say_hi(client_ip: str) -> int:
        transport = httpx.ASGITransport(app=limited_app, client=(client_ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://lumen") as client:
            response = await client.post("/api/chat", json={"session": None, "text": "hi"})
            return response.status_code

    first_client = [await say_hi("203.0.113.7") for _ in range(4)]
    other_client = await say_hi("198.51.100.23")

    assert first_client[-1] == 429
    assert other_client == 200
