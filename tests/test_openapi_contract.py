"""``GET /openapi.json`` tells the truth about errors: every status a route answers is declared, with the
body and headers the server really sends.

Each error is produced with a real request to the server; its body is then checked against the schema
the document declares for that route and status. (``jsonschema`` is not a dependency, so ``violations``
checks the part of JSON Schema the document uses.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from channels.app import create_app
from lumen_bot.ports import StoreUnavailable

# The contract is the same whatever the database: checked on SQLite.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ADMIN = {"Authorization": "Bearer admin-token"}
TWILIO_TOKEN = "twilio-token"
PUBLIC = "https://lumen.example.com"
APP_SECRET = "whatsapp-app-secret"
EMAIL_SECRET = "inbound-email-secret"
SHOPIFY_SECRET = "shopify-secret"
EMAIL = {"Authorization": "Basic " + base64.b64encode(f"lumen:{EMAIL_SECRET}".encode()).decode()}
JSON = {"content-type": "application/json"}
TOO_LARGE = b"x" * (300 * 1024)


@pytest.fixture
def app(settings, orders, clock) -> FastAPI:
    """The app with every route mounted; ``http`` (conftest) serves this one."""
    every_route = {
        "admin_token": SecretStr("admin-token"),
        "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        "public_base_url": PUBLIC,
        "whatsapp_app_secret": SecretStr(APP_SECRET),
        "whatsapp_verify_token": SecretStr("verify-token"),
        "inbound_email_secret": SecretStr(EMAIL_SECRET),
        "mailgun_signing_key": SecretStr("mailgun-key"),
        "email_max_bytes": 64 * 1024,
        "shopify_webhook_secret": SecretStr(SHOPIFY_SECRET),
        "woocommerce_webhook_secret": SecretStr("woocommerce-secret"),
        # One message a minute, so that the second one is refused.
        "chat_rate_limit": "1/minute",
        "chat_rate_limit_per_client": "1/minute",
    }
    return create_app(settings.model_copy(update=every_route), engine=orders, clock=clock)


def twilio_post(http: httpx.Client, params: dict[str, str]) -> httpx.Response:
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC}/webhooks/twilio", params)
    return http.post("/webhooks/twilio", data=params, headers={"X-Twilio-Signature": signature})


def whatsapp_post(http: httpx.Client, body: bytes) -> httpx.Response:
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return http.post("/webhooks/whatsapp", content=body, headers={**JSON, "X-Hub-Signature-256": signature})


def shopify_post(http: httpx.Client, body: bytes) -> httpx.Response:
    digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    headers = {
        **JSON,
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
    }
    return http.post("/webhooks/shopify", content=body, headers=headers)


def chunks() -> Iterator[bytes]:
    yield from (b"x" * 1024 for _ in range(300))


def rate_limited(http: httpx.Client) -> httpx.Response:
    http.post("/api/chat", json={"session": "s", "text": "hi"})
    return http.post("/api/chat", json={"session": "s", "text": "hi"})


def failing(app: FastAPI, monkeypatch: pytest.MonkeyPatch, owner: str, method: str) -> None:
    """Makes ``runtime.<owner>.<method>`` fail as a bug would."""

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(getattr(app.state.runtime, owner), method, broken)


def database_down(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    async def down() -> None:
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(app.state.runtime.database, "ping", down)


Produce = Callable[[httpx.Client, FastAPI, pytest.MonkeyPatch], httpx.Response]

# route (method, path as the document names it), status, and a request that gets that status.
ERRORS: dict[str, tuple[str, str, int, Produce]] = {
    "chat: not JSON": (
        "post",
        "/api/chat",
        422,
        lambda http, _app, _mp: http.post("/api/chat", content=b"{nope", headers=JSON),
    ),
    "chat: a wrong type": (
        "post",
        "/api/chat",
        422,
        lambda http, _app, _mp: http.post("/api/chat", json={"session": None, "text": 42}),
    ),
    "chat: an empty text": (
        "post",
        "/api/chat",
        422,
        lambda http, _app, _mp: http.post("/api/chat", json={"session": None, "text": ""}),
    ),
    "chat: only spaces and control characters": (
        "post",
        "/api/chat",
        422,
        lambda http, _app, _mp: http.post("/api/chat", json={"session": None, "text": " \u0000\u0007\t "}),
    ),
    "chat: an over-long text": (
        "post",
        "/api/chat",
        422,
        lambda http, _app, _mp: http.post("/api/chat", json={"session": None, "text": "x" * 2001}),
    ),
    "chat: an oversized body": (
        "post",
        "/api/chat",
        413,
        lambda http, _app, _mp: http.post("/api/chat", content=TOO_LARGE, headers=JSON),
    ),
    "chat: an oversized body in chunks": (
        "post",
        "/api/chat",
        413,
        lambda http, _app, _mp: http.post("/api/chat", content=chunks(), headers=JSON),
    ),
    "chat: over the rate limit": ("post", "/api/chat", 429, lambda http, _app, _mp: rate_limited(http)),
    "chat: an unexpected failure": (
        "post",
        "/api/chat",
        503,
        lambda http, app, mp: (
            failing(app, mp, "handler", "start"),
            http.post("/api/chat", json={"session": None, "text": "hi"}),
        )[1],
    ),
    "readyz: the database does not answer": (
        "get",
        "/readyz",
        503,
        lambda http, app, mp: (database_down(app, mp), http.get("/readyz"))[1],
    ),
    "tickets: no token": ("get", "/api/tickets", 401, lambda http, _app, _mp: http.get("/api/tickets")),
    "tickets: a limit out of range": (
        "get",
        "/api/tickets",
        422,
        lambda http, _app, _mp: http.get("/api/tickets", params={"limit": 0}, headers=ADMIN),
    ),
    "tickets: an unexpected failure": (
        "get",
        "/api/tickets",
        503,
        lambda http, app, mp: (
            failing(app, mp, "tickets", "newest"),
            http.get("/api/tickets", headers=ADMIN),
        )[1],
    ),
    "ticket: no token": (
        "get",
        "/api/tickets/{reference}",
        401,
        lambda http, _app, _mp: http.get("/api/tickets/LUM-1"),
    ),
    "ticket: no such ticket": (
        "get",
        "/api/tickets/{reference}",
        404,
        lambda http, _app, _mp: http.get("/api/tickets/LUM-NONE", headers=ADMIN),
    ),
    "close: no such ticket": (
        "post",
        "/api/tickets/{reference}/close",
        404,
        lambda http, _app, _mp: http.post("/api/tickets/LUM-NONE/close", headers=ADMIN),
    ),
    "close: an oversized body": (
        "post",
        "/api/tickets/{reference}/close",
        413,
        lambda http, _app, _mp: http.post("/api/tickets/LUM-1/close", content=TOO_LARGE, headers=ADMIN),
    ),
    "twilio: no signature": (
        "post",
        "/webhooks/twilio",
        403,
        lambda http, _app, _mp: http.post("/webhooks/twilio", data={"From": "+15557654321"}),
    ),
    "twilio: neither a form nor JSON": (
        "post",
        "/webhooks/twilio",
        415,
        lambda http, _app, _mp: http.post(
            "/webhooks/twilio", content=b"hi", headers={"content-type": "text/plain"}
        ),
    ),
    "twilio: signed, without From and To": (
        "post",
        "/webhooks/twilio",
        400,
        lambda http, _app, _mp: twilio_post(http, {"Body": "hi"}),
    ),
    "twilio: an oversized body": (
        "post",
        "/webhooks/twilio",
        413,
        lambda http, _app, _mp: http.post(
            "/webhooks/twilio",
            content=TOO_LARGE,
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
    ),
    "whatsapp verify: a wrong token": (
        "get",
        "/webhooks/whatsapp",
        403,
        lambda http, _app, _mp: http.get(
            "/webhooks/whatsapp",
            params={"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        ),
    ),
    "whatsapp: no signature": (
        "post",
        "/webhooks/whatsapp",
        403,
        lambda http, _app, _mp: http.post("/webhooks/whatsapp", content=b"{}", headers=JSON),
    ),
    "whatsapp: signed, not a webhook payload": (
        "post",
        "/webhooks/whatsapp",
        400,
        lambda http, _app, _mp: whatsapp_post(http, b'{"object": "page"}'),
    ),
    "whatsapp: an oversized body": (
        "post",
        "/webhooks/whatsapp",
        413,
        lambda http, _app, _mp: http.post("/webhooks/whatsapp", content=TOO_LARGE, headers=JSON),
    ),
    "email raw: no credentials": (
        "post",
        "/webhooks/email/raw",
        401,
        lambda http, _app, _mp: http.post("/webhooks/email/raw", content=b"From: a@b.example\r\n\r\nhi"),
    ),
    "email raw: no From header": (
        "post",
        "/webhooks/email/raw",
        400,
        lambda http, _app, _mp: http.post(
            "/webhooks/email/raw", content=b"Subject: hi\r\n\r\nhi", headers=EMAIL
        ),
    ),
    "email raw: over LUMEN_EMAIL_MAX_BYTES": (
        "post",
        "/webhooks/email/raw",
        413,
        lambda http, _app, _mp: http.post("/webhooks/email/raw", content=TOO_LARGE, headers=EMAIL),
    ),
    "sendgrid: no credentials": (
        "post",
        "/webhooks/email/sendgrid",
        401,
        lambda http, _app, _mp: http.post("/webhooks/email/sendgrid", data={"text": "hi"}),
    ),
    "postmark: not JSON": (
        "post",
        "/webhooks/email/postmark",
        400,
        lambda http, _app, _mp: http.post("/webhooks/email/postmark", content=b"{nope", headers=EMAIL),
    ),
    "shopify: a forged signature": (
        "post",
        "/webhooks/shopify",
        401,
        lambda http, _app, _mp: http.post(
            "/webhooks/shopify", content=b"{}", headers={**JSON, "X-Shopify-Hmac-Sha256": "forged"}
        ),
    ),
    "shopify: signed, not JSON": (
        "post",
        "/webhooks/shopify",
        400,
        lambda http, _app, _mp: shopify_post(http, b"{nope"),
    ),
    "shopify: an oversized body": (
        "post",
        "/webhooks/shopify",
        413,
        lambda http, _app, _mp: http.post(
            "/webhooks/shopify", content=b"x" * (2 * 1024 * 1024 + 1), headers=JSON
        ),
    ),
    "woocommerce: no signature": (
        "post",
        "/webhooks/woocommerce",
        401,
        lambda http, _app, _mp: http.post("/webhooks/woocommerce", content=b"{}", headers=JSON),
    ),
    "mailgun: no signature": (
        "post",
        "/webhooks/email/mailgun",
        406,
        lambda http, _app, _mp: http.post("/webhooks/email/mailgun", data={"body-plain": "hi"}),
    ),
}


@pytest.mark.parametrize("case", ERRORS)
def test_each_error_a_route_answers_is_declared_with_its_real_body_and_headers(app, http, monkeypatch, case):
    method, path, status, produce = ERRORS[case]

    response = produce(http, app, monkeypatch)
    document = http.get("/openapi.json").json()

    assert response.status_code == status, response.text
    declared = document["paths"][path][method]["responses"]
    assert str(status) in declared, f"{method.upper()} {path} answers {status}, which it does not declare"
    media_type = response.headers["content-type"].split(";")[0]
    schema = declared[str(status)]["content"][media_type]["schema"]
    assert list(violations(response.json(), schema, document)) == []
    sent = {name for name in ("Retry-After", "WWW-Authenticate") if name in response.headers}
    assert sent == set(declared[str(status)].get("headers", {})) & {"Retry-After", "WWW-Authenticate"}


def test_the_schema_requires_a_chat_text_of_at_least_one_character(http):
    text = http.get("/openapi.json").json()["components"]["schemas"]["ChatRequest"]["properties"]["text"]

    assert text["minLength"] == 1


def test_no_route_declares_fastapis_validation_error_list(http):
    # The app's own handler answers {"detail": str}; FastAPI's schema is a list of error objects.
    document = http.get("/openapi.json")

    assert "HTTPValidationError" not in document.text
    assert "HTTPValidationError" not in document.json()["components"]["schemas"]


def test_every_route_declares_the_503_of_an_unexpected_failure_with_retry_after(http):
    document = http.get("/openapi.json").json()

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            unexpected = operation["responses"].get("503")
            assert unexpected is not None, f"{method.upper()} {path}"
            assert "Retry-After" in unexpected["headers"], f"{method.upper()} {path}"


# A check of the JSON Schema the document uses: $ref, anyOf, type, const, enum, required, properties,
# additionalProperties, items, minLength and maxLength.

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def violations(
    value: Any, schema: dict[str, Any], document: dict[str, Any], where: str = "body"
) -> Iterator[str]:
    """Where ``value`` does not match ``schema`` (with its ``$ref``s into ``document``)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        yield from violations(value, document["components"]["schemas"][name], document, where)
        return
    if "anyOf" in schema:
        if all(list(violations(value, option, document, where)) for option in schema["anyOf"]):
            yield f"{where}: {value!r} matches none of {schema['anyOf']}"
        return
    kind = schema.get("type")
    if kind is not None and not _TYPES[kind](value):
        yield f"{where}: {value!r} is not of type {kind}"
        return
    if "const" in schema and value != schema["const"]:
        yield f"{where}: {value!r} is not {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        yield f"{where}: {value!r} is not one of {schema['enum']}"
    if isinstance(value, str) and not schema.get("minLength", 0) <= len(value) <= schema.get(
        "maxLength", len(value)
    ):
        yield f"{where}: a length of {len(value)} is out of bounds"
    if isinstance(value, dict):
        yield from (f"{where}: {name} is missing" for name in schema.get("required", ()) if name not in value)
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                yield from violations(item, properties[name], document, f"{where}.{name}")
            elif extra is False:
                yield f"{where}: {name} is not a property"
            elif isinstance(extra, dict):
                yield from violations(item, extra, document, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from violations(item, schema["items"], document, f"{where}[{index}]")
