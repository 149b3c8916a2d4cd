"""A failing database or order source degrades to a useful reply, and loses nothing already stored."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text

from channels.app import build_runtime, create_app
from lumen_bot.domain.messages import ReplyKind
from lumen_bot.store.database import POSTGRES_TIMEOUT_SECONDS, Database
from lumen_bot.store.orders import SqlOrderSource
from lumen_bot.store.tables import VerificationFailureRow
from tests.conftest import POSTGRES_URL, Dialogue, LiveServer


def test_an_unreachable_database_answers_that_orders_cannot_be_looked_up(settings, unreachable, clock):
    chat = Dialogue(build_runtime(settings, engine=unreachable, clock=clock).handler)
    answer = chat("where is order 1042")
    assert chat.kinds == [ReplyKind.UNAVAILABLE]
    assert "help@acme.example" in answer


def test_an_unreachable_database_answers_web_chat_with_the_same_reply(settings, unreachable, clock):
    with LiveServer(create_app(settings, engine=unreachable, clock=clock)) as http:
        response = http.post("/api/chat", json={"session": None, "text": "where is my order?"})
    assert response.status_code == 200
    assert "can't look orders up right now" in response.json()["messages"][0]["text"]


def test_an_order_source_outage_is_not_a_failed_verification(settings, orders, unreachable, clock):
    runtime = build_runtime(
        settings, engine=orders, orders=SqlOrderSource(Database(unreachable)), clock=clock
    )
    chat = Dialogue(runtime.handler)
    chat("order 1042 jane.doe@example.com")
    assert chat.kinds == [ReplyKind.UNAVAILABLE]
    with orders.connect() as connection:
        failures = connection.execute(select(func.count()).select_from(VerificationFailureRow)).scalar()
    assert failures == 0


def test_after_an_order_source_outage_the_pending_question_continues(settings, orders, unreachable, clock):
    down = build_runtime(settings, engine=orders, orders=SqlOrderSource(Database(unreachable)), clock=clock)
    Dialogue(down.handler)("order 1042 jane.doe@example.com")
    back = Dialogue(build_runtime(settings, engine=orders, clock=clock).handler)
    back("try again")
    assert back.kinds == [ReplyKind.ORDER_ANSWER]


def test_readiness_says_why_while_the_database_does_not_answer(settings, unreachable, clock):
    with LiveServer(create_app(settings, engine=unreachable, clock=clock)) as http:
        ready = http.get("/readyz")
        alive = http.get("/healthz")

    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "5"
    assert ready.json()["reasons"][0].startswith("the database does not answer")
    assert alive.status_code == 200


@pytest.mark.skipif(not POSTGRES_URL, reason="needs LUMEN_TEST_DATABASE_URL (CI sets it)")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_stalled_postgresql_delays_a_shopper_seconds_not_the_length_of_the_stall(app, orders):
    # Another session holds the conversations table: every read and write of it waits on the lock.
    blocker = orders.connect()
    blocker.execute(text("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE"))
    try:
        with LiveServer(app) as http:
            started = time.monotonic()
            response = http.post(
                "/api/chat", json={"session": None, "text": "where is order 1042"}, timeout=30
            )
            waited = time.monotonic() - started
    finally:
        blocker.rollback()
        blocker.close()

    assert response.status_code == 200
    assert "can't look orders up right now" in response.json()["messages"][0]["text"]
    assert waited < POSTGRES_TIMEOUT_SECONDS * 2
