"""Shoppers who write Spanish, German, French or Portuguese are answered in their language, with the facts
of their order and its dates as their language writes them — on web chat, SMS and email."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import SecretStr

from channels.app import create_app
from channels.sms_text import to_gsm7
from lumen_bot.domain.messages import ReplyKind
from tests.conftest import VOICES, LiveServer
from tests.test_email_channel import answers, body_text, send_raw, shopper_email
from tests.test_twilio import PUBLIC, SID, TOKEN, Twilio

ETA = date(2026, 12, 1)
TRACKING = "1Z999AA10123456784"
# What each shopper writes: a question, the order number, the email, a second order, and the requests.
SHOPPERS = {
    "es": {
        "question": "hola, ¿me dicen dónde anda mi pedido?",
        "number": "es el 1042",
        "email": "mi correo es jane.doe@example.com",
        "second": "¿y el pedido 3003?",
        "person": "Quiero hablar con una persona",
        "refund": "quiero que me devuelvan el dinero",
        "wrong": "pedido 1042, correo otra{n}@example.com",
    },
    "de": {
        "question": "Hallo, wo bleibt eigentlich meine Bestellung?",
        "number": "Bestellnummer 1042",
        "email": "meine Mail ist jane.doe@example.com",
        "second": "und was ist mit Bestellung 3003?",
        "person": "Ich möchte mit einem Mitarbeiter sprechen",
        "refund": "Ich will mein Geld zurück",
        "wrong": "Bestellung 1042, Mail andere{n}@example.com",
    },
    "fr": {
        "question": "bonjour, je n'ai toujours pas reçu ma commande",
        "number": "c'est la commande 1042",
        "email": "mon adresse est jane.doe@example.com",
        "second": "et la commande 3003 alors ?",
        "person": "je voudrais parler à un conseiller",
        "refund": "je veux être remboursé",
        "wrong": "commande 1042, adresse autre{n}@example.com",
    },
    "pt": {
        "question": "oi, meu pedido ainda não chegou",
        "number": "o número é 1042",
        "email": "meu email é jane.doe@example.com",
        "second": "e o pedido 3003?",
        "person": "quero falar com um atendente",
        "refund": "quero meu dinheiro de volta",
        "wrong": "pedido 1042, email outro{n}@example.com",
    },
}
LANGUAGES = list(SHOPPERS)
SHIPPED = ("Order #{number} has shipped.", "Order #{number}: shipped.")
ASK_EMAIL = "Thanks. To keep your details safe, what's the email address you used for order #{number}?"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_shopper_is_verified_and_answered_in_their_language(chat, language):
    say, shopper = VOICES[language], SHOPPERS[language]

    assert "#1042" in say("What's your order number? It's in your order confirmation email, e.g. #1042.")
    asked = chat(shopper["question"])
    assert say("What's your order number? It's in your order confirmation email, e.g. #1042.") in asked

    assert chat(shopper["number"]) == say(ASK_EMAIL, number="1042")

    answer = chat(shopper["email"])
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "UPS" in answer and TRACKING in answer
    assert say.long_date(ETA) in answer


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_second_order_in_the_same_session_is_answered_in_the_same_language(chat, language):
    say, shopper = VOICES[language], SHOPPERS[language]
    chat(shopper["question"])
    chat(shopper["number"])
    chat(shopper["email"])

    answer = chat(shopper["second"])

    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert say("Order #{number} is being prepared and hasn't shipped yet.", number="3003") in answer


@pytest.mark.parametrize("language", LANGUAGES)
def test_asking_for_a_person_is_answered_in_the_shoppers_language(chat, language):
    answer = chat(SHOPPERS[language]["person"])

    assert chat.kinds == [ReplyKind.ESCALATED]
    assert VOICES[language]("Of course — I'll get a person from our team to help you.") in answer


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_refund_request_is_acknowledged_in_the_shoppers_language(chat, language):
    answer = chat(SHOPPERS[language]["refund"])

    assert chat.kinds == [ReplyKind.ESCALATED]
    assert VOICES[language]("I understand you'd like a refund.") in answer


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_lockout_is_said_in_the_shoppers_language(chat, settings, language):
    for attempt in range(settings.verify_max_failures):
        answer = chat(SHOPPERS[language]["wrong"].format(n=attempt))

    assert chat.kinds == [ReplyKind.LOCKED]
    assert answer == VOICES[language](
        "I couldn't verify those details, and for your security I can't check again for a while. Please "
        "contact {support} and they'll help you with your order.",
        support=settings.support_contact,
    )


def test_english_is_unchanged(chat):
    assert (
        chat("1042")
        == "Thanks. To keep your details safe, what's the email address you used for order #1042?"
    )


def test_a_short_reply_keeps_the_language_of_the_conversation(chat):
    chat(SHOPPERS["de"]["question"])

    assert chat("1042") == VOICES["de"](ASK_EMAIL, number="1042")


def test_web_chat_answers_in_the_browsers_language_before_the_shopper_says_enough(http):
    response = http.post("/api/chat", json={"session": None, "text": "1042", "lang": "de-DE"})

    assert response.json()["messages"][0]["text"] == VOICES["de"](ASK_EMAIL, number="1042")


@pytest.mark.parametrize("language", LANGUAGES)
def test_web_chat_reaches_the_tracking_in_the_shoppers_language(http, language):
    shopper, session = SHOPPERS[language], None
    for text in (shopper["question"], shopper["number"], shopper["email"]):
        body = http.post("/api/chat", json={"session": session, "text": text}).json()
        session = body["session"]

    assert VOICES[language].long_date(ETA) in body["messages"][0]["text"]


@pytest.fixture
def twilio(settings, provider_api, orders, clock):
    configured = settings.model_copy(
        update={
            "twilio_auth_token": SecretStr(TOKEN),
            "twilio_account_sid": SID,
            "public_base_url": PUBLIC,
            "twilio_api_url": provider_api.url,
        }
    )
    with LiveServer(create_app(configured, engine=orders, clock=clock)) as http:
        yield Twilio(http)


@pytest.mark.parametrize("language", LANGUAGES)
def test_sms_reaches_the_tracking_in_the_shoppers_language(twilio, language):
    shopper = SHOPPERS[language]
    twilio.say(shopper["question"])
    twilio.say(shopper["number"])

    [answer] = twilio.say(shopper["email"])

    say = VOICES[language]
    status = {to_gsm7(say(message, number="1042")) for message in SHIPPED}
    assert TRACKING in answer
    assert any(line in answer for line in status)


@pytest.mark.parametrize("language", LANGUAGES)
def test_whatsapp_reaches_the_tracking_in_the_shoppers_language(twilio, language):
    shopper, sender = SHOPPERS[language], "whatsapp:+15557654321"
    twilio.say(shopper["question"], sender=sender)
    twilio.say(shopper["number"], sender=sender)

    [answer] = twilio.say(shopper["email"], sender=sender)

    assert TRACKING in answer
    assert VOICES[language].long_date(ETA) in answer


@pytest.fixture
def mail(email_settings, orders, clock):
    with LiveServer(create_app(email_settings, engine=orders, clock=clock)) as http:
        yield http


@pytest.mark.parametrize("language", LANGUAGES)
def test_email_answers_a_verified_shopper_in_their_language(mail, smtp_server, language):
    send_raw(mail, shopper_email(SHOPPERS[language]["question"]))

    [received] = answers(smtp_server)

    text = body_text(received.message)
    assert TRACKING in text
    assert VOICES[language].long_date(ETA) in text
    assert f'<html lang="{language}">' in received.message.get_body(("html",)).get_content()
