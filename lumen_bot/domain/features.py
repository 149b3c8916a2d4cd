"""The features the trained understanding model reads from a message: the same at training and at run time.

Character n-grams of each word carry what shoppers of five languages write, typos and missing accents
included ("pedido", "pedidio", "Bestellung", "bestelung"); word pairs carry the phrasing ("where is",
"ya llegó"). Identifiers are replaced by placeholders first: the model learns that a number follows
"pedido", never which number.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import pairwise

from lumen_bot.domain.text import EMAIL_LIKE, normalize_text

MAX_CHARACTERS = 400  # the opening of a long email says what it is about; the rest only costs time
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[a-z0]+|[^\sa-z0\w]|[^\W\d_a-z]+")
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_CHAR_SIZES = (3, 4, 5)


def plain_words(text: str) -> list[str]:
    """Lower-case words without accents or apostrophes; ``0`` for a number, ``@`` for an address or link.

    Punctuation that means something ("?", "!", "#", emoji) is kept as a word of its own."""
    text = normalize_text(text)[:MAX_CHARACTERS]
    text = _URL.sub(" @ ", EMAIL_LIKE.sub(" @ ", text))
    text = text.lower()
    if not text.isascii():
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = _DIGITS.sub("0", _APOSTROPHES.sub("", text.replace("ß", "ss")))
    return [word for word in _WORD.findall(text) if not word.isspace() and word not in ".,;:-"]


def character_features(words: list[str]) -> list[str]:
    """The character n-grams of each of a message's :func:`plain_words`, padded with a space."""
    found: list[str] = []
    for word in words:
        padded = f" {word} "
        for size in _CHAR_SIZES:
            found.extend(padded[i : i + size] for i in range(len(padded) - size + 1))
    return found


def word_features(words: list[str]) -> list[str]:
    """A message's :func:`plain_words` and their pairs: all the language model reads."""
    padded_words = ["<s>", *words, "</s>"]
    return ["w " + word for word in words] + [f"b {a} {b}" for a, b in pairwise(padded_words)]
