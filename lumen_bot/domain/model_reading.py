"""Turning the trained model's scores into an understanding: its classes, the subject an order question
needs, and the message's language. Pure: the scores and language guesses are computed elsewhere."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from lumen_bot.domain.understanding import Intent, Reading, Topic

#: The languages the model was trained on, and in which Lumen is understood offline.
MODEL_LANGUAGES = ("en", "es", "de", "fr", "pt")
_SURE = 0.9  # fastText this sure of a language (one of the five or a sixth): the message is in it
#: The class of an order status question that says the order has not arrived.
NOT_ARRIVED_CLASS = "order_status:not_arrived"


def intent_of(label: str) -> tuple[Intent, Topic | None, bool]:
    """A model class → the intent, the out-of-scope topic, and whether it says "it has not arrived".

    Classes are intents, ``out_of_scope:<topic>`` and ``order_status:not_arrived``."""
    name, _, detail = label.partition(":")
    intent = Intent(name)
    if intent is Intent.OUT_OF_SCOPE:
        return intent, Topic(detail or Topic.OTHER), False
    return intent, None, label == NOT_ARRIVED_CLASS


def merged(probabilities: dict[str, float]) -> dict[str, float]:
    """The model's class probabilities with "order_status:not_arrived" counted as order_status: it is one
    question to the conversation, and the two must not split its confidence."""
    found: dict[str, float] = {}
    for label, probability in probabilities.items():
        key = intent_class(label)
        found[key] = found.get(key, 0.0) + probability
    return found


def intent_class(label: str) -> str:
    """The class as the conversation sees it: "order_status:not_arrived" is order_status."""
    return Intent.ORDER_STATUS.value if label == NOT_ARRIVED_CLASS else label


# What a time or status question must be about to be an order question: "how long does it take?" and
# "what's the status of my application?" are not; "how long will my parcel take?" and "ya llegó?" are.
# Read on lower-case words without accents, numbers as 0 (see features.plain_words).
# fmt: off
_ORDER_SUBJECTS = re.compile(r"\b(?:" + "|".join((
    # en
    r"orders?", r"ordr", r"oder", r"packages?", r"pack", r"pkg", r"parcels?", r"shipments?",
    r"deliver(?:y|ies)",
    r"purchases?", r"stuff", r"items?", r"box", r"goods", r"it", r"its", r"them", r"they", r"track\w*",
    r"ship\w*", r"dispatch\w*", r"courier", r"ups", r"usps", r"fedex", r"dhl",
    r"royal mail", r"#", r"0",
    # es
    r"pedidos?", r"paquetes?", r"envios?", r"enviad\w*", r"envia\w*", r"compras?", r"ordene?s?", r"encargos?",
    r"llega\w*", r"llego", r"seguimiento", r"rastreo", r"entrega\w*", r"repartidor", r"correos",
    # de
    r"bestell\w*", r"pakete?", r"packchen", r"packet", r"lieferung\w*", r"liefer\w*", r"sendung\w*",
    r"versand\w*", r"verschickt", r"angekommen", r"zugestellt", r"unterwegs", r"ware", r"hermes", r"dpd",
    r"gls",
    # fr
    r"commandes?", r"cmd", r"colis", r"livr\w*", r"expedi\w*", r"envoy\w*", r"arrive\w*", r"suivi",
    r"achats?", r"paquets?", r"colissimo", r"chronopost", r"mondial relay",
    # pt
    r"encomendas?", r"pacotes?", r"entregue", r"chegou", r"chega\w*", r"rastreio", r"rastreamento",
    r"correios", r"ctt", r"envio", r"produto",
    # de, es, fr, pt: an article or a possessive before a noun, or a pronoun, names the thing bought ("kommt
    # die Lampe noch?", "¿me lo traen?", "quando vem o sofá?"); English "the" and "my" do not, because
    # "the bus" and "my application" are what English time and status questions are most often about.
    r"(?:der|die|das|den|dem|des|ein|eine|einen|mein|meine|meinen|meinem|meiner|el|la|los|las|un|una|mi|mis"
    r"|le|les|du|mon|ma|mes|o|os|as|um|uma|meu|minha|meus|minhas) \w+",
    r"das", r"es", r"lo", r"ca", r"l",
)) + r")\b")
# fmt: on


def mentions_an_order(words: list[str]) -> bool:
    """Whether a message's :func:`~lumen_bot.domain.features.plain_words` name something an order question
    can be about (a parcel, an order number, a shipping word, or "it")."""
    return _ORDER_SUBJECTS.search(" ".join(words)) is not None


def language_of(
    guesses: Sequence[tuple[str, float]],
    model_languages: Callable[[], Mapping[str, float]],
    *,
    has_letters: bool,
) -> str:
    """The message's ISO 639-1 language: fastText's guess (176 languages) weighed with the trained
    model's (five languages, but trained on shopper messages, so surer of two-word SMS), which is asked
    only when fastText is not sure.

    A message without letters ("1042", "👍") gets the likeliest of the five."""
    if has_letters and guesses and guesses[0][1] >= _SURE:
        return guesses[0][0]
    best_other = next(((code, p) for code, p in guesses if code not in MODEL_LANGUAGES), None)
    if has_letters and best_other and best_other[1] >= _SURE:
        return best_other[0]
    fasttext = dict(guesses) if has_letters else {}
    model = model_languages()
    return max(MODEL_LANGUAGES, key=lambda code: fasttext.get(code, 0.0) + model.get(code, 0.0))


def reading_features(reading: Reading) -> list[str]:
    """What the rules made of a message, as features the model weighs with the words: the rules know
    English phrasings no training set covers, and the model learns how far to trust them."""
    understanding = reading.understanding
    label = understanding.intent.value
    if understanding.topic is not None:
        label += ":" + understanding.topic.value
    found = ["r " + label, "r sure " + label if reading.sure else "r unsure"]
    if understanding.not_arrived:
        found.append("r not_arrived")
    if understanding.order_number:
        found.append("r order_number")
    if understanding.email:
        found.append("r email")
    return found
