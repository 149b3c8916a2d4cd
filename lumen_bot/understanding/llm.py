"""Understanding with an LLM through instructor: typed, bounded in time, grounded in the shopper's text.

The model gets the prompts and one shopper message (with the bot's last question), and must answer with
an :class:`Understanding`; instructor validates the answer and asks again, a bounded number of times,
when it is not valid. Every failure — timeout, connection, HTTP error, invalid output — raises
:class:`LlmFailed` with a short reason, never the message's content.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import instructor
import openai
from instructor.core import InstructorError
from pydantic import ValidationError

from lumen_bot.settings import Settings
from lumen_bot.understanding.grounding import ground
from lumen_bot.understanding.model import Understanding
from lumen_bot.understanding.prompts import Prompts

log = logging.getLogger(__name__)
# instructor logs failed attempts with the model's output, which may quote the shopper: Lumen logs each
# call itself, without content.
logging.getLogger("instructor").setLevel(logging.CRITICAL)

MODES = {
    "tools": instructor.Mode.TOOLS,
    "json": instructor.Mode.JSON,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "md_json": instructor.Mode.MD_JSON,
}


class LlmFailed(Exception):
    """The model gave no valid answer in time. ``reason`` is short and holds no message content."""

    def __init__(self, reason: str, *, seconds: float, tokens_in: int = 0, tokens_out: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seconds = seconds
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out


@dataclass(frozen=True, slots=True)
class LlmAnswer:
    """One call's understanding (grounded in the text), what it cost and what was dropped from it."""

    understanding: Understanding
    seconds: float
    tokens_in: int
    tokens_out: int
    dropped: tuple[str, ...]


class LlmUnderstander:
    """Asks an OpenAI-compatible model for the :class:`Understanding` of one message."""

    def __init__(
        self,
        client: instructor.AsyncInstructor,
        *,
        model: str,
        prompts: Prompts,
        shop_name: str,
        timeout_seconds: float,
        max_retries: int,
        temperature: float = 0.0,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._client = client
        self._model = model
        self._prompts = prompts
        self._shop_name = shop_name
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._temperature = temperature
        self._timer = timer

    @property
    def model(self) -> str:
        return self._model

    async def ask(self, text: str, *, last_question: str | None = None) -> LlmAnswer:
        """The model's understanding of ``text``; raises :class:`LlmFailed`."""
        messages = self._prompts.messages(shop_name=self._shop_name, text=text, last_question=last_question)
        started = self._timer()
        try:
            async with asyncio.timeout(self._timeout):
                understanding, completion = await self._client.chat.completions.create_with_completion(
                    model=self._model,
                    messages=messages,  # type: ignore[arg-type]
                    response_model=Understanding,
                    max_retries=self._max_retries,
                    temperature=self._temperature,
                )
        except Exception as error:  # classified below; anything else would be a bug in instructor
            seconds = self._timer() - started
            tokens_in, tokens_out = _tokens(getattr(error, "total_usage", None))
            reason = _reason(error)
            if reason is None:
                raise
            raise LlmFailed(reason, seconds=seconds, tokens_in=tokens_in, tokens_out=tokens_out) from error
        seconds = self._timer() - started
        tokens_in, tokens_out = _tokens(getattr(completion, "usage", None))
        grounded, dropped = ground(understanding, text)
        return LlmAnswer(grounded, seconds, tokens_in, tokens_out, dropped)


def build_llm_understander(settings: Settings, prompts: Prompts) -> LlmUnderstander:
    assert settings.llm_model, "an LLM understander needs LUMEN_LLM_MODEL"
    client = openai.AsyncOpenAI(
        base_url=settings.llm_base_url,
        # Local servers (Ollama, llama.cpp) take any key; the client insists on one.
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed",
        timeout=settings.llm_timeout_seconds,
        # Re-asking is instructor's; a second try of a slow call would not fit the time anyway.
        max_retries=0,
    )
    return LlmUnderstander(
        instructor.from_openai(client, mode=MODES[settings.llm_mode]),
        model=settings.llm_model,
        prompts=prompts,
        shop_name=settings.shop_name,
        timeout_seconds=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        temperature=settings.llm_temperature,
    )


def _reason(error: BaseException) -> str | None:
    """A short name for why the call failed, or ``None`` for an error that is not the model's."""
    if isinstance(error, TimeoutError):
        return "timeout"
    cause = error.__cause__ if isinstance(error, InstructorError) and error.__cause__ else error
    if isinstance(cause, openai.APITimeoutError):
        return "timeout"
    if isinstance(cause, openai.APIConnectionError):
        return "connection"
    if isinstance(cause, openai.APIStatusError):
        return f"http_{cause.status_code}"
    if isinstance(cause, InstructorError | ValidationError | ValueError | openai.OpenAIError):
        return "invalid_output"
    return None


def _tokens(usage: Any) -> tuple[int, int]:
    return (getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0)
