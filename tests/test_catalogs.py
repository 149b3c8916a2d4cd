"""The message catalogs: every sentence Lumen says exists in every language, with the same placeholders."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from lumen_bot.domain.speech import LANGUAGES
from lumen_bot.locales.voices import DAY_AND_MONTH, LONG_DATE, SHORT_DATE
from tests.conftest import VOICES

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [language for language in LANGUAGES if language != "en"]
PLACEHOLDER = re.compile(r"\{\w+\}")
# The same in a language as in English, on purpose.
SAME_AS_ENGLISH = {"de": {"Ref {reference}."}, "es": {"No"}, "fr": {"Message", "Conversation", "Suggestions"}}
TUESDAY = date(2026, 12, 1)


def catalog(language: str):
    with (ROOT / f"lumen_bot/locales/{language}/LC_MESSAGES/lumen.po").open("rb") as file:
        return read_po(file)


def messages(language: str):
    return [message for message in catalog(language) if message.id]


def test_the_template_holds_every_message_the_code_says():
    result = subprocess.run(
        [sys.executable, "scripts/update_catalogs.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language):
    template = {
        message.id for message in read_po((ROOT / "lumen_bot/locales/lumen.pot").open("rb")) if message.id
    }
    translated = {message.id for message in messages(language) if message.string and not message.fuzzy}
    assert template - translated == set()


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_has_the_placeholders_of_its_source(language):
    differing = [
        message.id
        for message in messages(language)
        if message.string
        and sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string))
    ]
    assert differing == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_translation_is_not_the_english_left_in_place(language):
    same = {message.id for message in messages(language) if message.string == message.id}
    assert same <= SAME_AS_ENGLISH.get(language, set())


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_language_writes_dates_its_own_way(language):
    say = VOICES[language]
    english = VOICES["en"]
    assert say.long_date(TUESDAY) != english.long_date(TUESDAY)
    assert say(LONG_DATE) != LONG_DATE and say(SHORT_DATE) and say(DAY_AND_MONTH)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Tuesday, December 1"),
        ("es", "martes, 1 de diciembre"),
        ("de", "Dienstag, 1. Dezember"),
        ("fr", "mardi 1 décembre"),
        ("pt", "terça-feira, 1 de dezembro"),
    ],
)
def test_a_long_date_reads_as_the_language_writes_it(language, expected):
    assert VOICES[language].long_date(TUESDAY) == expected
