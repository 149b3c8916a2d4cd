"""Understanding with an LLM through instructor: typed, bounded in time, grounded in the shopper's text.

The model gets the prompts and one shopper message (with the bot's last question), and must answer with
an :class:`Understanding`; instructor validates the answer and asks again, a bounded number of times,
when it is not valid. Every failure — timeout, connection, HTTP error, invalid output — raises
:class:`LlmFailed` with a short reason, never the message's content.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import instructor
import openai
from instructor.core import InstructorError
from pydantic import ValidationError

from lumen_bot.domain.grounding import ground
from lumen_bot.domain.understanding import Question, Understanding
from lumen_bot.llm.prompts import Prompts
from lumen_bot.ports import LlmAnswer, LlmFailed

MODES = {
    "tools": instructor.Mode.TOOLS,
    "json": instructor.Mode.JSON,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "md_json": instructor.Mode.MD_JSON,
}


class LlmUnderstander:
    """Asks an OpenAI-compatible model for the :class:`Understanding` of one message (the
    ``LlmExtractor`` port)."""

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

    async def aclose(self) -> None:
        """Close the HTTP connections of the model's client."""
        await self._client.client.close()

    async def ask(self, text: str, *, last_question: Question | None = None) -> LlmAnswer:
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


def openai_client(
    *, base_url: str | None, api_key: str | None, mode: str, timeout_seconds: float
) -> instructor.AsyncInstructor:
    """An instructor client for any OpenAI-compatible server."""
    client = openai.AsyncOpenAI(
        base_url=base_url,
        # Local servers (Ollama, llama.cpp) take any key; the client insists on one.
        api_key=api_key or "not-needed",
        timeout=timeout_seconds,
        # Re-asking is instructor's; a second try of a slow call would not fit the time anyway.
        max_retries=0,
    )
    return instructor.from_openai(client, mode=MODES[mode])


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
