"""Keeping an LLM's answer to what the shopper wrote: identifiers must occur in the message itself.

A model can hallucinate or be talked into "order 1042" that the shopper never typed. Whatever it returns,
an order number or email address that does not occur in the shopper's text is dropped, and one that
does is taken in the shopper's own spelling.
"""

from __future__ import annotations

import re

from lumen_bot.domain.identifiers import email_key, normalize_order_number
from lumen_bot.domain.text import emails_in, normalize_text
from lumen_bot.domain.understanding import Understanding

# Shoppers space and punctuate numbers: "# 1042", "LUM 1042", "10-42".
_SEPARATORS = r"[\s#-]*"


def ground(understanding: Understanding, text: str) -> tuple[Understanding, tuple[str, ...]]:
    """``understanding`` with only the identifiers that occur in ``text``, and the names of those dropped."""
    text = normalize_text(text)
    order_number = _order_number_in(text, understanding.order_number) if understanding.order_number else None
    email = _email_in(text, understanding.email) if understanding.email else None
    dropped = tuple(
        name
        for name, claimed, found in (
            ("order_number", understanding.order_number, order_number),
            ("email", understanding.email, email),
        )
        if claimed and not found
    )
    return understanding.model_copy(update={"order_number": order_number, "email": email}), dropped


def _order_number_in(text: str, claimed: str) -> str | None:
    characters = [ch for ch in normalize_order_number(claimed) if ch not in "-"]
    if not characters:
        return None
    pattern = _SEPARATORS.join(re.escape(ch) for ch in characters)
    match = re.search(rf"(?<![0-9A-Za-z]){pattern}(?![0-9A-Za-z])", text, re.IGNORECASE)
    return normalize_order_number(match.group()) if match else None


def _email_in(text: str, claimed: str) -> str | None:
    return next((email for email in emails_in(text) if email_key(email) == email_key(claimed)), None)
