"""The admin routes: tickets for the shop's team, behind a bearer token."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from channels.app import create_app
from tests.conftest import LiveServer

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
