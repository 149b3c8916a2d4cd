"""What Lumen says in one language: its message catalog, and how the language writes dates.

Every sentence is written in English in the code, wrapped in ``say("…")`` (or marked with :func:`N_` where
it is kept in a table and said later), and looked up in the shopper's language when it is said. Values go
in as ``{name}`` placeholders, after the lookup, so a translation can move them where its grammar wants
them. Carrier names, tracking numbers and links are values: they are never translated.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Protocol, get_args

#: The languages Lumen speaks, English first: the source of every message.
Language = Literal["en", "es", "de", "fr", "pt"]
LANGUAGES: tuple[str, ...] = get_args(Language)


def N_(message: str) -> str:  # the name gettext's tools look for
    """Marks ``message`` for the catalogs where it is written; it is translated where it is said."""
    return message


class Speech(Protocol):
    """One language's voice. Implemented by the catalogs adapter (:mod:`lumen_bot.locales`)."""

    @property
    def language(self) -> str:
        """ISO 639-1 code: ``"es"``."""
        ...

    def __call__(self, message: str, /, **values: object) -> str:
        """``message`` in this language, with ``values`` put into its ``{placeholders}``."""
        ...

    def long_date(self, day: date) -> str:
        """ "Tuesday, December 1", "martes, 1 de diciembre", "Dienstag, 1. Dezember"."""
        ...

    def short_date(self, day: date) -> str:
        """ "Tue Dec 1", "mar 1 dic": for channels with little room."""
        ...

    def day_of(self, moment: datetime) -> str:
        """The day of ``moment`` in the shop's timezone, month and day only: "Dec 3", "3. Dez."."""
        ...
