"""Choosing who understands a message: the offline understander when it is sure, the LLM for the rest.

Hybrid mode (the default with a model) asks the LLM only about what the offline understander (the trained
model and the rules) is unsure of; ``llm`` mode asks it about every message. Either way a failed call falls
back to the offline answer, so an LLM outage costs understanding quality, never an answer. Each message
is counted and each LLM call logged with its tokens and latency — never with the message's content.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from lumen_bot.domain.understanding import Explanation, Question, Understanding
from lumen_bot.ports import LlmExtractor, LlmFailed, RuleReader, UnderstandingMonitor

log = logging.getLogger(__name__)


class HybridUnderstander:
    """The offline understander, and an LLM for messages it is unsure of (or for all, with ``always_llm``)."""

    def __init__(
        self,
        rules: RuleReader,
        llm: LlmExtractor,
        *,
        monitor: UnderstandingMonitor,
        always_llm: bool = False,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._rules = rules
        self._llm = llm
        self._always_llm = always_llm
        self._monitor = monitor
        self._timer = timer

    async def understand(self, text: str, *, last_question: Question | None = None) -> Understanding:
        return (await self.explain(text, last_question=last_question)).understanding

    async def explain(self, text: str, *, last_question: Question | None = None) -> Explanation:
        started = self._timer()
        reading = self._rules.read(text, last_question=last_question)
        if reading.sure and not self._always_llm:
            explanation = Explanation(
                reading.understanding,
                "model",
                "model sure",
                self._timer() - started,
                confidence=reading.confidence,
            )
            self._monitor.record(explanation, called_llm=False, outcome="")
            return explanation
        try:
            answer = await self._llm.ask(text, last_question=last_question)
        except LlmFailed as failure:
            explanation = Explanation(
                reading.understanding,
                "model",
                f"llm failed: {failure.reason}",
                failure.seconds,
                failure.tokens_in,
                failure.tokens_out,
                reading.confidence,
            )
            log.warning(
                "LLM understanding failed; the offline understander answers",
                extra=self._call_fields(explanation),
            )
            self._monitor.record(explanation, called_llm=True, outcome=failure.reason)
            return explanation
        explanation = Explanation(
            answer.understanding,
            "llm",
            "always llm" if self._always_llm else "model unsure",
            answer.seconds,
            answer.tokens_in,
            answer.tokens_out,
            reading.confidence,
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
        self._monitor.record(explanation, called_llm=True, outcome="ok")
        return explanation

    def _call_fields(self, explanation: Explanation) -> dict[str, object]:
        return {
            "model": self._llm.model,
            "reason": explanation.reason,
            "latency_ms": round(1000 * explanation.seconds, 1),
            "tokens_in": explanation.tokens_in,
            "tokens_out": explanation.tokens_out,
        }
