"""Reading a shopper's text the same way everywhere: normalization and the email addresses in it.

The rules read messages through these functions, and the LLM's answer is checked against the text
through them too, so "occurs in the shopper's text" means the same thing for both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from lumen_bot.domain.identifiers import normalize_email

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Zero-width and bidi-control characters can sit inside a word ("or\u200bder"): removed, not spaced.
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
SPACES = re.compile(r"\s+")
# Starts only where a token starts: trying every position of a long token would take quadratic time.
EMAIL_LIKE = re.compile(r"(?<![^\s<>()\[\]{},;:\"])[^\s<>()\[\]{},;:\"@]+@[^\s<>()\[\]{},;:\"@]+")


def normalize_text(text: str) -> str:
    """NFKC, ASCII digits, no control or invisible characters, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        # Shoppers writing Arabic, Persian or Hindi may type their order number in those digits.
        text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", text))
    return SPACES.sub(" ", text).strip()


def emails_in(text: str) -> Iterator[str]:
    """The valid email addresses in normalized ``text``, normalized, in order."""
    for match in EMAIL_LIKE.finditer(text):
        normalized = normalize_email(match.group().strip(".!?'"))
        if normalized is not None:
            yield normalized
