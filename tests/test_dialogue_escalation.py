"""Dialogues: requests Lumen cannot fulfil are named, turned into a ticket, and the shopper told how the
team will reach them."""

from __future__ import annotations

import re

import pytest

from lumen_bot.domain.messages import ReplyKind
from lumen_bot.store.tickets import get_ticket, list_tickets
from tests.conftest import Dialogue

JANE = "jane.doe@example.com"
REFERENCE = re.compile(r"LUM-[2-9A-HJKMNP-Z]{6}")


def reference_in(answer: str) -> str:
    match = REFERENCE.search(answer)
    assert match, f"no ticket reference in {answer!r}"
    return match.group()


@pytest.mark.parametrize(
    ("text", "category", "named"),
    [
        ("I want a refund", "refund", "a refund"),
        ("How do I return these shoes?", "return", "to return an item"),
        ("Please cancel my order", "cancel", "to cancel your order"),
        ("I need to change my delivery address", "address_change", "to change the delivery address"),
        ("The vase arrived broken", "damaged", "help with a damaged item"),
        ("One item is missing from my package", "missing_item", "help with a missing item"),
        ("I was charged twice", "payment", "help with a payment"),
        ("I want to make a complaint", "complaint", "to make a complaint"),
    ],
)
def test_each_request_is_named_and_becomes_a_ticket_with_its_reference(chat, orders, text, category, named):
    answer = chat(text)

    assert chat.kinds == [ReplyKind.ESCALATED]
    assert f"I understand you'd like {named}." in answer
    assert "I can't do that myself" in answer and "where your order is" in answer
    [ticket] = list_tickets(orders)
    assert (ticket.category, ticket.status, ticket.reference) == (category, "open", reference_in(answer))


def test_asking_for_a_person_becomes_a_ticket(chat, orders):
    answer = chat("Can I talk to a real person?")

    assert "I'll get a person from our team to help you" in answer
    assert [t.category for t in list_tickets(orders)] == ["human"]


def test_a_request_with_the_verified_order_names_it_and_attaches_it(chat, orders):
    chat(f"order 1042 {JANE}")

    answer = chat("I'd like a refund for it")

    assert "a refund for order #1042" in answer
    [ticket] = list_tickets(orders)
    assert (ticket.order_number, ticket.summary) == ("1042", "Refund request — order #1042")


def test_an_order_the_shopper_has_not_verified_is_named_but_never_attached(chat, orders):
    answer = chat("I want a refund for order 1042")

    assert "a refund for order #1042" in answer
    assert "shipped" not in answer and "UPS" not in answer
    [ticket] = list_tickets(orders)
    assert ticket.order_number is None and ticket.summary == "Refund request"


def test_repeating_a_request_adds_to_the_open_ticket(chat, orders):
    first = chat("I want a refund")
    again = chat("I want my money back, a refund please")

    [ticket] = list_tickets(orders)
    assert reference_in(again) == reference_in(first) == ticket.reference
    assert f"I've added this to your request {ticket.reference}" in again
    assert ticket.requests == 2
    assert "money back" in ticket.transcript[-2]["text"]


def test_a_different_request_opens_a_second_ticket(chat, orders):
    chat("I want a refund")
    chat("and I'd like to talk to a person")

    assert sorted(t.category for t in list_tickets(orders)) == ["human", "refund"]


def test_after_a_ticket_is_closed_the_same_request_opens_a_new_one(chat, orders, clock):
    from lumen_bot.store.tickets import close_ticket

    first = reference_in(chat("I want a refund"))
    close_ticket(orders, first, clock())

    second = reference_in(chat("I still want a refund"))

    assert second != first
    assert [t.status for t in list_tickets(orders)] == ["open", "closed"]


def test_another_shopper_never_adds_to_my_ticket(chat, another_chat, orders):
    mine = reference_in(chat("I want a refund"))
    theirs = reference_in(another_chat("I want a refund"))

    assert mine != theirs


def test_a_vague_request_asks_before_passing_it_on(chat, orders):
    offer = chat("I forgot my password")
    assert chat.kinds == [ReplyKind.CONFIRM_TICKET]
    assert "Shall I pass your request to our team?" in offer
    assert list_tickets(orders) == []

    answer = chat("Yes, pass it on")

    assert chat.kinds == [ReplyKind.ESCALATED]
    [ticket] = list_tickets(orders)
    assert ticket.category == "other" and ticket.reference in answer


def test_no_thanks_to_the_offer_opens_no_ticket(chat, orders):
    chat("I forgot my password")

    assert "won't pass it on" in chat("No, thanks")
    assert list_tickets(orders) == []


def test_tracking_still_works_after_an_escalation(chat):
    chat("I want a refund")
    answer = chat(f"where is order 1042? {JANE}")

    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "1Z999AA10123456784" in answer


def test_an_escalation_mid_verification_keeps_the_question_open(chat):
    chat("where is order 1042?")
    chat("actually I want to talk to a person")

    answer = chat(JANE)

    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "1Z999AA10123456784" in answer


def test_a_web_shopper_without_a_verified_order_is_asked_to_write_to_support(chat, orders):
    answer = chat("I want a refund")

    assert "please write to help@acme.example and quote" in answer
    assert list_tickets(orders)[0].contact is None


def test_a_verified_web_shopper_is_told_the_team_will_email_the_orders_address(chat, orders):
    chat(f"order 1042 {JANE}")

    answer = chat("can I speak to someone?")

    assert "by email at the address on order #1042" in answer
    assert list_tickets(orders)[0].contact == JANE


def test_a_shopper_on_sms_is_told_the_team_will_text_back(runtime, orders):
    sms = Dialogue(runtime.handler, channel="sms", key="+15551230000")

    answer = sms("I want a refund", contact_address="+15551230000")

    assert "They'll get back to you by text message." in answer
    assert list_tickets(orders)[0].contact == "+15551230000"


def test_the_ticket_keeps_the_conversation_but_not_the_order_details(chat, orders):
    chat(f"where is order 1042? {JANE}")
    answer = chat("The vase arrived broken, I want a refund")

    ticket = get_ticket(orders, reference_in(answer))
    assert ticket is not None
    texts = [entry["text"] for entry in ticket.transcript]
    assert texts[0] == f"where is order 1042? {JANE}"
    assert "1Z999AA10123456784" not in " ".join(texts)
    assert [entry["from"] for entry in ticket.transcript] == ["shopper", "lumen", "shopper", "lumen"]


def test_a_shopper_on_email_is_told_the_team_will_email_back(runtime, orders):
    email = Dialogue(runtime.handler, channel="email", key="ana@example.org")

    answer = email("I want to return these shoes", contact_address="Ana@example.org")

    assert "They'll get back to you by email." in answer
    assert list_tickets(orders)[0].contact == "Ana@example.org"
