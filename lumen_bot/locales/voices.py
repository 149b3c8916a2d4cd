"""The voice of each enabled language: its gettext catalog and Babel's locale data for dates.

A wheel carries the compiled catalogs (``lumen.mo``, built by setup.py from the ``.po`` sources); a
source checkout has only the ``.po``, which is compiled in memory the same way when first needed.
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime, tzinfo
from importlib import resources

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from lumen_bot.domain.speech import LANGUAGES, N_

DOMAIN = "lumen"
SOURCE_LANGUAGE = "en"
# Portuguese is written as Brazil writes it (the larger market, "você"); dates follow the same locale.
LOCALES = {"en": "en", "es": "es", "de": "de", "fr": "fr", "pt": "pt_BR"}
# CLDR date patterns: each language orders day, month and weekday its own way.
# Translators: a CLDR date pattern, not words: EEEE weekday, MMMM month, d day; text in 'quotes'. Order it
# as your language writes a date: "EEEE, d 'de' MMMM" → "martes, 1 de diciembre".
LONG_DATE = N_("EEEE, MMMM d")
# Translators: a CLDR date pattern (EEE short weekday, MMM short month, d day), for SMS.
SHORT_DATE = N_("EEE MMM d")
# Translators: a CLDR date pattern (MMM short month, d day).
DAY_AND_MONTH = N_("MMM d")


class CatalogVoice:
    """One language's :class:`~lumen_bot.domain.speech.Speech`."""

    __slots__ = ("_locale", "_timezone", "_translations", "language")

    def __init__(self, language: str, translations: gettext.NullTranslations, timezone: tzinfo) -> None:
        self.language = language
        self._translations = translations
        self._locale = Locale.parse(LOCALES[language])
        self._timezone = timezone

    def __call__(self, message: str, /, **values: object) -> str:
        return self._translations.gettext(message).format_map(values)

    def long_date(self, day: date) -> str:
        return _formatted(day, self(LONG_DATE), self._locale)

    def short_date(self, day: date) -> str:
        return _formatted(day, self(SHORT_DATE), self._locale)

    def day_of(self, moment: datetime) -> str:
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return _formatted(aware.astimezone(self._timezone).date(), self(DAY_AND_MONTH), self._locale)


# Babel formats a date in about 25 µs, as much as the rest of an order answer; the same few days (today,
# the coming deliveries) are said over and over in a few languages.
@functools.lru_cache(maxsize=1024)
def _formatted(day: date, pattern: str, locale: Locale) -> str:
    return format_date(day, pattern, locale=locale)


def load_voices(languages: Iterable[str], timezone: tzinfo) -> dict[str, CatalogVoice]:
    """The voices of ``languages`` (each one of :data:`~lumen_bot.domain.speech.LANGUAGES`)."""
    return {language: CatalogVoice(language, catalog(language), timezone) for language in languages}


def catalog(language: str) -> gettext.NullTranslations:
    """The translations of ``language``; English, the source, translates nothing."""
    if language not in LANGUAGES:
        raise ValueError(f"Lumen has no catalog for {language!r}")
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    folder = resources.files(__package__).joinpath(language, "LC_MESSAGES")
    compiled = folder.joinpath(f"{DOMAIN}.mo")
    if compiled.is_file():
        return gettext.GNUTranslations(io.BytesIO(compiled.read_bytes()))
    return gettext.GNUTranslations(io.BytesIO(compile_po(folder.joinpath(f"{DOMAIN}.po").read_bytes())))


def compile_po(source: bytes) -> bytes:
    """A ``.po`` file's bytes compiled to ``.mo`` (fuzzy entries left out, as msgfmt does)."""
    compiled = io.BytesIO()
    write_mo(compiled, read_po(io.BytesIO(source)))
    return compiled.getvalue()
