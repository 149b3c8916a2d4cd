"""Dialogues in Spanish, German, French and Portuguese, understood offline: a shopper reaches the tracking
details, and a request for a person, a refund, a return or a cancellation becomes a ticket.

(Replies are still in English; answering in the shopper's language is a separate capability.)"""

from __future__ import annotations

import pytest

from lumen_bot.domain.messages import ReplyKind
from lumen_bot.store.tickets import list_tickets

TRACKING_NUMBER = "1Z999AA10123456784"


@pytest.mark.parametrize(
    ("question", "number", "email"),
    [
        ("hola, ¿me dicen dónde anda mi pedido?", "es el 1042", "mi correo: jane.doe@example.com"),
        ("Hallo, wo bleibt eigentlich meine Bestellung?", "Bestellnummer 1042", "jane.doe@example.com bitte"),
        ("bonjour, je n'ai toujours pas reçu ma commande", "c'est la 1042", "mon mail jane.doe@example.com"),
        ("oi, meu pedido ainda não chegou", "o número é 1042", "email: jane.doe@example.com"),
    ],
    ids=["es", "de", "fr", "pt"],
)
def test_a_shopper_gives_the_order_number_then_the_email_and_gets_the_tracking(chat, question, number, email):
    chat(question)
    assert chat.kinds == [ReplyKind.ASK_ORDER_NUMBER]

    chat(number)
    assert chat.kinds == [ReplyKind.ASK_EMAIL]

    answer = chat(email)
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "UPS" in answer and TRACKING_NUMBER in answer


@pytest.mark.parametrize(
    "message",
    [
        "Pedido nº 1042, correo jane.doe@example.com. ¿Ya lo enviaron?",
        "Bestellnr. 1042, E-Mail jane.doe@example.com - ist das Paket schon unterwegs?",
        "commande n°1042, jane.doe@example.com, elle arrive quand ?",
        "encomenda 1042, jane.doe@example.com, já foi enviada?",
    ],
    ids=["es", "de", "fr", "pt"],
)
def test_the_order_number_behind_a_local_marker_and_the_email_answer_at_once(chat, message):
    answer = chat(message)

    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert TRACKING_NUMBER in answer


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("Quiero hablar con una persona", "human"),
        ("quiero que me devuelvan el dinero", "refund"),
        ("¿Cómo hago para devolver unas zapatillas?", "return"),
        ("Por favor cancelen mi pedido, ya no lo quiero", "cancel"),
        ("Ich möchte mit einem Mitarbeiter sprechen", "human"),
        ("Ich will mein Geld zurück", "refund"),
        ("Wie kann ich die Jacke zurückschicken?", "return"),
        ("Bitte stornieren Sie meine Bestellung", "cancel"),
        ("je voudrais parler à un conseiller", "human"),
        ("je veux être remboursé", "refund"),
        ("comment retourner un article ?", "return"),
        ("annulez ma commande svp", "cancel"),
        ("quero falar com um atendente", "human"),
        ("quero meu dinheiro de volta", "refund"),
        ("como faço para devolver o produto?", "return"),
        ("quero cancelar a minha encomenda", "cancel"),
    ],
)
def test_a_request_for_a_person_or_one_lumen_cannot_serve_becomes_a_ticket(chat, orders, message, category):
    chat(message)

    assert chat.kinds == [ReplyKind.ESCALATED]
    assert [ticket.category for ticket in list_tickets(orders)] == [category]
