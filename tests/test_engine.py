"""The pure state table, without database, network or clock: each transition on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lumen_bot import engine
from lumen_bot.engine import ConversationState, Escalate, Facts, Phase, Plan, Policy, RecordFailure
from lumen_bot.identifiers import email_digest
from lumen_bot.messages import ReplyKind
from lumen_bot.orders.model import Order, OrderStatus
from lumen_bot.understanding.model import Intent, Topic, Understanding

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
POLICY = Policy(shop_name="Acme", support_contact="help@acme.example", idle_after=timedelta(minutes=30))
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


def test_escalation_attaches_only_a_verified_order():
    state = ConversationState(verified_orders=("1042",), current_order="1042")
    refund = understood(Intent.OUT_OF_SCOPE, topic=Topic.REFUND, order_number="9999")
    assert step(state, refund).effects == (Escalate("refund", None),)
    assert step(state, understood(Intent.HUMAN)).effects == (Escalate("human", "1042"),)


def test_an_unavailable_source_keeps_the_question_open():
    state = ConversationState(phase=Phase.AWAITING_EMAIL, pending_order="1042")
    outcome = step(state, understood(email="jane@example.com"), source_unavailable=True)
    assert [r.kind for r in outcome.replies] == [ReplyKind.UNAVAILABLE]
    assert outcome.state.pending_order == "1042"
    assert outcome.effects == ()
