"""The shop's figures over a period, as the dashboard and ``GET /api/stats`` show them: the period's days
in the shop's timezone, the counts the store found, and what follows from them (rates, percentiles, the
LLM's estimated cost). Pure: the store fills :class:`Overview` with counts, nothing here reads a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

SETTLING = timedelta(hours=1)


class Period(StrEnum):
    TODAY = "today"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def days(self) -> int:
        return {Period.TODAY: 1, Period.WEEK: 7, Period.MONTH: 30}[self]


@dataclass(frozen=True, slots=True)
class Window:
    """A period's local days and where each starts, as UTC instants: a day of a DST change is 23 or 25
    hours long, so the store buckets by these boundaries rather than by a fixed 24 hours."""

    period: Period
    days: tuple[date, ...]
    starts: tuple[datetime, ...]
    """When each day starts (UTC), one per day."""
    until: datetime
    """When the last day ends (UTC)."""
    timezone: str
    now: datetime

    @property
    def since(self) -> datetime:
        return self.starts[0]

    def ends(self, index: int) -> datetime:
        return self.starts[index + 1] if index + 1 < len(self.starts) else self.until

    @property
    def settled(self) -> int:
        """How many of the first days are over and settled: a message is logged seconds after it arrives,
        or minutes when another worker takes over a crashed one's, so a day is left an hour to settle."""
        return sum(1 for index in range(len(self.days)) if self.ends(index) + SETTLING <= self.now)


def window(period: Period, now: datetime, timezone: str) -> Window:
    """The ``period`` ending with the shop's today (``now`` in ``timezone``)."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    days = tuple(today - timedelta(days=back) for back in range(period.days - 1, -1, -1))

    def start(day: date) -> datetime:
        return datetime.combine(day, time(), zone).astimezone(UTC)

    starts = tuple(start(day) for day in days)
    return Window(period, days, starts, start(today + timedelta(days=1)), timezone, now)


def percentile(histogram: Mapping[int, int], share: float) -> int | None:
    """The smallest value with at least ``share`` of the counted values at or below it (nearest rank);
    ``None`` for no values. ``histogram``: value → how many times it occurred."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, -(-round(share * total * 1000) // 1000))  # ceil, without float noise at exact ranks
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


@dataclass(frozen=True, slots=True)
class ChannelDay:
    day: date
    channel: str
    conversations: int
    messages: int


@dataclass(frozen=True, slots=True)
class ReplyTimes:
    messages: int
    p50_ms: int | None
    p95_ms: int | None

    @classmethod
    def of(cls, histogram: Mapping[int, int]) -> ReplyTimes:
        return cls(sum(histogram.values()), percentile(histogram, 0.5), percentile(histogram, 0.95))


@dataclass(frozen=True, slots=True)
class Prices:
    """What the LLM costs per 1,000 tokens (``LUMEN_LLM_PRICE_PER_1K_INPUT`` / ``_OUTPUT``)."""

    per_1k_input: float | None = None
    per_1k_output: float | None = None


@dataclass(frozen=True, slots=True)
class Overview:
    """A period's figures. Conversations count once per period however many days they span; a day's
    conversations are those with a message that day."""

    window: Window
    activity: tuple[ChannelDay, ...]
    conversations: int
    messages: int
    answered_conversations: int
    """Conversations that got an order answer."""
    automated_conversations: int
    """Conversations that got an order answer and opened no ticket in the period."""
    verifications: Mapping[str, int]
    """``passed``, ``failed``, ``locked`` → turns."""
    tickets_by_category: Mapping[str, int]
    tickets_by_status: Mapping[str, int]
    """Of the tickets opened in the period."""
    deliveries: Mapping[str, Mapping[str, int]]
    """``shoppers`` (replies and updates) and ``team`` (tickets to sinks) → outbox status → messages."""
    understanders: Mapping[str, int]
    """``rules``, ``model``, ``llm`` → messages understood."""
    tokens_in: int
    tokens_out: int
    reply_times: Mapping[str, ReplyTimes]
    """Per channel."""
    updates: Mapping[str, int]
    """Proactive updates queued in the period, by the outbox's status (``sent``, ``pending`` …)."""
    prices: Prices = field(default_factory=Prices)

    @property
    def automation_rate(self) -> float | None:
        return self.automated_conversations / self.conversations if self.conversations else None

    @property
    def offline_share(self) -> float | None:
        understood = sum(self.understanders.values())
        if not understood:
            return None
        return (understood - self.understanders.get("llm", 0)) / understood

    @property
    def llm_cost(self) -> float | None:
        """The estimated cost of the period's LLM calls; ``None`` while no price is set."""
        if self.prices.per_1k_input is None and self.prices.per_1k_output is None:
            return None
        return (
            self.tokens_in * (self.prices.per_1k_input or 0)
            + self.tokens_out * (self.prices.per_1k_output or 0)
        ) / 1000

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted({row.channel for row in self.activity}))

    def per_day(self, channel: str, figure: Literal["conversations", "messages"]) -> list[int]:
        """``figure`` (``conversations`` or ``messages``) of ``channel`` on each day of the period."""
        found = {row.day: getattr(row, figure) for row in self.activity if row.channel == channel}
        return [found.get(day, 0) for day in self.window.days]

    def as_json(self) -> dict[str, Any]:
        found = {(row.day, row.channel): row for row in self.activity}
        none = ChannelDay(date.min, "", 0, 0)
        return {
            "period": self.window.period.value,
            "timezone": self.window.timezone,
            "since": self.window.since.isoformat(),
            "until": self.window.until.isoformat(),
            "conversations": self.conversations,
            "messages": self.messages,
            "per_day": [
                {
                    "day": day.isoformat(),
                    "channels": {
                        channel: {
                            "conversations": found.get((day, channel), none).conversations,
                            "messages": found.get((day, channel), none).messages,
                        }
                        for channel in self.channels
                    },
                }
                for day in self.window.days
            ],
            "automation": {
                "answered_conversations": self.answered_conversations,
                "automated_conversations": self.automated_conversations,
                "rate": self.automation_rate,
            },
            "verification": {
                name: self.verifications.get(name, 0) for name in ("passed", "failed", "locked")
            },
            "tickets": {
                "by_category": dict(self.tickets_by_category),
                "by_status": dict(self.tickets_by_status),
            },
            "deliveries": {name: dict(counts) for name, counts in self.deliveries.items()},
            "understanding": {
                "by_understander": dict(self.understanders),
                "offline_share": self.offline_share,
                "llm_tokens_in": self.tokens_in,
                "llm_tokens_out": self.tokens_out,
                "llm_cost_estimate": self.llm_cost,
            },
            "reply_time_ms": {
                channel: {"messages": times.messages, "p50": times.p50_ms, "p95": times.p95_ms}
                for channel, times in sorted(self.reply_times.items())
            },
            "updates": dict(self.updates),
        }
