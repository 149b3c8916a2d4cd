"""``GET /api/stats``: the dashboard's figures, counted from conversations and tickets made through the real
routes, checked exactly."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text as sql

from channels.app import create_app
from lumen_bot.settings import Settings
from tests.conftest import LiveServer, ModelServer, extraction

TOKEN = "admin-token-5b21d0"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def serve(settings: Settings, orders, clock, **changes: object) -> LiveServer:
    return LiveServer(
        create_app(
            settings.model_copy(update={"admin_token": SecretStr(TOKEN), **changes}),
            engine=orders,
            clock=clock,
        )
    )


@pytest.fixture
def shop(settings, orders, clock) -> Iterator[httpx.Client]:
    with serve(settings, orders, clock) as client:
        yield client


class Shopper:
    """One web chat session, through ``POST /api/chat``."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.session: str | None = None

    def says(self, *texts: str) -> Shopper:
        for text in texts:
            response = self.http.post("/api/chat", json={"session": self.session, "text": text})
            response.raise_for_status()
            self.session = response.json()["session"]
        return self


def stats(http: httpx.Client, period: str = "7d") -> dict:
    response = http.get("/api/stats", params={"period": period}, headers=AUTH)
    response.raise_for_status()
    return response.json()


def test_without_an_admin_token_there_are_no_stats(http):
    assert http.get("/api/stats", headers=AUTH).status_code == 404


def test_stats_need_the_admin_token(shop):
    response = shop.get("/api/stats", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401


def test_an_unknown_period_is_refused_with_a_reason(shop):
    response = shop.get("/api/stats", params={"period": "1y"}, headers=AUTH)

    assert response.status_code == 422
    assert "period" in response.json()["detail"]


def test_conversations_and_messages_are_counted_per_day_and_channel(shop, clock):
    Shopper(shop).says("where is order 1042", "jane.doe@example.com")
    clock.advance(days=1)
    Shopper(shop).says("hello")

    figures = stats(shop)

    assert (figures["conversations"], figures["messages"]) == (2, 3)
    days = {day["day"]: day["channels"] for day in figures["per_day"]}
    assert len(days) == 7
    assert days["2026-11-28"] == {"web": {"conversations": 1, "messages": 2}}
    assert days["2026-11-29"] == {"web": {"conversations": 1, "messages": 1}}
    assert days["2026-11-27"] == {"web": {"conversations": 0, "messages": 0}}


def test_automation_counts_order_answers_without_a_ticket(shop):
    Shopper(shop).says("where is order 1042", "jane.doe@example.com")
    Shopper(shop).says("where is order 1042", "jane.doe@example.com", "I want a refund")
    Shopper(shop).says("Can I talk to a person?")
    Shopper(shop).says("hi")

    automation = stats(shop)["automation"]

    assert automation == {"answered_conversations": 2, "automated_conversations": 1, "rate": 0.25}


def test_verifications_passed_failed_and_locked_are_counted(settings, orders, clock):
    with serve(settings, orders, clock, verify_max_failures=3) as shop:
        Shopper(shop).says("order 1042", "jane.doe@example.com")
        Shopper(shop).says("order 2001", "wrong@example.com")
        # The third failure locks the conversation out: it counts as the lockout.
        Shopper(shop).says("order 3003", "a@example.com", "b@example.com", "c@example.com")
        verification = stats(shop)["verification"]

    assert verification == {"passed": 1, "failed": 3, "locked": 1}


def test_tickets_are_counted_by_category_and_status(shop):
    Shopper(shop).says("I want a refund")
    Shopper(shop).says("Can I talk to a person?")
    reference = shop.get("/api/tickets", params={"category": "human"}, headers=AUTH).json()["tickets"][0]
    shop.post(f"/api/tickets/{reference['reference']}/close", headers=AUTH).raise_for_status()

    tickets = stats(shop)["tickets"]

    assert tickets == {"by_category": {"refund": 1, "human": 1}, "by_status": {"open": 1, "closed": 1}}


def test_every_message_counts_toward_its_understander_and_reply_times(shop):
    Shopper(shop).says("where is order 1042", "jane.doe@example.com", "thanks")

    figures = stats(shop)

    assert figures["understanding"] == {
        "by_understander": {"model": 3},
        "offline_share": 1.0,
        "llm_tokens_in": 0,
        "llm_tokens_out": 0,
        "llm_cost_estimate": None,
    }
    times = figures["reply_time_ms"]["web"]
    assert times["messages"] == 3 and 0 <= times["p50"] <= times["p95"]


def test_llm_tokens_are_counted_and_priced(settings, orders, clock, model_server: ModelServer):
    model_server.answer(extraction(intent="order_status", order_number="1042"))
    changes = {
        "llm_model": "stand-in-model",
        "llm_base_url": model_server.base_url,
        "llm_api_key": SecretStr("sk-test"),
        "understanding": "llm",
        "llm_price_per_1k_input": 0.5,
        "llm_price_per_1k_output": 2.0,
    }
    with serve(settings, orders, clock, **changes) as shop:
        Shopper(shop).says("I'd like to know about my parcel, order 1042")
        understanding = stats(shop)["understanding"]

    # The stand-in model reports 120 tokens in and 18 out per call.
    assert understanding == {
        "by_understander": {"llm": 1},
        "offline_share": 0.0,
        "llm_tokens_in": 120,
        "llm_tokens_out": 18,
        "llm_cost_estimate": pytest.approx((120 * 0.5 + 18 * 2.0) / 1000),
    }


def test_a_day_outside_the_period_is_not_counted(shop, clock):
    Shopper(shop).says("hello")
    clock.advance(days=1)

    assert stats(shop, "today")["conversations"] == 0
    assert stats(shop, "7d")["conversations"] == 1


def test_days_follow_the_shops_timezone(settings, orders, clock):
    # 12:00 UTC on Nov 28 is already Nov 29 in Auckland (UTC+13).
    with serve(settings, orders, clock, timezone="Pacific/Auckland") as shop:
        Shopper(shop).says("hello")
        figures = stats(shop, "today")

    assert [day["day"] for day in figures["per_day"]] == ["2026-11-29"]
    assert figures["per_day"][0]["channels"] == {"web": {"conversations": 1, "messages": 1}}


def test_a_day_that_is_over_counts_the_same_from_its_rollup(shop, clock):
    Shopper(shop).says("where is order 1042", "jane.doe@example.com", "thanks")
    Shopper(shop).says("order 2001", "wrong@example.com")
    Shopper(shop).says("I want a refund")
    live = stats(shop, "30d")
    clock.advance(days=2)

    rolled = stats(shop, "30d")

    for figure in (
        "conversations",
        "messages",
        "automation",
        "verification",
        "understanding",
        "reply_time_ms",
    ):
        assert rolled[figure] == live[figure], figure
    day = {entry["day"]: entry["channels"] for entry in rolled["per_day"]}
    assert day["2026-11-28"] == {"web": {"conversations": 3, "messages": 6}}


def test_a_day_is_rolled_up_once_however_often_it_is_asked_for(shop, clock, engine):
    Shopper(shop).says("hello")
    clock.advance(days=1)

    first, second = stats(shop, "7d"), stats(shop, "7d")

    assert first == second
    with engine.connect() as connection:
        rolled = connection.execute(sql("SELECT count(*) FROM stats_rolled_days")).scalar_one()
        conversation_days = connection.execute(
            sql("SELECT count(*) FROM stats_conversation_days")
        ).scalar_one()
    assert (rolled, conversation_days) == (6, 1)


def test_a_conversation_over_midnight_counts_on_both_days_and_once_in_the_period(shop, clock):
    clock.advance(hours=11, minutes=50)  # 23:50 on Nov 28
    shopper = Shopper(shop).says("where is order 1042")
    clock.advance(minutes=20)  # 00:10 on Nov 29
    shopper.says("jane.doe@example.com")
    clock.advance(hours=2)  # Nov 28 is over and settled: it is read from its rollup

    figures = stats(shop, "7d")

    day = {entry["day"]: entry["channels"]["web"] for entry in figures["per_day"]}
    assert day["2026-11-28"] == day["2026-11-29"] == {"conversations": 1, "messages": 1}
    assert figures["conversations"] == 1
    assert figures["automation"]["answered_conversations"] == 1
