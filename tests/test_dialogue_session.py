"""Dialogues: memory within a session, idle expiry, and several orders in one session."""

from __future__ import annotations

from lumen_bot.domain.messages import ReplyKind

JANE = "jane.doe@example.com"


def test_a_follow_up_needs_no_new_verification(chat):
    chat(f"order 1042 {JANE}")
    answer = chat("Can I get the tracking link?")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "https://www.ups.com/track" in answer


def test_a_when_follow_up_answers_the_date(chat):
    chat(f"order 1042 {JANE}")
    assert chat("when will it arrive?").startswith("Order #1042 should arrive by")


def test_after_the_idle_time_the_shopper_verifies_again(chat, clock):
    chat(f"order 1042 {JANE}")
    clock.advance(minutes=31)
    chat("Can I get the tracking link?")
    assert chat.kinds == [ReplyKind.ASK_ORDER_NUMBER]


def test_activity_within_the_idle_time_keeps_the_session(chat, clock):
    chat(f"order 1042 {JANE}")
    clock.advance(minutes=20)
    chat("thanks")
    clock.advance(minutes=20)
    chat("tracking link?")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]


def test_another_order_with_a_different_email_needs_its_own_check(chat):
    chat(f"order 1042 {JANE}")
    chat("and order 4004?")
    assert chat.kinds == [ReplyKind.ASK_EMAIL]


def test_another_order_with_an_already_verified_email_needs_no_new_check(chat):
    chat(f"order 1042 {JANE}")
    answer = chat("what about order 3003?")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "Order #3003" in answer


def test_follow_ups_are_about_the_latest_verified_order(chat):
    chat(f"order 1042 {JANE}")
    chat("what about order 3003?")
    assert "Order #3003" in chat("has it shipped?")
