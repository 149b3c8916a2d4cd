"""The trained offline understander: the shipped model is current, and the understander reads intents,
identifiers, yes/no and languages the way the rest of Lumen expects."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from channels.understanders import build_offline_understander
from lumen_bot.domain.features import plain_words
from lumen_bot.domain.lexicon import keyword_signals
from lumen_bot.domain.linear_model import LinearModel, ModelFormatError, UnderstandingModel
from lumen_bot.domain.model_reading import language_of, mentions_an_order
from lumen_bot.domain.understanding import Intent, Question, Topic
from lumen_bot.services.offline_understanding import TrainedUnderstander
from lumen_bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def understander() -> TrainedUnderstander:
    return build_offline_understander(load_settings())


def test_the_shipped_model_was_trained_from_the_current_data_and_code():
    # Stale when a training message, the features or the trainer changed since the model was written.
    result = subprocess.run(
        [sys.executable, "scripts/train_understanding.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_training_message_is_labelled_validly():
    files = sorted((ROOT / "training").rglob("*.jsonl"))
    result = subprocess.run(
        [sys.executable, "scripts/validate_training_data.py", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert len(files) >= 11
    assert result.returncode == 0, result.stdout


def test_a_parcel_someone_else_sent_is_a_signal_of_its_own():
    signals = keyword_signals(plain_words("la caja que me envió mi hermana no ha llegado"))

    assert "k someone_else" in signals
    assert "k not_yet, someone else" in signals
    assert not any("someone" in signal for signal in keyword_signals(plain_words("mi pedido no ha llegado")))


def test_a_model_survives_its_document():
    model = LinearModel(("a", "b"), {"x": (0.5, -0.25), "y": (-1.0, 2.0)}, (0.1, -0.1), temperature=1.5)

    again = LinearModel.from_document(model.to_document())

    assert again.classes == model.classes and again.temperature == 1.5
    assert again.probabilities(["x", "y"])["b"] == pytest.approx(
        model.probabilities(["x", "y"])["b"], abs=1e-3
    )


def test_a_read_model_decodes_its_weights_when_asked_and_scores_as_if_all_were_decoded():
    weights = {"x": (0.5, -0.25), "y": (-1.0, 2.0), "z": (0.125, 0.75)}
    document = LinearModel(("a", "b"), weights, (0.1, -0.1)).to_document()
    read = LinearModel.from_document(document)
    again = LinearModel.from_document(document)
    decoded = LinearModel(again.classes, dict(again.weights), again.bias, again.temperature)

    for features in (["x"], ["y", "never seen", "x"], ["z", "y", "x"], []):
        assert read.probabilities(features, signals=["z"]) == decoded.probabilities(features, signals=["z"])
    assert len(read.weights) == 3 and "y" in read.weights and "w" not in read.weights
    assert read.weights.get("w") is None and sorted(read.weights) == ["x", "y", "z"]
    with pytest.raises(KeyError):
        read.weights["w"]


def test_a_document_of_another_format_is_refused():
    with pytest.raises(ModelFormatError):
        UnderstandingModel.from_document({"format": 99})


def test_probabilities_are_a_distribution_and_unknown_features_count_for_nothing():
    model = LinearModel(("a", "b"), {"x": (1.0, -1.0)}, (0.0, 0.0))

    probabilities = model.probabilities(["x", "never seen"])

    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert probabilities["a"] > probabilities["b"]


def test_plain_words_ignore_accents_case_and_which_number_was_written():
    assert plain_words("Número de PEDIDO 40219") == plain_words("numero de pedido 7731")
    assert plain_words("Where's order #1042? jane@example.com") == [
        "wheres", "order", "#", "0", "?", "@",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how long does shipping take to my place", True),
        ("ya llegó el paquete?", True),
        ("how long does a passport renewal take", False),
        ("any news?", False),
        ("Kommt die Lampe noch diese Woche?", True),
        ("¿cuándo me lo traen?", True),
        ("quando vem o sofá?", True),
        ("is the bus running late", False),
    ],
)
def test_an_order_question_needs_a_subject(text, expected):
    assert mentions_an_order(plain_words(text)) is expected


def test_a_confident_sixth_language_wins_and_short_texts_fall_back_to_the_five():
    assert language_of([("it", 0.95)], lambda: {"es": 0.6, "pt": 0.4}, has_letters=True) == "it"
    assert (
        language_of([("en", 0.12), ("ca", 0.09)], lambda: {"de": 0.9, "en": 0.05}, has_letters=True) == "de"
    )
    assert language_of([], lambda: {"en": 0.7, "es": 0.3}, has_letters=False) == "en"


def read(understander: TrainedUnderstander, text: str, last_question: Question | None = None):
    return understander.read(text, last_question=last_question)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("donde esta mi pedido", "es"),
        ("wo ist mein Paket", "de"),
        ("où est mon colis ?", "fr"),
        ("cadê minha encomenda", "pt"),
        ("where's my parcel", "en"),
        ("Dov'è il mio ordine? Non è ancora arrivato", "it"),
    ],
)
def test_every_message_gets_its_language(understander, text, language):
    assert read(understander, text).understanding.language == language


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("pedido 40219 no ha llegado", "40219"),
        ("Bestellung 55810 noch nicht da", "55810"),
        ("commande 7731 pas reçue", "7731"),
        ("encomenda 3390 ainda não chegou", "3390"),
        ("Bestellnr. 55810", "55810"),
        ("cmd 7731", "7731"),
    ],
)
def test_order_numbers_behind_the_markers_of_five_languages_are_read_exactly(understander, text, number):
    assert read(understander, text).understanding.order_number == number


@pytest.mark.parametrize(
    "text",
    [
        "pagué 129,90 € y el código postal es 28013",
        "PLZ 10115, 2 Stück bestellt",
        "CEP 01310-100",
    ],
)
def test_prices_postal_codes_and_quantities_are_not_order_numbers(understander, text):
    assert read(understander, text).understanding.order_number is None


@pytest.mark.parametrize(
    ("text", "answer"), [("sí", "yes"), ("ja bitte", "yes"), ("non merci", "no"), ("não", "no")]
)
def test_yes_and_no_in_other_languages_answer_the_question(understander, text, answer):
    assert read(understander, text, Question.CONFIRM_TICKET).understanding.answer == answer


def test_a_number_alone_answers_the_question_for_it(understander):
    reading = read(understander, "1042", Question.ORDER_NUMBER)

    assert reading.sure
    assert reading.understanding.intent is Intent.PROVIDE_DETAILS
    assert reading.understanding.order_number == "1042"


def test_a_status_question_about_something_else_is_not_an_order_question(understander):
    assert read(understander, "what's the status of my visa application").understanding.intent not in {
        Intent.ORDER_STATUS, Intent.TRACKING, Intent.DELIVERY_ESTIMATE,
    }  # fmt: skip


def test_a_request_for_a_person_in_german_is_understood(understander):
    understanding = read(understander, "Ich möchte mit einem Mitarbeiter sprechen").understanding

    assert understanding.intent is Intent.HUMAN


def test_a_refund_in_spanish_is_out_of_scope_with_its_topic(understander):
    understanding = read(understander, "quiero que me devuelvan el dinero").understanding

    assert (understanding.intent, understanding.topic) == (Intent.OUT_OF_SCOPE, Topic.REFUND)


def test_explain_names_the_model_its_confidence_and_the_language(understander):
    explanation = asyncio.run(understander.explain("where is my order?"))

    assert explanation.understander == "model"
    assert explanation.reason == "model sure"
    assert explanation.confidence is not None and explanation.confidence >= 0.5
    assert explanation.understanding.language == "en"
