"""Reading an HTTP ``Retry-After`` header, for everything Lumen calls that may ask it to wait."""

from __future__ import annotations

import math


def retry_after_seconds(header: str | None) -> float | None:
    """The delay of a ``Retry-After`` header in seconds (its date form is left to the caller's backoff)."""
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
