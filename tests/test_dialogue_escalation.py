"""Dialogues: requests Lumen cannot fulfil are acknowledged and recorded for the team."""

from __future__ import annotations

import pytest

from lumen_bot.messages import ReplyKind
from lumen_bot.tickets import list_tickets

JANE = "jane.doe@example.com"


@pytest.mark.parametrize(
    ("text", "category", "named"),
    [
        ("I want a refund", "refund", "a refund"),
        ("How do I return these shoes?", "return", "a return"),
        ("Please cancel my order", "cancel", "a cancellation"),
        ("I need to change my delivery address", "address_change", "a change of delivery address"),
        ("The vase arrived broken", "damaged", "a damaged item"),
        ("One item is missing from my package", "missing_item", "a missing item"),
        ("I was charged twice", "payment", "a payment question"),
        ("I want to make a complaint", "complaint", "your complaint"),
        ("I forgot my password", "other", "help with something other than tracking"),
    ],
)
def test_out_of_scope_requests_are_named_and_recorded(chat, orders, text, category, named):
    answer = chat(text)
    assert chat.kinds == [ReplyKind.ESCALATED]
    assert named in answer
    assert "where your order is" in answer
    [ticket] = list_tickets(orders)
    assert ticket.category == category


def test_asking_for_a_person_is_recorded(chat, orders):
    answer = chat("Can I talk to a real person?")
    assert "team" in answer
    assert [t.category for t in list_tickets(orders)] == ["human"]


def test_a_verified_order_is_attached_to_the_request(chat, orders):
    chat(f"order 1042 {JANE}")
    answer = chat("I'd like a refund for it")
    assert "order #1042" in answer
    assert list_tickets(orders)[0].order_number == "1042"


def test_an_unverified_order_is_never_attached(chat, orders):
    answer = chat("I want a refund for order 1042")
    assert "1042" not in answer
    assert list_tickets(orders)[0].order_number is None


def test_repeating_a_request_adds_to_the_same_ticket(chat, orders):
    chat("I want a refund")
    chat("I want my money back, a refund please")
    [ticket] = list_tickets(orders)
    assert "money back" in ticket.summary


def test_tracking_still_works_after_an_escalation(chat):
    chat("I want a refund")
    chat(f"where is order 1042? {JANE}")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
