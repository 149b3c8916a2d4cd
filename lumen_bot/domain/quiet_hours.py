"""Quiet hours: a time of day when no SMS update goes out (``LUMEN_QUIET_HOURS``, e.g. ``21:00-08:00``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """From ``start`` to ``end`` each day, in the shop's timezone; over midnight when ``end`` is earlier."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """``"21:00-08:00"``; ``None`` for an empty text (no quiet hours). Raises :class:`ValueError`."""
        if not text.strip():
            return None
        match = _SPAN.match(text)
        if match is None:
            raise ValueError(f"not a span of hours such as 21:00-08:00: {text!r}")
        hour, minute, end_hour, end_minute = (int(part) for part in match.groups())
        if hour > 23 or end_hour > 23 or minute > 59 or end_minute > 59:
            raise ValueError(f"not times of day (00:00 to 23:59): {text!r}")
        start, end = time(hour, minute), time(end_hour, end_minute)
        if start == end:
            raise ValueError(f"quiet hours must start and end at different times: {text!r}")
        return cls(start, end)

    def end_after(self, moment: datetime, timezone: tzinfo) -> datetime | None:
        """When the quiet hours ``moment`` falls in end (UTC); ``None`` when it falls outside them."""
        local = moment.astimezone(timezone)
        now = local.time().replace(tzinfo=None)
        day = local.date()
        if self.start < self.end:
            if not self.start <= now < self.end:
                return None
        elif now >= self.start:
            day += timedelta(days=1)
        elif now >= self.end:
            return None
        return datetime.combine(day, self.end, tzinfo=timezone).astimezone(UTC)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"
