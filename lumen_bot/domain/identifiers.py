"""Normalization of the two identifiers a shopper gives: order numbers and email addresses."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

_ORDER_NOISE = re.compile(r"[\s#]+")
# What an order number looks like unless the shop says otherwise (LUMEN_ORDER_NUMBER_PATTERN): an optional
# prefix of letters, then digits ("1042", "LUM-1042"), maybe in two groups or with a suffix ("90-4411",
# "7098-22", "7731-B"), as shop systems number split or amended orders. Matched against upper-cased text.
DEFAULT_ORDER_NUMBER_PATTERN = r"(?:[A-Z]{1,5}-?)?(?:\d{3,20}(?:-(?:\d{1,12}|[A-Z]{1,2}))?|\d{2}-\d{3,12})"


def normalize_order_number(value: str) -> str:
    """``" #lum 1042 "`` → ``"LUM1042"``: no ``#``, no spaces, upper-case letters."""
    return _ORDER_NOISE.sub("", value).upper()


@lru_cache(maxsize=4096)
def normalize_email(value: str) -> str | None:
    """The address as email-validator normalizes it, or ``None`` when it is not a valid address.

    Cached: a message's address is validated when it is found and again by the ``Understanding``
    model, and validation is the most expensive step of reading a message. email-validator is imported
    with the first address rather than at start-up, which it would slow by tens of milliseconds.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def email_key(value: str) -> str:
    """The form in which two addresses are compared: trimmed and case-insensitive."""
    return value.strip().casefold()


def email_digest(value: str) -> str:
    """A one-way digest of an address, so conversation state need not hold the address itself."""
    return hashlib.sha256(email_key(value).encode()).hexdigest()
