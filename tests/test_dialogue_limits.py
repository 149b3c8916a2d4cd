"""Dialogues: guessing is limited per conversation and per order number, and the limit is stored."""

from __future__ import annotations

import concurrent.futures

import pytest
from sqlalchemy import func, select

from channels.app import create_app
from lumen_bot.domain.messages import ReplyKind
from lumen_bot.store.tables import VerificationFailureRow
from tests.conftest import Dialogue, LiveServer

JANE = "jane.doe@example.com"


def fail(chat: Dialogue, times: int, order: str = "1042") -> None:
    for attempt in range(times):
        chat(f"order {order} guess{attempt}@example.com")


def test_the_fifth_failure_points_to_support(chat):
    fail(chat, 4)
    assert chat.kinds == [ReplyKind.NOT_VERIFIED]
    answer = chat("order 1042 guess5@example.com")
    assert chat.kinds == [ReplyKind.LOCKED]
    assert "help@acme.example" in answer


def test_past_the_limit_even_the_right_email_is_not_checked(chat):
    fail(chat, 5)
    chat(f"order 1042 {JANE}")
    assert chat.kinds == [ReplyKind.LOCKED]


def test_guessing_different_order_numbers_counts_against_the_conversation(chat):
    for number in ("1100", "1101", "1102", "1103", "1104"):
        chat(f"order {number} {JANE}")
    chat(f"order 1042 {JANE}")
    assert chat.kinds == [ReplyKind.LOCKED]


def test_failures_outlive_the_session(chat, clock):
    fail(chat, 5)
    clock.advance(minutes=45)  # the session went idle, the failure window has not passed
    chat(f"order 1042 {JANE}")
    assert chat.kinds == [ReplyKind.LOCKED]


def test_the_limit_lifts_after_the_window(chat, clock):
    fail(chat, 5)
    clock.advance(minutes=61)
    chat(f"order 1042 {JANE}")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]


def test_failures_on_one_order_count_across_conversations(runtime):
    for shopper in range(5):
        fail(Dialogue(runtime.handler, key=f"guesser-{shopper}"), 2, order="4004")
    victim = Dialogue(runtime.handler, key="owner")
    victim("order 4004 max@example.net")
    assert victim.kinds == [ReplyKind.LOCKED]


def test_the_per_order_limit_does_not_touch_other_orders(runtime):
    for shopper in range(5):
        fail(Dialogue(runtime.handler, key=f"guesser-{shopper}"), 2, order="4004")
    other = Dialogue(runtime.handler, key="other")
    other(f"order 1042 {JANE}")
    assert other.kinds == [ReplyKind.ORDER_ANSWER]


def test_guessing_order_numbers_for_one_email_counts_across_conversations(runtime):
    # Each guess in a fresh conversation, as a script opening new web sessions would do.
    for guess in range(10):
        Dialogue(runtime.handler, key=f"session-{guess}")(f"order {2100 + guess} {JANE}")
    owner = Dialogue(runtime.handler, key="owner")
    owner(f"order 1042 {JANE}")
    assert owner.kinds == [ReplyKind.LOCKED]


@pytest.mark.parametrize("text", ["thanks", "hi", "what can you do?"])
def test_small_talk_does_not_count_as_a_failure(chat, text):
    fail(chat, 4)
    chat(text)
    chat(f"order 1042 {JANE}")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]


def test_a_burst_of_guesses_in_one_process_records_no_more_than_the_limit(settings, orders, clock):
    limited = settings.model_copy(update={"chat_rate_limit": "10000/minute"})
    texts = [f"order 1042, email w{n}@attacker.example" for n in range(40)]
    with LiveServer(create_app(limited, engine=orders, clock=clock)) as http:

        def guess(text: str) -> int:
            return http.post("/api/chat", json={"session": None, "text": text}).status_code

        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(guess, texts))

    with orders.connect() as connection:
        failures = connection.execute(select(func.count()).select_from(VerificationFailureRow)).scalar()
    assert set(statuses) == {200}
    assert failures <= limited.verify_max_failures_per_order
