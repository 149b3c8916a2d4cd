"""The admin routes: tickets for the shop's team, behind a bearer token."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from channels.app import create_app
from tests.conftest import LiveServer, eventually

TOKEN = "admin-token-3f9c1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin(settings, orders, clock):
    app = create_app(
        settings.model_copy(update={"admin_token": SecretStr(TOKEN)}), engine=orders, clock=clock
    )
    with LiveServer(app) as client:
        yield client


def escalate(http, text: str) -> None:
    http.post("/api/chat", json={"session": None, "text": text}).raise_for_status()


def test_without_an_admin_token_the_routes_do_not_exist(http):
    assert http.get("/api/tickets", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": ""}],
)
def test_a_missing_or_wrong_token_is_refused(admin, headers):
    response = admin.get("/api/tickets", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"] == "a valid admin token is required"


def test_tickets_are_listed_newest_first(admin, clock):
    escalate(admin, "I want a refund")
    clock.advance(minutes=1)
    escalate(admin, "Can I talk to a person?")

    tickets = admin.get("/api/tickets", headers=AUTH).json()["tickets"]

    assert [t["category"] for t in tickets] == ["human", "refund"]
    assert tickets[0]["reference"].startswith("LUM-") and tickets[0]["status"] == "open"


def test_tickets_are_filtered_by_category_and_status(admin):
    escalate(admin, "I want a refund")
    escalate(admin, "Can I talk to a person?")

    refunds = admin.get("/api/tickets", params={"category": "refund"}, headers=AUTH).json()["tickets"]
    closed = admin.get("/api/tickets", params={"status": "closed"}, headers=AUTH).json()["tickets"]

    assert [t["category"] for t in refunds] == ["refund"]
    assert closed == []


def test_an_unknown_filter_value_is_refused_with_a_reason(admin):
    response = admin.get("/api/tickets", params={"status": "pending"}, headers=AUTH)

    assert response.status_code == 422
    assert "status" in response.json()["detail"]


def test_one_ticket_shows_its_conversation_and_deliveries(admin):
    escalate(admin, "The vase arrived broken")
    [listed] = admin.get("/api/tickets", headers=AUTH).json()["tickets"]

    ticket = admin.get(f"/api/tickets/{listed['reference']}", headers=AUTH).json()

    assert ticket["summary"] == "Damaged item"
    assert ticket["transcript"][0]["text"] == "The vase arrived broken"
    assert ticket["deliveries"] == []  # no sink configured


def test_an_unknown_reference_is_not_found(admin):
    assert admin.get("/api/tickets/LUM-XXXXXX", headers=AUTH).status_code == 404
    assert admin.post("/api/tickets/LUM-XXXXXX/close", headers=AUTH).status_code == 404
    assert admin.post("/api/tickets/LUM-XXXXXX/redeliver", headers=AUTH).status_code == 404


def test_closing_a_ticket(admin):
    escalate(admin, "I want a refund")
    [listed] = admin.get("/api/tickets", headers=AUTH).json()["tickets"]

    closed = admin.post(f"/api/tickets/{listed['reference']}/close", headers=AUTH).json()

    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert admin.get("/api/tickets", params={"status": "open"}, headers=AUTH).json()["tickets"] == []


def test_closing_needs_the_token_too(admin):
    escalate(admin, "I want a refund")
    [listed] = admin.get("/api/tickets", headers=AUTH).json()["tickets"]

    assert admin.post(f"/api/tickets/{listed['reference']}/close").status_code == 401
    assert admin.post(f"/api/tickets/{listed['reference']}/redeliver").status_code == 401


@pytest.fixture
def admin_with_webhook(settings, orders, clock, provider_api):
    """The admin routes of a server whose tickets go to the stand-in webhook."""
    configured = settings.model_copy(
        update={
            "admin_token": SecretStr(TOKEN),
            "ticket_webhook_url": f"{provider_api.url}/hooks",
            "ticket_webhook_secret": SecretStr("whsec-admin-test"),
        }
    )
    with LiveServer(create_app(configured, engine=orders, clock=clock)) as client:
        yield client


def test_a_delivery_the_webhook_refused_shows_why_and_redelivering_sends_it_again(
    admin_with_webhook, provider_api
):
    provider_api.default = (400, {"error": "unexpected field"}, {})
    escalate(admin_with_webhook, "I want a refund")
    [listed] = admin_with_webhook.get("/api/tickets", headers=AUTH).json()["tickets"]
    path = f"/api/tickets/{listed['reference']}"

    def delivery(status: str) -> dict[str, object] | None:
        """The ticket's one delivery, once it is in ``status``."""
        deliveries = admin_with_webhook.get(path, headers=AUTH).json()["deliveries"]
        return deliveries[0] if deliveries and deliveries[0]["status"] == status else None

    refused = eventually(lambda: delivery("dropped"))
    assert (refused["attempts"], refused["last_error"]) == (1, "ticket webhook answered 400")

    provider_api.default = (200, {}, {})
    redelivered = admin_with_webhook.post(f"{path}/redeliver", headers=AUTH)

    assert redelivered.status_code == 200
    assert redelivered.json()["requeued"] == ["ticket_webhook"]
    assert redelivered.json()["ticket"]["reference"] == listed["reference"]
    sent = eventually(lambda: delivery("sent"))
    assert sent["attempts"] == 1 and len(provider_api.requests) == 2


def test_with_the_database_down_the_team_hears_so_and_when_to_ask_again(settings, unreachable, clock):
    app = create_app(
        settings.model_copy(update={"admin_token": SecretStr(TOKEN)}), engine=unreachable, clock=clock
    )
    with LiveServer(app) as http:
        response = http.get("/api/tickets", headers=AUTH)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["detail"] == "the database is unavailable; please try again"
