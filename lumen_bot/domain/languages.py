"""Which language a conversation is held in: the shopper's, as detected message by message, kept through
messages too short to tell ("ok", "1042", an email address)."""

from __future__ import annotations

import re
from collections.abc import Collection

from lumen_bot.domain.text import EMAIL_LIKE

_WORD = re.compile(r"[^\W\d_]{2,}")
# Two words are the least that say which language someone writes: "ok", "gracias" or "Danke!" alone could
# be said by a shopper of any language.
_ENOUGH_WORDS = 2


def spoken_language(
    current: str | None, detected: str | None, text: str, *, enabled: Collection[str], default: str
) -> str:
    """The language to answer ``text`` in: the one detected in it when it says enough to tell, else the
    conversation's so far (or the shop's default for a first message)."""
    kept = current if current in enabled else default
    if detected not in enabled or detected == kept:
        return kept
    if current is None and _WORD.search(text):
        return detected
    if len(_WORD.findall(EMAIL_LIKE.sub(" ", text))) >= _ENOUGH_WORDS:
        return detected
    return kept
