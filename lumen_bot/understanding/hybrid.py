"""Choosing who understands a message: the rules when they are sure, the LLM for the rest.

Hybrid mode (the default with a model) asks the LLM only about what the rules are unsure of; ``llm`` mode
asks it about every message. Either way a failed call falls back to the rules' answer, so an LLM outage
costs understanding quality, never an answer. Each message is counted and each LLM call logged with its
tokens and latency — never with the message's content.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram

from lumen_bot.ports import Understander
from lumen_bot.understanding.llm import LlmFailed, LlmUnderstander
from lumen_bot.understanding.model import Understanding
from lumen_bot.understanding.rules import RuleUnderstander

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Explanation:
    """An understanding, who gave it and why, and what it cost."""

    understanding: Understanding
    understander: Literal["rules", "llm"]
    reason: str
    seconds: float
    tokens_in: int = 0
    tokens_out: int = 0


class UnderstandingMetrics:
    """Counters for ``GET /metrics``: who answered, why the LLM failed, tokens and latency of calls."""

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


class HybridUnderstander:
    """The rules, and an LLM for messages the rules are unsure of (or for all, with ``always_llm``)."""

    def __init__(
        self,
        rules: RuleUnderstander,
        llm: LlmUnderstander,
        *,
        always_llm: bool = False,
        metrics: UnderstandingMetrics | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._rules = rules
        self._llm = llm
        self._always_llm = always_llm
        self._metrics = metrics or UnderstandingMetrics(CollectorRegistry())
        self._timer = timer

    async def understand(self, text: str, *, last_question: str | None = None) -> Understanding:
        return (await self.explain(text, last_question=last_question)).understanding

    async def explain(self, text: str, *, last_question: str | None = None) -> Explanation:
        started = self._timer()
        reading = self._rules.read(text, last_question=last_question)
        if reading.sure and not self._always_llm:
            explanation = Explanation(reading.understanding, "rules", "rules sure", self._timer() - started)
            self._metrics.record(explanation, called_llm=False, outcome="")
            return explanation
        try:
            answer = await self._llm.ask(text, last_question=last_question)
        except LlmFailed as failure:
            explanation = Explanation(
                reading.understanding,
                "rules",
                f"llm failed: {failure.reason}",
                failure.seconds,
                failure.tokens_in,
                failure.tokens_out,
            )
            log.warning("LLM understanding failed; the rules answer", extra=self._call_fields(explanation))
            self._metrics.record(explanation, called_llm=True, outcome=failure.reason)
            return explanation
        explanation = Explanation(
            answer.understanding,
            "llm",
            "always llm" if self._always_llm else "rules unsure",
            answer.seconds,
            answer.tokens_in,
            answer.tokens_out,
        )
        log.info(
            "LLM understanding",
            extra={
                **self._call_fields(explanation),
                "intent": answer.understanding.intent.value,
                "language": answer.understanding.language,
                "dropped": ",".join(answer.dropped) or None,
            },
        )
        self._metrics.record(explanation, called_llm=True, outcome="ok")
        return explanation

    def _call_fields(self, explanation: Explanation) -> dict[str, object]:
        return {
            "model": self._llm.model,
            "reason": explanation.reason,
            "latency_ms": round(1000 * explanation.seconds, 1),
            "tokens_in": explanation.tokens_in,
            "tokens_out": explanation.tokens_out,
        }


async def explain(understander: Understander, text: str, *, last_question: str | None = None) -> Explanation:
    """Who understood ``text`` and why, for any understander (``lumen understand --explain``)."""
    if isinstance(understander, HybridUnderstander):
        return await understander.explain(text, last_question=last_question)
    started = time.perf_counter()
    if isinstance(understander, RuleUnderstander):
        # Whether hybrid mode would ask an LLM about this message.
        reading = understander.read(text, last_question=last_question)
        reason = "rules sure" if reading.sure else "rules unsure (no LLM configured)"
        return Explanation(reading.understanding, "rules", reason, time.perf_counter() - started)
    understanding = await understander.understand(text, last_question=last_question)
    return Explanation(understanding, "rules", "rules only", time.perf_counter() - started)
