"""Masking personal data before it can reach a log line."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,}\d(?!\w)")
_TRACKING = re.compile(r"(?<!\w)[A-Za-z0-9]{8,}(?!\w)")
_MIN_PHONE_DIGITS = 9
_MIN_TRACKING_DIGITS = 6


def redact(text: str) -> str:
    """Mask emails (``j***@e***``), phone numbers and tracking numbers (only the last 2 characters kept)."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}***", text)
    text = _PHONE.sub(lambda m: _mask(m.group(0), _MIN_PHONE_DIGITS), text)
    return _TRACKING.sub(lambda m: _mask(m.group(0), _MIN_TRACKING_DIGITS), text)


def _mask(value: str, min_digits: int) -> str:
    if sum(ch.isdigit() for ch in value) < min_digits:
        return value
    return "*" * (len(value) - 2) + value[-2:]
