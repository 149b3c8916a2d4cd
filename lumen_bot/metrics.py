"""Counters for ``GET /metrics`` (Prometheus): who understood each message, LLM tokens and latency,
outgoing messages given up, shipping updates queued and skipped.

Counts only — never a message's content or anything that names a shopper."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from lumen_bot.domain.tickets import DeliveryStatus
from lumen_bot.domain.understanding import Explanation


class UnderstandingMetrics:
    """Implements the ``UnderstandingMonitor`` port on a Prometheus registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.answers = Counter(
            "lumen_understanding",
            "Messages understood, by the understander that answered and why.",
            ["understander", "reason"],
            registry=registry,
        )
        self.tokens = Counter(
            "lumen_llm_tokens",
            "Tokens of LLM calls, prompt (in) and completion (out).",
            ["direction"],
            registry=registry,
        )
        self.latency = Histogram(
            "lumen_llm_call_seconds",
            "Duration of LLM calls, re-asks included, by outcome.",
            ["outcome"],
            buckets=(0.25, 0.5, 1, 2, 3, 4, 6, 10),
            registry=registry,
        )

    def record(self, explanation: Explanation, *, called_llm: bool, outcome: str) -> None:
        self.answers.labels(explanation.understander, explanation.reason).inc()
        if called_llm:
            self.tokens.labels("in").inc(explanation.tokens_in)
            self.tokens.labels("out").inc(explanation.tokens_out)
            self.latency.labels(outcome).observe(explanation.seconds)


class OutboxMetrics:
    """Implements the ``OutboxMonitor`` port on a Prometheus registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages_given_up = Counter(
            "lumen_outbox_given_up",
            "Outgoing messages the outbox stopped trying to send (failed: out of retries; dropped: refused"
            " for good), by the provider API they were for.",
            ["via", "status"],
            registry=registry,
        )

    def given_up(self, via: str, status: DeliveryStatus) -> None:
        self.messages_given_up.labels(via, status.value).inc()


class UpdateMetrics:
    """Implements the ``UpdateMonitor`` port on a Prometheus registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.updates_queued = Counter(
            "lumen_updates_queued",
            "Proactive shipping updates stored in the outbox, by channel and milestone.",
            ["channel", "milestone"],
            registry=registry,
        )
        self.updates_skipped = Counter(
            "lumen_updates_skipped",
            "Milestones of subscribed orders deliberately not told (superseded, opted out, no WhatsApp"
            " template …), by channel and reason.",
            ["channel", "reason"],
            registry=registry,
        )

    def queued(self, channel: str, milestone: str) -> None:
        self.updates_queued.labels(channel, milestone).inc()

    def skipped(self, channel: str, reason: str) -> None:
        self.updates_skipped.labels(channel, reason).inc()
