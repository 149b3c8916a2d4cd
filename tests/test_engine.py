"""The pure state table, without database, network or clock: each transition on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lumen_bot.domain import engine
from lumen_bot.domain.engine import ConversationState, Escalate, Facts, Phase, Plan, RecordFailure
from lumen_bot.domain.identifiers import email_digest
from lumen_bot.domain.messages import ReplyKind
from lumen_bot.domain.orders import Order, OrderStatus
from lumen_bot.domain.understanding import Intent, Topic, Understanding
from tests.conftest import ENGINE_POLICY, VOICES

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
POLICY = ENGINE_POLICY
ORDER = Order(number="1042", email="Jane@Example.com", status=OrderStatus.PROCESSING)


def understood(intent: Intent = Intent.PROVIDE_DETAILS, **fields: object) -> Understanding:
    return Understanding(intent=intent, **fields)


def step(state: ConversationState, u: Understanding, **facts: object) -> engine.Outcome:
    return engine.step(state, u, Facts(now=NOW, **facts), POLICY)  # type: ignore[arg-type]


def test_a_status_question_without_a_number_waits_for_the_number():
    outcome = step(ConversationState(), understood(Intent.ORDER_STATUS))
    assert outcome.state.phase is Phase.AWAITING_ORDER_NUMBER
    assert [r.kind for r in outcome.replies] == [ReplyKind.ASK_ORDER_NUMBER]


def test_a_number_without_an_email_plans_no_lookup_and_waits_for_the_email():
    u = understood(order_number="1042")
    assert engine.plan(ConversationState(), u) == Plan()
    outcome = step(ConversationState(), u)
    assert outcome.state.phase is Phase.AWAITING_EMAIL
    assert outcome.state.pending_order == "1042"


def test_an_offered_email_plans_a_lookup_with_the_attempt_limits():
    state = ConversationState(phase=Phase.AWAITING_EMAIL, pending_order="1042")
    plan = engine.plan(state, understood(email="jane@example.com"))
    assert plan == Plan("1042", count_failures_for=email_digest("jane@example.com"))


def test_a_matching_email_verifies_and_answers():
    state = ConversationState(phase=Phase.AWAITING_EMAIL, pending_order="1042")
    outcome = step(state, understood(email="jane@example.com"), order=ORDER)
    assert outcome.state.verified_orders == ("1042",)
    assert outcome.state.current_order == "1042"
    assert outcome.state.phase is Phase.IDLE
    assert [r.kind for r in outcome.replies] == [ReplyKind.ORDER_ANSWER]


def test_a_mismatch_records_a_failure_and_keeps_waiting():
    state = ConversationState(phase=Phase.AWAITING_EMAIL, pending_order="1042")
    outcome = step(state, understood(email="x@example.com"), order=ORDER, attempts_left=3)
    assert outcome.effects == (RecordFailure("1042", email_digest("x@example.com")),)
    assert outcome.state.phase is Phase.AWAITING_EMAIL
    assert outcome.state.verified_orders == ()


def test_an_unknown_order_is_the_same_transition_as_a_mismatch():
    state = ConversationState(phase=Phase.AWAITING_EMAIL, pending_order="1042")
    unknown = step(state, understood(email="x@example.com"), order=None, attempts_left=3)
    mismatch = step(state, understood(email="x@example.com"), order=ORDER, attempts_left=3)
    assert unknown == mismatch


def test_no_attempts_left_locks_without_comparing():
    state = ConversationState(phase=Phase.AWAITING_EMAIL, pending_order="1042")
    outcome = step(state, understood(email="jane@example.com"), order=ORDER, attempts_left=0)
    assert [r.kind for r in outcome.replies] == [ReplyKind.LOCKED]
    assert outcome.state.verified_orders == ()
    assert outcome.effects == ()


def test_an_idle_conversation_starts_over():
    state = ConversationState(verified_orders=("1042",), last_activity=NOW - timedelta(minutes=31))
    assert engine.resume(state, NOW, POLICY) == ConversationState()


def test_an_email_verified_in_the_session_vouches_for_another_order():
    state = ConversationState(verified_orders=("1",), verified_emails=(email_digest("jane@example.com"),))
    outcome = step(state, understood(order_number="1042"), order=ORDER)
    assert "1042" in outcome.state.verified_orders


def test_a_verified_address_wins_over_another_address_in_the_message():
    state = engine.vouch_for(ConversationState(), "jane@example.com")
    colleague = understood(Intent.ORDER_STATUS, order_number="1042", email="bob@example.com")
    outcome = step(state, colleague, order=ORDER, attempts_left=3)
    assert [r.kind for r in outcome.replies] == [ReplyKind.ORDER_ANSWER]
    assert outcome.effects == ()


def test_escalation_attaches_only_a_verified_order():
    state = ConversationState(verified_orders=("1042",), current_order="1042")
    refund = understood(Intent.OUT_OF_SCOPE, topic=Topic.REFUND, order_number="9999")
    assert step(state, refund, new_reference="LUM-AAAAAA").effects == (
        Escalate("LUM-AAAAAA", "refund", None, None, "Refund request", "en"),
    )
    assert step(state, understood(Intent.HUMAN), new_reference="LUM-BBBBBB").effects == (
        Escalate("LUM-BBBBBB", "human", "1042", None, "Wants to talk to a person — order #1042", "en"),
    )


def test_an_escalation_plans_the_open_ticket_lookup_and_the_verified_order():
    state = ConversationState(verified_orders=("1042",), current_order="1042")
    refund = understood(Intent.OUT_OF_SCOPE, topic=Topic.REFUND)
    assert engine.plan(state, refund) == Plan(look_up="1042", open_ticket_for="refund")
    assert engine.plan(ConversationState(), refund) == Plan(open_ticket_for="refund")


def test_an_open_ticket_of_the_same_kind_is_added_to():
    outcome = step(
        ConversationState(), understood(Intent.HUMAN), open_ticket="LUM-OPEN42", new_reference="LUM-NEW999"
    )
    [effect] = outcome.effects
    assert effect.reference == "LUM-OPEN42"
    assert "added this to your request LUM-OPEN42" in outcome.replies[0].text


def test_the_contact_is_the_channels_address_else_the_verified_orders_email():
    verified = ConversationState(verified_orders=("1042",), current_order="1042")
    human = understood(Intent.HUMAN)
    by_sms = step(verified, human, order=ORDER, channel="sms", contact_address="+15551230000")
    on_the_web = step(verified, human, order=ORDER, channel="web")
    anonymous = step(ConversationState(), human, channel="web")

    assert by_sms.effects[0].contact == "+15551230000"
    assert "by text message" in by_sms.replies[0].text
    assert on_the_web.effects[0].contact == "Jane@Example.com"
    assert "by email at the address on order #1042" in on_the_web.replies[0].text
    assert anonymous.effects[0].contact is None
    assert "write to help@acme.example" in anonymous.replies[0].text


def test_a_vague_request_is_confirmed_before_a_ticket_is_opened():
    other = understood(Intent.OUT_OF_SCOPE, topic=Topic.OTHER)
    offer = step(ConversationState(), other)
    assert offer.state.phase is Phase.CONFIRMING_TICKET and offer.effects == ()
    assert [r.kind for r in offer.replies] == [ReplyKind.CONFIRM_TICKET]

    accepted = step(offer.state, understood(Intent.UNKNOWN, answer="yes"), new_reference="LUM-YES123")
    assert accepted.effects == (
        Escalate("LUM-YES123", "other", None, None, "Request Lumen cannot handle", "en"),
    )
    assert accepted.state.phase is Phase.IDLE


def test_declining_the_offer_opens_no_ticket():
    offer = step(ConversationState(), understood(Intent.OUT_OF_SCOPE, topic=Topic.OTHER))
    declined = step(offer.state, understood(Intent.THANKS, answer="no"))
    assert declined.effects == () and declined.state.phase is Phase.IDLE
    assert [r.kind for r in declined.replies] == [ReplyKind.TICKET_DECLINED]


def test_moving_on_lets_the_offer_lapse():
    offer = step(ConversationState(), understood(Intent.OUT_OF_SCOPE, topic=Topic.OTHER))
    moved_on = step(offer.state, understood(Intent.ORDER_STATUS))
    assert moved_on.effects == () and moved_on.state.phase is Phase.AWAITING_ORDER_NUMBER


def test_an_unavailable_source_keeps_the_question_open():
    state = ConversationState(phase=Phase.AWAITING_EMAIL, pending_order="1042")
    outcome = step(state, understood(email="jane@example.com"), source_unavailable=True)
    assert [r.kind for r in outcome.replies] == [ReplyKind.UNAVAILABLE]
    assert outcome.state.pending_order == "1042"
    assert outcome.effects == ()


@pytest.mark.parametrize("topic", [topic for topic in Topic if topic is not Topic.OTHER])
def test_every_named_request_opens_a_ticket_of_its_own_category(topic):
    outcome = step(
        ConversationState(), understood(Intent.OUT_OF_SCOPE, topic=topic), new_reference="LUM-TEST22"
    )
    [effect] = outcome.effects
    assert isinstance(effect, Escalate) and effect.category == topic.value


def test_a_ticket_records_the_shoppers_language_and_its_summary_is_in_the_shops():
    spanish = ConversationState(language="es")
    outcome = step(spanish, understood(Intent.OUT_OF_SCOPE, topic=Topic.REFUND), new_reference="LUM-ES0001")

    [effect] = outcome.effects
    assert effect.language == "es"
    assert effect.summary == "Refund request"
    assert outcome.replies[0].text.startswith(VOICES["es"]("I understand you'd like a refund."))


def test_a_conversation_that_starts_over_keeps_its_language():
    idle = ConversationState(language="de", verified_orders=("1042",), last_activity=NOW - timedelta(hours=2))

    assert engine.resume(idle, NOW, POLICY) == ConversationState(language="de")
