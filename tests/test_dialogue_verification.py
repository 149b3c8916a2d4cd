"""Dialogues: an order number first, then the email on that order; nothing shown before they match."""

from __future__ import annotations

from lumen_bot.domain.messages import ReplyKind
from tests.conftest import Dialogue


def test_asks_for_the_order_number_then_the_email_then_answers(chat):
    assert "order number" in chat("Where's my stuff?")
    assert chat.kinds == [ReplyKind.ASK_ORDER_NUMBER]

    assert "email" in chat("1042")
    assert chat.kinds == [ReplyKind.ASK_EMAIL]

    answer = chat("jane.doe@example.com")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "has shipped" in answer
    assert "UPS" in answer and "1Z999AA10123456784" in answer


def test_order_number_and_email_in_one_message_answer_at_once(chat):
    answer = chat("Where is order #1042? My email is jane.doe@example.com")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "1Z999AA10123456784" in answer


def test_a_question_with_the_order_number_asks_only_for_the_email(chat):
    assert "email" in chat("Order 1042 status")
    assert chat.kinds == [ReplyKind.ASK_EMAIL]


def test_email_is_compared_trimmed_and_case_insensitively(chat):
    chat("order 2001")
    chat("  SAM.LEE@example.ORG ")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]


def test_nothing_about_the_order_is_shown_before_the_email_matches(chat):
    asked = chat("Has order 4004 been delivered?")
    assert "delivered" not in asked.lower()
    assert "DHL" not in asked


def test_unknown_order_gets_the_same_email_question_as_a_real_one(chat, another_chat):
    real = chat("order 1042")
    unknown = another_chat("order 9999")
    assert real.replace("1042", "N") == unknown.replace("9999", "N")


def test_wrong_email_and_unknown_order_get_the_same_reply(chat, another_chat):
    chat("order 1042")
    wrong_email = chat("someone.else@example.com")
    another_chat("order 9999")
    unknown_order = another_chat("someone.else@example.com")
    assert chat.kinds == another_chat.kinds == [ReplyKind.NOT_VERIFIED]
    assert wrong_email.replace("1042", "N") == unknown_order.replace("9999", "N")


def test_after_a_wrong_email_the_shopper_may_retry(chat):
    chat("order 1042")
    chat("wrong@example.com")
    chat("jane.doe@example.com")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]


def test_after_a_wrong_order_number_the_shopper_may_send_both_again(chat):
    chat("order 1043")
    chat("jane.doe@example.com")
    chat("Sorry, it's order 1042 and jane.doe@example.com")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]


def test_an_email_given_first_is_kept_until_the_order_number_comes(chat):
    assert "order number" in chat("my email is jane.doe@example.com")
    chat("1042")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]


def test_an_unclear_reply_while_waiting_for_the_email_asks_for_it_again(chat):
    chat("order 1042")
    chat("hmm not sure")
    assert chat.kinds == [ReplyKind.ASK_EMAIL]


def test_the_order_number_matches_when_written_with_a_hash(chat):
    chat("where is #1042")
    chat("jane.doe@example.com")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]


def test_verification_of_one_conversation_does_not_carry_to_another(chat, another_chat):
    chat("order 1042 jane.doe@example.com")
    another_chat("where is order 1042")
    assert another_chat.kinds == [ReplyKind.ASK_EMAIL]


def test_asking_again_for_the_order_number_points_to_support(chat):
    first = chat("where's my package")
    again = chat("I don't know my order number")
    assert chat.kinds == [ReplyKind.ASK_ORDER_NUMBER]
    assert again != first
    assert "help@acme.example" in again


def test_asking_again_for_the_email_points_to_support(chat):
    chat("order 1042")
    again = chat("I forgot which email I used")
    assert chat.kinds == [ReplyKind.ASK_EMAIL]
    assert "help@acme.example" in again
    assert "Talk to a person" in chat.replies[0].quick_replies


def test_an_authenticated_sender_is_verified_for_orders_placed_with_that_address(runtime):
    email = Dialogue(runtime.handler, channel="email", key="jane.doe@example.com")
    email("Has order 1042 shipped?", authenticated_sender="Jane.Doe@example.com")
    assert email.kinds == [ReplyKind.ORDER_ANSWER]


def test_an_authenticated_sender_is_not_verified_for_someone_elses_order(runtime):
    email = Dialogue(runtime.handler, channel="email", key="jane.doe@example.com")
    email("Has order 4004 shipped?", authenticated_sender="jane.doe@example.com")
    assert email.kinds == [ReplyKind.ASK_EMAIL]


def test_an_order_number_from_the_context_answers_a_question_without_one(runtime):
    email = Dialogue(runtime.handler, channel="email", key="jane.doe@example.com")
    email("has this shipped?", context_order_number="1042")
    assert email.kinds == [ReplyKind.ASK_EMAIL]
    assert "#1042" in email.replies[0].text


def test_an_order_number_in_the_text_wins_over_the_context(runtime):
    email = Dialogue(runtime.handler, channel="email", key="jane.doe@example.com")
    email("has order 3003 shipped?", context_order_number="1042")
    assert "#3003" in email.replies[0].text
