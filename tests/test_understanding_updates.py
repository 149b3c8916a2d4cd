"""Asking for shipping updates and stopping them, in the five languages: the rules know the phrasings, and
the offline understander (whose model was trained before updates existed) takes them from the rules."""

from __future__ import annotations

import pytest

from channels.understanders import build_offline_understander
from lumen_bot.domain.rules import RuleUnderstander
from lumen_bot.domain.understanding import Intent, Question, Topic
from lumen_bot.services.offline_understanding import TrainedUnderstander
from lumen_bot.settings import load_settings

RULES = RuleUnderstander()

ASKING = {
    "en": [
        "notify me",
        "Send me updates please",
        "keep me posted",
        "Let me know when it ships",
        "let me know when it arrives",
        "Text me when it's out for delivery",
        "can you email me once it's delivered?",
        "sign me up for delivery notifications",
        "notify me about order 1042",
    ],
    "es": [
        "Avísame cuando llegue",
        "¿me avisas cuando salga a reparto?",
        "Mantenme informada, por favor",
        "Quiero recibir notificaciones del envío",
        "Envíame las actualizaciones",
    ],
    "de": [
        "Benachrichtige mich, wenn es versendet wird",
        "Halten Sie mich bitte auf dem Laufenden",
        "Gib mir Bescheid, sobald es da ist",
        "Ich möchte Benachrichtigungen bekommen",
        "Schreiben Sie mir, wenn das Paket unterwegs ist",
    ],
    "fr": [
        "Prévenez-moi quand il arrive",
        "Tenez-moi au courant svp",
        "Je voudrais recevoir des notifications",
        "pouvez-vous me prévenir quand le colis part ?",
        "Envoyez-moi les mises à jour",
    ],
    "pt": [
        "Me avisa quando chegar",
        "Me mantenha informado, por favor",
        "Quero receber atualizações da entrega",
        "Avise-me quando sair para entrega",
        "Me manda uma mensagem quando for entregue",
    ],
}
STOPPING = {
    "en": [
        "STOP UPDATES",
        "stop updates",
        "No more updates",
        "unsubscribe",
        "please stop sending me texts",
        "I don't want any more notifications",
        "cancel the updates",
    ],
    "es": ["No más actualizaciones", "Deja de enviarme mensajes", "No quiero más avisos", "Darme de baja"],
    "de": [
        "Keine Updates mehr",
        "Updates abbestellen",
        "Hör auf, mir zu schreiben",
        "Ich will keine Nachrichten",
    ],
    "fr": ["Plus de notifications", "Arrêtez de m'envoyer des messages", "Je veux me désabonner"],
    "pt": [
        "Parar atualizações",
        "Não quero mais mensagens",
        "Chega de mensagens",
        "Pare de me enviar mensagens",
    ],
}


def cases(by_language: dict[str, list[str]]) -> list[object]:
    return [
        pytest.param(text, id=f"{language}: {text}")
        for language, texts in by_language.items()
        for text in texts
    ]


@pytest.fixture(scope="module")
def offline() -> TrainedUnderstander:
    return build_offline_understander(load_settings())


@pytest.mark.parametrize("text", cases(ASKING))
def test_asking_for_updates_is_understood_surely(text, offline):
    rules = RULES.read(text)
    assert (rules.understanding.intent, rules.sure) == (Intent.SUBSCRIBE_UPDATES, True)

    reading = offline.read(text)
    assert (reading.understanding.intent, reading.sure) == (Intent.SUBSCRIBE_UPDATES, True)


@pytest.mark.parametrize("text", cases(STOPPING))
def test_stopping_updates_is_understood_surely(text, offline):
    rules = RULES.read(text)
    assert (rules.understanding.intent, rules.sure) == (Intent.STOP_UPDATES, True)

    reading = offline.read(text)
    assert (reading.understanding.intent, reading.sure) == (Intent.STOP_UPDATES, True)


def test_the_order_named_with_the_wish_is_read():
    assert RULES.understand_text("notify me about order 1042").order_number == "1042"


@pytest.mark.parametrize(
    ("text", "intent", "topic"),
    [
        # Questions, not wishes
        ("let me know when it will arrive", Intent.DELIVERY_ESTIMATE, None),
        ("Can you tell me when it's expected to be delivered?", Intent.DELIVERY_ESTIMATE, None),
        ("tell me if order 1042 has shipped", Intent.ORDER_STATUS, None),
        ("any updates on my order?", Intent.ORDER_STATUS, None),
        ("can I get an update on order 1042", Intent.ORDER_STATUS, None),
        # Requests for the team win
        ("cancel my order", Intent.OUT_OF_SCOPE, Topic.CANCEL),
        ("I don't want it anymore", Intent.OUT_OF_SCOPE, Topic.CANCEL),
        ("email me when the refund is processed", Intent.OUT_OF_SCOPE, Topic.REFUND),
        # Other lists and other news
        ("unsubscribe me from your newsletter", Intent.OUT_OF_SCOPE, Topic.OTHER),
        ("me avisan cuando haya stock de las zapatillas blancas?", Intent.UNKNOWN, None),
        # A bare STOP is the carriers' opt-out, handled by the SMS and WhatsApp channels
        ("stop", Intent.UNKNOWN, None),
    ],
)
def test_look_alikes_are_not_about_updates(text, intent, topic):
    understanding = RULES.understand_text(text)

    assert (understanding.intent, understanding.topic) == (intent, topic)


@pytest.mark.parametrize(
    ("text", "answer"),
    [("Yes", "yes"), ("sí", "yes"), ("ja bitte", "yes"), ("oui", "yes"), ("sim", "yes"), ("No", "no")],
)
def test_a_bare_yes_or_no_answers_the_offer(text, answer, offline):
    assert offline.read(text, last_question=Question.OFFER_UPDATES).understanding.answer == answer
