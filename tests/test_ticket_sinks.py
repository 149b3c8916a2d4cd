"""Tickets reach the team: stored first, then delivered to every sink — a signed webhook, the support
inbox, Zendesk — each against a real server on loopback, retried through outages, delivered once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from channels.app import build_runtime, create_app
from lumen_bot.domain.tickets import Ticket
from lumen_bot.services.outbox import Outbox
from lumen_bot.services.ticket_desk import TicketDesk
from lumen_bot.settings import Settings
from lumen_bot.store.tickets import get_ticket, list_tickets
from tests.conftest import VOICES, Dialogue, LiveServer, eventually

WEBHOOK_SECRET = "whsec-test-8f2a"
SUPPORT = "support@acme.example"
ZENDESK_AGENT = "agent@acme.example"
ZENDESK_TOKEN = "zd-token-5d1c"


@dataclass
class Desk:
    """A ticket desk and its outbox, driven by hand on one event loop (as the server's loops would)."""

    desk: TicketDesk
    outbox: Outbox
    loop: asyncio.Runner

    def dispatch(self) -> int:
        return self.loop.run(self.desk.dispatch_pending())

    def retry_due(self) -> int:
        return self.loop.run(self.outbox.deliver_due())


@pytest.fixture
def make_desk(orders, clock):
    with asyncio.Runner() as loop:

        def make(settings: Settings) -> Desk:
            runtime = build_runtime(settings, engine=orders, clock=clock)
            return Desk(runtime.desk, runtime.outbox, loop)

        yield make


@pytest.fixture
def webhook_settings(settings, provider_api) -> Settings:
    return settings.model_copy(
        update={
            "ticket_webhook_url": f"{provider_api.url}/hooks/lumen",
            "ticket_webhook_secret": SecretStr(WEBHOOK_SECRET),
        }
    )


@pytest.fixture
def inbox_settings(settings, smtp_server) -> Settings:
    return settings.model_copy(
        update={
            "email_from": "orders@acme.example",
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "smtp_starttls": False,
            "ticket_email_to": SUPPORT,
        }
    )


@pytest.fixture
def zendesk_settings(settings, provider_api) -> Settings:
    provider_api.default = (201, {"ticket": {"id": 35436, "status": "new"}}, {})
    return settings.model_copy(
        update={
            "zendesk_url": provider_api.url,
            "zendesk_email": ZENDESK_AGENT,
            "zendesk_api_token": SecretStr(ZENDESK_TOKEN),
        }
    )


def the_ticket(orders) -> Ticket:
    [listed] = list_tickets(orders)
    ticket = get_ticket(orders, listed.reference)
    assert ticket is not None
    return ticket


def test_the_webhook_gets_the_ticket_as_json_signed_with_the_secret(
    webhook_settings, make_desk, chat, orders, provider_api
):
    chat("I want a refund")

    make_desk(webhook_settings).dispatch()

    [request] = provider_api.requests
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert (request.method, request.path) == ("POST", "/hooks/lumen")
    assert request.headers["x-lumen-signature"] == expected
    payload = request.json()
    ticket = the_ticket(orders)
    assert payload["event"] == "ticket.created"
    assert payload["ticket"]["reference"] == ticket.reference == request.headers["x-lumen-delivery"]
    assert payload["ticket"]["category"] == "refund"
    assert payload["ticket"]["transcript"][0] == {
        "from": "shopper",
        "at": payload["ticket"]["transcript"][0]["at"],
        "text": "I want a refund",
    }
    assert [(d.sink, d.status) for d in ticket.deliveries] == [("ticket_webhook", "sent")]


def test_a_webhook_outage_keeps_the_ticket_and_delivers_it_when_the_webhook_is_back(
    webhook_settings, make_desk, chat, orders, provider_api, clock
):
    provider_api.default = (503, {"error": "maintenance"}, {})
    chat("I want to talk to a person")
    desk = make_desk(webhook_settings)

    desk.dispatch()

    [waiting] = the_ticket(orders).deliveries
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.last_error == "ticket webhook answered 503"

    provider_api.default = (200, {}, {})
    clock.advance(minutes=5)
    desk.retry_due()

    [delivered] = the_ticket(orders).deliveries
    assert (delivered.status, delivered.attempts) == ("sent", 2)
    assert len(provider_api.requests) == 2
    assert provider_api.requests[0].body == provider_api.requests[1].body  # the same ticket, re-sent


def test_a_webhook_that_rejects_the_ticket_shows_the_delivery_dropped(
    webhook_settings, make_desk, chat, orders, provider_api
):
    provider_api.default = (400, {"error": "unexpected field"}, {})
    chat("I want a refund")

    make_desk(webhook_settings).dispatch()

    [rejected] = the_ticket(orders).deliveries
    assert (rejected.status, rejected.last_error) == ("dropped", "ticket webhook answered 400")
    assert the_ticket(orders).status == "open"  # the team still sees it in Lumen


def test_the_support_inbox_gets_the_ticket_by_email(inbox_settings, make_desk, chat, orders, smtp_server):
    chat(f"order 1042 {'jane.doe@example.com'}")
    chat("The vase arrived broken")

    make_desk(inbox_settings).dispatch()

    [mail] = eventually(lambda: smtp_server.received)
    ticket = the_ticket(orders)
    assert mail.rcpt_tos == (SUPPORT,)
    assert mail.message["Subject"] == f"[{ticket.reference}] Damaged item — order #1042"
    assert mail.message["Reply-To"] == "jane.doe@example.com"
    body = mail.message.get_content()
    assert "Verified order: #1042" in body and "Shopper: The vase arrived broken" in body
    assert "1Z999AA10123456784" not in body  # the order answer stays out of the transcript
    assert [(d.sink, d.status) for d in ticket.deliveries] == [("smtp", "sent")]


def test_the_support_inbox_being_down_delays_the_ticket_until_it_is_up(
    inbox_settings, make_desk, chat, orders, smtp_server, clock
):
    smtp_server.stop()
    chat("I want a refund")
    desk = make_desk(inbox_settings)

    desk.dispatch()
    assert the_ticket(orders).deliveries[0].status == "pending"

    smtp_server.start()
    clock.advance(minutes=5)
    desk.retry_due()

    assert the_ticket(orders).deliveries[0].status == "sent"
    assert len(smtp_server.received) == 1


def test_zendesk_gets_a_private_ticket_with_api_token_auth_and_an_idempotency_key(
    zendesk_settings, make_desk, chat, orders, provider_api
):
    chat("I was charged twice")

    make_desk(zendesk_settings).dispatch()

    [request] = provider_api.requests
    ticket = the_ticket(orders)
    credentials = base64.b64encode(f"{ZENDESK_AGENT}/token:{ZENDESK_TOKEN}".encode()).decode()
    assert (request.method, request.path) == ("POST", "/api/v2/tickets.json")
    assert request.headers["authorization"] == f"Basic {credentials}"
    assert request.headers["idempotency-key"] == ticket.reference
    sent = request.json()["ticket"]
    assert sent["subject"] == f"[{ticket.reference}] Payment problem"
    assert sent["external_id"] == ticket.reference and "lumen_payment" in sent["tags"]
    assert sent["comment"]["public"] is False and "Shopper: I was charged twice" in sent["comment"]["body"]
    assert [(d.sink, d.status, d.external_id) for d in ticket.deliveries] == [("zendesk", "sent", "35436")]


def test_zendesk_throttling_is_retried_after_the_time_it_asks_for(
    zendesk_settings, make_desk, chat, orders, provider_api, clock
):
    provider_api.default = (429, {"error": "TooManyRequests"}, {"Retry-After": "30"})
    chat("I was charged twice")
    desk = make_desk(zendesk_settings)
    desk.dispatch()

    provider_api.default = (201, {"ticket": {"id": 7}}, {})
    clock.advance(seconds=20)
    desk.retry_due()
    assert the_ticket(orders).deliveries[0].status == "pending"  # not yet: Zendesk asked for 30 s

    clock.advance(seconds=30)
    desk.retry_due()
    assert the_ticket(orders).deliveries[0].status == "sent"


def test_every_configured_sink_gets_each_ticket_once(
    webhook_settings, zendesk_settings, inbox_settings, make_desk, chat, orders, smtp_server
):
    every_sink = inbox_settings.model_copy(
        update={
            name: getattr(settings, name)
            for settings in (webhook_settings, zendesk_settings)
            for name in (
                "ticket_webhook_url",
                "ticket_webhook_secret",
                "zendesk_url",
                "zendesk_email",
                "zendesk_api_token",
            )
            if getattr(settings, name) is not None
        }
    )
    chat("I want a refund")
    desk = make_desk(every_sink)

    assert desk.dispatch() == 1
    assert desk.dispatch() == 0

    deliveries = the_ticket(orders).deliveries
    assert sorted(d.sink for d in deliveries) == ["smtp", "ticket_webhook", "zendesk"]
    assert all(d.status == "sent" for d in deliveries)


def test_two_workers_hand_a_ticket_over_once(webhook_settings, make_desk, chat, orders, provider_api):
    chat("I want a refund")
    first, second = make_desk(webhook_settings), make_desk(webhook_settings)

    async def both() -> list[int]:
        return list(await asyncio.gather(first.desk.dispatch_pending(), second.desk.dispatch_pending()))

    assert sorted(first.loop.run(both())) == [0, 1]
    assert len(provider_api.requests) == 1


def test_the_running_server_delivers_a_shoppers_ticket(webhook_settings, orders, clock, provider_api):
    with LiveServer(create_app(webhook_settings, engine=orders, clock=clock)) as http:
        http.post("/api/chat", json={"session": None, "text": "Please cancel my order"})

        [request] = provider_api.wait_for(1)

    assert json.loads(request.body)["ticket"]["category"] == "cancel"


def test_a_spanish_shoppers_ticket_reaches_a_german_shops_team_in_german(
    inbox_settings, make_desk, orders, smtp_server, clock
):
    german_shop = inbox_settings.model_copy(update={"default_language": "de"})
    chat = Dialogue(build_runtime(german_shop, engine=orders, clock=clock).handler)
    chat("quiero que me devuelvan el dinero, por favor")

    make_desk(german_shop).dispatch()

    [mail] = eventually(lambda: smtp_server.received)
    ticket = the_ticket(orders)
    assert ticket.language == "es"
    assert mail.message["Subject"] == f"[{ticket.reference}] {VOICES['de']('Refund request')}"
    body = mail.message.get_content()
    assert f"{VOICES['de']('Language')}: es" in body
    assert f"{VOICES['de']('Shopper')}: quiero que me devuelvan el dinero, por favor" in body


def test_a_webhook_down_for_longer_than_eight_attempts_still_gets_the_ticket_when_it_is_back(
    webhook_settings, make_desk, chat, orders, provider_api, clock
):
    provider_api.default = (503, {"error": "maintenance"}, {})
    chat("I want a refund")
    desk = make_desk(webhook_settings)
    desk.dispatch()
    for _ in range(11):  # three and a half hours down
        clock.advance(minutes=20)
        desk.retry_due()
    assert [(d.status, d.attempts) for d in the_ticket(orders).deliveries] == [("pending", 12)]

    provider_api.default = (200, {}, {})
    clock.advance(minutes=20)
    desk.retry_due()

    assert [(d.status, d.attempts) for d in the_ticket(orders).deliveries] == [("sent", 13)]


def test_a_ticket_delivery_is_given_up_when_its_retry_window_ends(
    webhook_settings, make_desk, chat, orders, provider_api, clock
):
    provider_api.default = (503, {"error": "maintenance"}, {})
    chat("I want a refund")
    desk = make_desk(webhook_settings.model_copy(update={"ticket_delivery_retry_hours": 1}))
    desk.dispatch()
    for _ in range(2):
        clock.advance(minutes=20)
        desk.retry_due()
    assert the_ticket(orders).deliveries[0].status == "pending"

    clock.advance(minutes=21)
    desk.retry_due()

    [given_up] = the_ticket(orders).deliveries
    assert (given_up.status, given_up.attempts) == ("failed", 4)
    assert given_up.last_error == "ticket webhook answered 503"


def test_the_webhook_carries_the_same_idempotency_key_on_a_retry(
    webhook_settings, make_desk, chat, orders, provider_api, clock
):
    provider_api.default = (503, {"error": "maintenance"}, {})
    chat("I want a refund")
    desk = make_desk(webhook_settings)
    desk.dispatch()

    provider_api.default = (200, {}, {})
    clock.advance(minutes=5)
    desk.retry_due()

    first, retry = provider_api.requests
    assert (
        first.headers["idempotency-key"] == retry.headers["idempotency-key"] == the_ticket(orders).reference
    )


def test_redelivering_sends_a_given_up_delivery_again_and_only_that_one(
    webhook_settings, zendesk_settings, make_desk, chat, orders, provider_api
):
    both = webhook_settings.model_copy(
        update={
            name: getattr(zendesk_settings, name)
            for name in ("zendesk_url", "zendesk_email", "zendesk_api_token")
        }
    )
    provider_api.respond = lambda request: (
        (400, {"error": "unexpected field"}, {}) if request.path == "/hooks/lumen" else provider_api.default
    )
    chat("I want a refund")
    desk = make_desk(both)
    desk.dispatch()
    reference = the_ticket(orders).reference
    assert sorted((d.sink, d.status) for d in the_ticket(orders).deliveries) == [
        ("ticket_webhook", "dropped"),
        ("zendesk", "sent"),
    ]

    provider_api.respond = lambda request: provider_api.default
    requeued = desk.loop.run(desk.desk.redeliver(reference.lower()))

    assert [(r.reference, r.sink) for r in requeued] == [(reference, "ticket_webhook")]
    assert sorted((d.sink, d.status, d.attempts) for d in the_ticket(orders).deliveries) == [
        ("ticket_webhook", "sent", 1),
        ("zendesk", "sent", 1),
    ]
    assert [request.path for request in provider_api.requests].count("/api/v2/tickets.json") == 1
