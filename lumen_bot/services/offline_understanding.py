"""Understanding without an LLM: the trained model decides what a message asks, the rules read what is
written in it.

The model (see scripts/train_understanding.py) gives the intent and the out-of-scope topic with a
calibrated confidence, in English, Spanish, German, French and Portuguese. The rules keep what patterns do
best: order numbers and email addresses (with the markers of the five languages), yes and no, asking for
shipping updates or stopping them (intents the model was not trained on), and the structural case of a
message that is only an identifier. Below the model's "sure" confidence — or for a
long message, or one in a sixth language — the reading is unsure, and hybrid mode asks the LLM.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lumen_bot.domain.features import character_features, plain_words, word_features
from lumen_bot.domain.lexicon import keyword_signals
from lumen_bot.domain.linear_model import UnderstandingModel
from lumen_bot.domain.model_reading import (
    MODEL_LANGUAGES,
    NOT_ARRIVED_CLASS,
    intent_of,
    language_of,
    mentions_an_order,
    merged,
    reading_features,
)
from lumen_bot.domain.rules import RuleUnderstander
from lumen_bot.domain.understanding import (
    ORDER_QUESTIONS,
    SMALL_TALK,
    UPDATE_REQUESTS,
    Explanation,
    Intent,
    Question,
    Reading,
    Topic,
    Understanding,
)
from lumen_bot.ports import LanguageGuesser

_ESCALATION_FLOOR = 0.5  # below this out-of-scope probability, a message is "not understood"
_LONG_MESSAGE_WORDS = 40  # a long email says several things: the LLM reads it whole


class TrainedUnderstander:
    """The offline understander: the trained model, the rules and language identification."""

    def __init__(
        self,
        rules: RuleUnderstander,
        model: UnderstandingModel,
        languages: LanguageGuesser,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._rules = rules
        self._model = model
        self._languages = languages
        self._timer = timer

    async def understand(self, text: str, *, last_question: Question | None = None) -> Understanding:
        return self.read(text, last_question=last_question).understanding

    async def explain(self, text: str, *, last_question: Question | None = None) -> Explanation:
        started = self._timer()
        reading = self.read(text, last_question=last_question)
        reason = "model sure" if reading.sure else "model unsure (no LLM configured)"
        return Explanation(
            reading.understanding, "model", reason, self._timer() - started, confidence=reading.confidence
        )

    def order_number_in(self, text: str) -> str | None:
        return self._rules.order_number_in(text)

    def read(self, text: str, *, last_question: Question | None = None) -> Reading:
        """What ``text`` asks for, how confident the model is, and whether that is sure enough."""
        rule_reading = self._rules.read(text, last_question=last_question)
        rules = rule_reading.understanding
        words = plain_words(text)
        phrasing = word_features(words)
        identifiers_only = rule_reading.sure and rules.intent is Intent.PROVIDE_DETAILS
        if identifiers_only:
            # Nothing but an order number or an address, give or take "it's": the rules are certain, and
            # the model's intent would be overruled below. Half the messages of a verification are these.
            intent, topic, not_arrived, confidence = Intent.PROVIDE_DETAILS, None, False, 1.0
        else:
            intent, topic, not_arrived, confidence = self._model_intent(words, phrasing, rule_reading)
        language = language_of(
            self._languages.guesses(text),
            lambda: self._model.languages.probabilities(phrasing),
            has_letters=any(word.isalpha() for word in words),
        )
        sure = (
            confidence
            >= (self._model.order_sure_from if intent in ORDER_QUESTIONS else self._model.other_sure_from)
            and len(words) <= _LONG_MESSAGE_WORDS
            and language in MODEL_LANGUAGES
        )
        for_the_team = intent is Intent.HUMAN or (intent is Intent.OUT_OF_SCOPE and topic is not Topic.OTHER)
        if rules.intent in UPDATE_REQUESTS and rule_reading.sure and not (sure and for_the_team):
            # The model was trained before shipping updates existed and never answers them; the rules know
            # them in the five languages. A request for the team the model is sure of (a refund …) wins.
            intent, topic, not_arrived, sure, confidence = rules.intent, None, False, True, 1.0
        order_number = rules.order_number
        if intent in ORDER_QUESTIONS:
            if order_number is None:
                order_number = self._rules.order_number_in(text, about_an_order=True)
            if order_number is None and not sure and not mentions_an_order(words):
                # "How long does it take?", "any news?": a time or status question about no order.
                intent, not_arrived, sure = Intent.UNKNOWN, False, False
        if identifiers_only:
            sure = True
        if intent is Intent.PROVIDE_DETAILS and not (order_number or rules.email):
            intent, sure = Intent.UNKNOWN, False
        if (order_number or rules.email) and intent in SMALL_TALK:
            # "Sure, 1042" answers the question the bot asked, whatever the model made of the words.
            intent = Intent.PROVIDE_DETAILS
        understanding = Understanding(
            intent=intent,
            topic=topic,
            order_number=order_number,
            email=rules.email,
            not_arrived=not_arrived or (rules.not_arrived and intent in ORDER_QUESTIONS),
            answer=rules.answer,
            language=language,
        )
        return Reading(understanding, sure=sure, confidence=round(confidence, 4))

    def _model_intent(
        self, words: list[str], phrasing: list[str], rule_reading: Reading
    ) -> tuple[Intent, Topic | None, bool, float]:
        """The model's intent, topic, whether it says "not arrived", and its calibrated confidence.

        Out of scope needs the model to be fairly sure of it: a ticket for a coin flip ("try again" read as
        a complaint) costs the shop more than asking the shopper once more."""
        probabilities = self._model.intents.probabilities(
            character_features(words),
            phrasing,
            signals=reading_features(rule_reading) + keyword_signals(words),
        )
        intents = merged(probabilities)
        label = max(intents, key=intents.__getitem__)
        intent, topic, _ = intent_of(label)
        not_arrived = (
            intent is Intent.ORDER_STATUS and probabilities[NOT_ARRIVED_CLASS] > probabilities[label]
        )
        if intent is Intent.OUT_OF_SCOPE and intents[label] < _ESCALATION_FLOOR:
            intent, topic = Intent.UNKNOWN, None
        return intent, topic, not_arrived, intents[label]
