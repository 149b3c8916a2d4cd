"""Which language a conversation is held in, message by message."""

from __future__ import annotations

import pytest

from lumen_bot.domain.languages import spoken_language
from lumen_bot.domain.speech import LANGUAGES


def spoken(current: str | None, detected: str | None, text: str, *, enabled=LANGUAGES, default="en") -> str:
    return spoken_language(current, detected, text, enabled=enabled, default=default)


def test_a_first_message_sets_the_language_it_is_written_in():
    assert spoken(None, "es", "hola") == "es"


@pytest.mark.parametrize("text", ["ok", "1042", "jane@example.com", "Gracias!", "👍"])
def test_a_message_too_short_to_tell_keeps_the_conversations_language(text):
    assert spoken("de", "es", text) == "de"


def test_a_shopper_who_clearly_switches_is_answered_in_the_new_language():
    assert spoken("en", "es", "perdón, ¿dónde está mi pedido?") == "es"


def test_an_address_does_not_count_as_words_of_a_language():
    assert spoken("en", "fr", "c'est jane.doe@example.fr") == "en"


def test_a_language_the_shop_has_not_enabled_gets_the_default():
    assert spoken(None, "it", "dov'è il mio ordine?", enabled=("en", "de"), default="de") == "de"
    assert spoken(None, "es", "hola, mi pedido", enabled=("en", "de"), default="de") == "de"


def test_a_first_message_without_words_gets_the_default():
    assert spoken(None, "pt", "1042", default="en") == "en"


def test_a_browsers_language_holds_until_the_shopper_says_enough():
    assert spoken("de", "es", "hola") == "de"
    assert spoken("de", "es", "hola, busco mi pedido") == "es"
