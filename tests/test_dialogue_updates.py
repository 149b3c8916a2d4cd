"""Dialogues: after a tracking answer Lumen offers to message the shopper when the order moves; yes
subscribes (with what the shopper already knows never sent as news), no does not, "notify me" asks for it
at any time and "stop updates" ends it. A web chat is offered the updates by email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, update

from channels.app import build_runtime
from lumen_bot.domain.messages import ReplyKind
from lumen_bot.services.conversation import ConversationHandler
from lumen_bot.settings import Settings
from lumen_bot.store.tables import OrderRow, ShipmentRow, UpdateNoticeRow, UpdateSubscriptionRow
from tests.conftest import Clock, Dialogue

JANE = "jane.doe@example.com"
PHONE = "+15551230000"
SHOP_NUMBER = "+15557654321"
TRACKING_NUMBER = "1Z999AA10123456784"


@pytest.fixture
def handler(settings: Settings, orders: Engine, clock: Clock) -> ConversationHandler:
    """The conversation as the runtime builds it, with Twilio's REST API and SMTP configured: updates
    can go out by SMS, WhatsApp and email."""
    configured = settings.model_copy(
        update={
            "twilio_account_sid": "AC" + "0" * 32,
            "twilio_auth_token": SecretStr("twilio-token"),
            "smtp_host": "127.0.0.1",
            "email_from": "orders@acme.example",
        }
    )
    return build_runtime(configured, engine=orders, clock=clock).handler


class Texting(Dialogue):
    """A shopper texting the shop's number."""

    def __call__(self, text: str, **details: object) -> str:
        return super().__call__(text, contact_address=PHONE, reply_from=SHOP_NUMBER, **details)


@pytest.fixture
def sms(handler) -> Texting:
    return Texting(handler, channel="sms", key=PHONE)


@pytest.fixture
def web(handler) -> Dialogue:
    return Dialogue(handler, channel="web", key="browser-1")


def subscriptions(engine: Engine) -> list[UpdateSubscriptionRow]:
    with engine.connect() as connection:
        rows = connection.execute(select(UpdateSubscriptionRow).order_by(UpdateSubscriptionRow.id)).all()
    return [UpdateSubscriptionRow.model_validate(row._mapping) for row in rows]


def notices(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(select(UpdateNoticeRow).order_by(UpdateNoticeRow.id)).all()
    return [(row.shipment_key, row.event, row.status) for row in rows]


def as_utc(moment: datetime) -> datetime:
    """SQLite gives back the UTC time it stored without its zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def verified(chat: Dialogue) -> str:
    chat("where is order 1042")
    return chat(JANE)


def test_a_tracking_answer_by_text_ends_with_the_offer(sms, orders):
    answer = verified(sms)

    assert sms.kinds == [ReplyKind.ORDER_ANSWER, ReplyKind.OFFER_UPDATES]
    assert TRACKING_NUMBER in answer
    assert answer.endswith("Want me to message you here when it's out for delivery or delivered?")
    assert sms.replies[1].quick_replies == ("Yes", "No")
    assert subscriptions(orders) == []


def test_yes_subscribes_this_number_with_what_the_shopper_was_told_as_known(sms, orders, clock):
    verified(sms)

    answer = sms("Yes")

    assert sms.kinds == [ReplyKind.UPDATES_SUBSCRIBED]
    assert "I'll message you here when order #1042 is out for delivery" in answer
    assert "reply STOP UPDATES" in answer and "Replying STOP stops all our messages." in answer
    [subscription] = subscriptions(orders)
    assert (subscription.order_number, subscription.channel, subscription.address) == ("1042", "sms", PHONE)
    assert (subscription.shop_address, subscription.language, subscription.status) == (
        SHOP_NUMBER,
        "en",
        "active",
    )
    assert subscription.ends_at - subscription.created_at == timedelta(days=30)
    assert len(subscription.unsubscribe_token) >= 40
    assert notices(orders) == [
        (TRACKING_NUMBER, "shipped", "known"),
        (TRACKING_NUMBER, "eta:2026-12-01", "known"),
    ]


def test_no_subscribes_nothing_and_the_conversation_goes_on(sms, orders):
    verified(sms)

    answer = sms("no thanks")

    assert sms.kinds == [ReplyKind.UPDATES_DECLINED]
    assert "I won't send updates" in answer
    assert subscriptions(orders) == []
    sms("when will it arrive?")
    assert sms.kinds == [ReplyKind.ORDER_ANSWER]  # answered, and not offered a second time


def test_another_question_lets_the_offer_lapse(sms, orders):
    verified(sms)

    sms("what's the tracking number?")

    assert sms.kinds == [ReplyKind.ORDER_ANSWER]
    assert subscriptions(orders) == []


def test_notify_me_after_the_answer_subscribes_once_however_often_asked(sms, orders):
    verified(sms)
    sms("no")

    sms("actually, notify me when it's out for delivery")
    sms("keep me posted please")

    assert sms.kinds == [ReplyKind.UPDATES_SUBSCRIBED]
    assert [s.status for s in subscriptions(orders)] == ["active"]
    assert notices(orders) == [
        (TRACKING_NUMBER, "shipped", "known"),
        (TRACKING_NUMBER, "eta:2026-12-01", "known"),
    ]


def test_a_move_the_shopper_hears_in_the_conversation_is_never_sent_as_news(sms, orders):
    verified(sms)
    sms("yes")
    with orders.begin() as connection:
        connection.execute(update(OrderRow).values(status="out_for_delivery"))
        connection.execute(update(ShipmentRow).values(status="out_for_delivery"))

    assert "out for delivery" in sms("where is it now?")
    assert (TRACKING_NUMBER, "out_for_delivery", "known") in notices(orders)


def test_notify_me_first_asks_for_the_order_and_subscribes_right_after_the_answer(sms, orders):
    sms("Can you text me when my order ships?")
    assert sms.kinds == [ReplyKind.ASK_ORDER_NUMBER]
    sms("1042")
    assert sms.kinds == [ReplyKind.ASK_EMAIL]

    answer = sms(JANE)

    assert sms.kinds == [ReplyKind.ORDER_ANSWER, ReplyKind.UPDATES_SUBSCRIBED]
    assert TRACKING_NUMBER in answer
    assert [(s.order_number, s.status) for s in subscriptions(orders)] == [("1042", "active")]


def test_stop_updates_ends_the_subscription(sms, orders, clock):
    verified(sms)
    sms("yes")
    clock.advance(hours=2)

    answer = sms("STOP UPDATES")

    assert sms.kinds == [ReplyKind.UPDATES_STOPPED]
    assert "I won't send you any more updates" in answer
    [subscription] = subscriptions(orders)
    assert subscription.status == "stopped"
    assert subscription.ended_at is not None
    assert as_utc(subscription.ended_at) == clock.now


def test_a_delivered_order_is_not_offered_updates(sms, orders):
    sms("where is order 4004")
    sms("max@example.net")

    assert sms.kinds == [ReplyKind.ORDER_ANSWER]
    sms("notify me")
    assert sms.kinds == [ReplyKind.UPDATES_NOT_POSSIBLE]
    assert subscriptions(orders) == []


def test_a_web_chat_is_offered_the_updates_by_email_to_the_orders_address(web, orders):
    answer = verified(web)
    assert answer.endswith("Want me to email you at j***@e*** when it's out for delivery or delivered?")

    confirmation = web("yes please")

    assert "I'll email you at j***@e*** when order #1042 is out for delivery" in confirmation
    assert "Each email has a link to stop them." in confirmation
    [subscription] = subscriptions(orders)
    assert (subscription.channel, subscription.address, subscription.shop_address) == ("email", JANE, None)


def test_a_shopper_writing_spanish_subscribes_in_spanish(sms, orders):
    sms("hola, ¿dónde está mi pedido 1042?")
    sms(f"mi correo es {JANE}")
    assert sms.kinds == [ReplyKind.ORDER_ANSWER, ReplyKind.OFFER_UPDATES]

    sms("sí")

    assert sms.kinds == [ReplyKind.UPDATES_SUBSCRIBED]
    [subscription] = subscriptions(orders)
    assert subscription.language == "es"


@pytest.mark.parametrize(
    ("ask", "stop"),
    [
        ("Avísame cuando llegue", "No más actualizaciones"),
        ("Benachrichtige mich, wenn es versendet wird", "Keine Updates mehr"),
        ("Prévenez-moi quand il arrive", "Arrêtez de m'envoyer des messages"),
        ("Me avisa quando chegar", "Parar atualizações"),
    ],
    ids=["es", "de", "fr", "pt"],
)
def test_asking_for_updates_and_stopping_them_in_other_languages(sms, orders, ask, stop):
    verified(sms)

    sms(ask)
    assert sms.kinds == [ReplyKind.UPDATES_SUBSCRIBED]
    sms(stop)

    assert sms.kinds == [ReplyKind.UPDATES_STOPPED]
    assert [s.status for s in subscriptions(orders)] == ["stopped"]


def test_stop_updates_by_email_stops_the_email_updates_a_web_chat_set_up(web, handler, orders):
    verified(web)
    web("yes")
    mail = Dialogue(handler, channel="email", key=JANE)

    mail("STOP UPDATES", contact_address=JANE)

    assert mail.kinds == [ReplyKind.UPDATES_STOPPED]
    assert [(s.channel, s.status) for s in subscriptions(orders)] == [("email", "stopped")]
