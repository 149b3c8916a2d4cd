"""The pure state table for shipping updates: the offer after an answer, yes, no, "notify me" and "stop
updates", without database, network or clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from lumen_bot.domain import engine
from lumen_bot.domain.engine import (
    ConversationState,
    Facts,
    Phase,
    Plan,
    Policy,
    Subscribe,
    Told,
    Unsubscribe,
)
from lumen_bot.domain.messages import ReplyKind
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.domain.understanding import Intent, Question, Understanding
from tests.conftest import ENGINE_POLICY

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
POLICY = replace(ENGINE_POLICY, update_channels=frozenset({"sms", "whatsapp", "email"}))
SHIPPED = Order(
    number="1042",
    email="Jane@Example.com",
    status=OrderStatus.SHIPPED,
    shipments=(
        Shipment(
            status=OrderStatus.SHIPPED,
            carrier="UPS",
            tracking_number="1Z999",
            estimated_delivery=date(2026, 12, 1),
        ),
    ),
)
DELIVERED = SHIPPED.model_copy(
    update={"status": OrderStatus.DELIVERED, "shipments": (Shipment(status=OrderStatus.DELIVERED),)}
)
PHONE = "+15551234567"
SMS = {"channel": "sms", "contact_address": PHONE}
WEB = {"channel": "web", "contact_address": None}
AWAITING_EMAIL = ConversationState(phase=Phase.AWAITING_EMAIL, pending_order="1042")
VERIFIED = ConversationState(verified_orders=("1042",), current_order="1042", language="en")
OFFERING = VERIFIED.model_copy(
    update={"phase": Phase.OFFERING_UPDATES, "offered_order": "1042", "offered_orders": ("1042",)}
)


def understood(intent: Intent = Intent.UNKNOWN, **fields: object) -> Understanding:
    return Understanding(intent=intent, **fields)


def step(
    state: ConversationState, u: Understanding, policy: Policy = POLICY, **facts: object
) -> engine.Outcome:
    return engine.step(state, u, Facts(now=NOW, **facts), policy)  # type: ignore[arg-type]


def kinds(outcome: engine.Outcome) -> list[ReplyKind]:
    return [reply.kind for reply in outcome.replies]


def test_a_verified_answer_about_an_order_on_its_way_offers_updates_here():
    outcome = step(AWAITING_EMAIL, understood(email="jane@example.com"), order=SHIPPED, **SMS)

    assert kinds(outcome) == [ReplyKind.ORDER_ANSWER, ReplyKind.OFFER_UPDATES]
    offer = outcome.replies[1]
    assert offer.text == "Want me to message you here when it's out for delivery or delivered?"
    assert offer.quick_replies == ("Yes", "No")
    assert (outcome.state.phase, outcome.state.offered_order) == (Phase.OFFERING_UPDATES, "1042")
    assert outcome.state.last_question is Question.OFFER_UPDATES
    assert outcome.effects == ()


@pytest.mark.parametrize(
    ("order", "policy", "facts"),
    [
        (DELIVERED, POLICY, SMS),
        (SHIPPED, replace(POLICY, update_channels=frozenset()), SMS),
        (SHIPPED, replace(POLICY, update_channels=frozenset({"whatsapp"})), SMS),
        (SHIPPED, replace(POLICY, update_channels=frozenset({"sms"})), WEB),
    ],
    ids=["settled", "no update channels", "not this channel", "web chat without email"],
)
def test_no_offer_for_a_settled_order_or_where_updates_cannot_go(order, policy, facts):
    outcome = step(AWAITING_EMAIL, understood(email="jane@example.com"), policy, order=order, **facts)

    assert kinds(outcome) == [ReplyKind.ORDER_ANSWER]
    assert outcome.state.phase is Phase.IDLE


def test_an_order_is_offered_updates_once_per_conversation():
    state = _cleared(OFFERING)

    outcome = step(state, understood(Intent.ORDER_STATUS), order=SHIPPED, **SMS)

    assert kinds(outcome) == [ReplyKind.ORDER_ANSWER]


def test_yes_subscribes_on_this_channel_with_what_the_shopper_knows_already():
    assert engine.plan(OFFERING, understood(answer="yes")) == Plan(look_up="1042")

    outcome = step(OFFERING, understood(answer="yes"), order=SHIPPED, **SMS)

    told = (("1Z999", "shipped"), ("1Z999", "eta:2026-12-01"))
    assert outcome.effects == (Subscribe("1042", "sms", PHONE, "en", told=told),)
    assert kinds(outcome) == [ReplyKind.UPDATES_SUBSCRIBED]
    text = outcome.replies[0].text
    assert "reply STOP UPDATES" in text and "Replying STOP stops all our messages." in text
    assert outcome.state.phase is Phase.IDLE
    assert outcome.state.subscribed_orders == ("1042",)


def test_a_late_parcel_is_known_to_be_late_when_subscribing():
    late = SHIPPED.model_copy(
        update={"shipments": (replace_shipment(SHIPPED.shipments[0], estimated_delivery=date(2026, 11, 20)),)}
    )

    [effect] = step(OFFERING, understood(answer="yes"), order=late, **SMS).effects

    assert isinstance(effect, Subscribe)
    assert effect.told == (
        ("1Z999", "shipped"),
        ("1Z999", "running_late:2026-11-20"),
        ("1Z999", "eta:2026-11-20"),
    )


def test_no_declines_and_goes_back_to_idle():
    outcome = step(OFFERING, understood(answer="no"), **SMS)

    assert kinds(outcome) == [ReplyKind.UPDATES_DECLINED]
    assert outcome.effects == ()
    assert (outcome.state.phase, outcome.state.offered_order) == (Phase.IDLE, None)


def test_any_other_message_lets_the_offer_lapse_and_is_answered_as_from_idle():
    outcome = step(OFFERING, understood(Intent.GREETING))

    assert kinds(outcome) == [ReplyKind.GREETING]
    assert outcome.state.phase is Phase.IDLE
    assert outcome.effects == ()


def test_on_a_web_chat_updates_are_offered_by_email_to_the_orders_address_masked():
    offered = step(AWAITING_EMAIL, understood(email="jane@example.com"), order=SHIPPED, **WEB)

    assert offered.replies[1].text == (
        "Want me to email you at J***@E*** when it's out for delivery or delivered?"
    )
    outcome = step(offered.state, understood(answer="yes"), order=SHIPPED, **WEB)
    [effect] = outcome.effects
    assert isinstance(effect, Subscribe)
    assert (effect.channel, effect.address) == ("email", "Jane@Example.com")
    assert "email you at J***@E***" in outcome.replies[0].text
    assert "Each email has a link to stop them." in outcome.replies[0].text
    assert "STOP stops all" not in outcome.replies[0].text


def test_notify_me_subscribes_the_current_verified_order_directly():
    u = understood(Intent.SUBSCRIBE_UPDATES)
    assert engine.plan(VERIFIED, u) == Plan(look_up="1042")

    outcome = step(VERIFIED, u, order=SHIPPED, channel="whatsapp", contact_address=PHONE)

    assert [type(effect) for effect in outcome.effects] == [Subscribe]
    assert outcome.effects[0].channel == "whatsapp"  # type: ignore[union-attr]
    assert kinds(outcome) == [ReplyKind.UPDATES_SUBSCRIBED]


def test_notify_me_before_any_order_is_verified_asks_for_it_then_subscribes_after_the_answer():
    asked = step(ConversationState(), understood(Intent.SUBSCRIBE_UPDATES), **SMS)
    assert kinds(asked) == [ReplyKind.ASK_ORDER_NUMBER]
    assert asked.replies[0].text.startswith("I can keep you posted on your order.")

    number = step(asked.state, understood(Intent.PROVIDE_DETAILS, order_number="1042"), **SMS)
    assert kinds(number) == [ReplyKind.ASK_EMAIL]

    answered = step(number.state, understood(email="jane@example.com"), order=SHIPPED, **SMS)
    assert kinds(answered) == [ReplyKind.ORDER_ANSWER, ReplyKind.UPDATES_SUBSCRIBED]
    assert [type(effect) for effect in answered.effects] == [Subscribe]
    assert answered.state.subscribe_after is False
    assert answered.state.phase is Phase.IDLE


def test_notify_me_about_a_settled_order_says_there_is_nothing_left_to_tell():
    outcome = step(VERIFIED, understood(Intent.SUBSCRIBE_UPDATES), order=DELIVERED, **SMS)

    assert kinds(outcome) == [ReplyKind.UPDATES_NOT_POSSIBLE]
    assert outcome.effects == ()


def test_notify_me_where_updates_cannot_go_says_so():
    sms_only = replace(POLICY, update_channels=frozenset({"sms"}))

    outcome = step(VERIFIED, understood(Intent.SUBSCRIBE_UPDATES), sms_only, order=SHIPPED, **WEB)

    assert kinds(outcome) == [ReplyKind.UPDATES_NOT_POSSIBLE]
    assert "can't send updates on this channel" in outcome.replies[0].text
    assert outcome.effects == ()


def test_yes_when_the_order_cannot_be_read_says_so_rather_than_subscribe_blind():
    outcome = step(OFFERING, understood(answer="yes"), source_unavailable=True, **SMS)

    assert kinds(outcome) == [ReplyKind.UNAVAILABLE]
    assert outcome.effects == ()


def test_stop_updates_stops_every_order_of_the_conversation():
    state = VERIFIED.model_copy(update={"subscribed_orders": ("1042", "3003")})

    outcome = step(state, understood(Intent.STOP_UPDATES), **SMS)

    assert outcome.effects == (Unsubscribe(None),)
    assert kinds(outcome) == [ReplyKind.UPDATES_STOPPED]
    assert outcome.state.subscribed_orders == ()


def test_stop_updates_about_one_order_stops_only_that_one():
    state = VERIFIED.model_copy(update={"subscribed_orders": ("1042", "3003")})

    outcome = step(state, understood(Intent.STOP_UPDATES, order_number="3003"), **SMS)

    assert outcome.effects == (Unsubscribe("3003"),)
    assert outcome.state.subscribed_orders == ("1042",)
    assert "order #3003" in outcome.replies[0].text


def test_no_more_updates_while_offering_is_a_no():
    outcome = step(OFFERING, understood(Intent.STOP_UPDATES, answer="no"), **SMS)

    assert kinds(outcome) == [ReplyKind.UPDATES_DECLINED]
    assert outcome.effects == ()


def _cleared(state: ConversationState) -> ConversationState:
    return state.model_copy(update={"phase": Phase.IDLE, "offered_order": None})


def replace_shipment(shipment: Shipment, **fields: object) -> Shipment:
    return shipment.model_copy(update=fields)


def test_an_answer_to_a_subscribed_shopper_marks_what_it_told_as_known():
    subscribed = VERIFIED.model_copy(update={"subscribed_orders": ("1042",)})

    outcome = step(subscribed, understood(Intent.ORDER_STATUS), order=SHIPPED, **SMS)

    assert kinds(outcome) == [ReplyKind.ORDER_ANSWER]
    assert outcome.effects == (Told("1042", (("1Z999", "shipped"), ("1Z999", "eta:2026-12-01"))),)
