"""The composition root's understanders (``channels/app.py`` builds the rest): the offline one alone, or
with an LLM. Apart from the server so that ``lumen understand`` builds one without importing FastAPI or
SQLAlchemy; the LLM's stack (openai, instructor) and the metrics are imported only when an LLM is
configured."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from lumen_bot.domain.linear_model import ModelFormatError
from lumen_bot.domain.rules import RuleUnderstander
from lumen_bot.ports import ExplainingUnderstander
from lumen_bot.services.hybrid import HybridUnderstander
from lumen_bot.services.offline_understanding import TrainedUnderstander
from lumen_bot.settings import ConfigurationError, Settings, required
from lumen_bot.trained.language import FastTextLanguages
from lumen_bot.trained.model_file import load_understanding_model

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from lumen_bot.llm.extractor import LlmUnderstander


def build_understander(
    settings: Settings, metrics: CollectorRegistry | None = None, resources: AsyncExitStack | None = None
) -> ExplainingUnderstander:
    """The offline understander (the trained model and the rules) alone, or with an LLM for what it is
    unsure of (hybrid) or for everything (llm).

    Raises :class:`ConfigurationError` when the shipped model or the prompt files are missing or invalid:
    better at start-up than on a shopper's message. The LLM's client is closed with ``resources``."""
    offline = build_offline_understander(settings)
    if settings.understanding_mode == "rules":
        return offline
    from prometheus_client import CollectorRegistry

    from lumen_bot.metrics import UnderstandingMetrics

    llm = build_llm_understander(settings)
    if resources is not None:
        resources.push_async_callback(llm.aclose)
    return HybridUnderstander(
        offline,
        llm,
        monitor=UnderstandingMetrics(metrics or CollectorRegistry()),
        always_llm=settings.understanding_mode == "llm",
    )


def build_offline_understander(settings: Settings) -> TrainedUnderstander:
    try:
        model = load_understanding_model()
    except ModelFormatError as error:
        raise ConfigurationError(f"the installed package is broken: {error}") from error
    return TrainedUnderstander(RuleUnderstander(settings.order_number_pattern), model, FastTextLanguages())


def build_llm_understander(settings: Settings) -> LlmUnderstander:
    # Imported only when an LLM is configured: openai and instructor take a second to import, which every
    # CLI command and every worker's start-up would pay for nothing.
    from lumen_bot.llm.extractor import LlmUnderstander, openai_client
    from lumen_bot.llm.prompts import PromptError, load_prompts
    from lumen_bot.logs import silence_model_output

    silence_model_output()
    try:
        prompts = load_prompts(settings.prompts_dir)
    except PromptError as error:
        raise ConfigurationError(f"the prompt files (LUMEN_PROMPTS_DIR) are not usable: {error}") from error
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LlmUnderstander(
        openai_client(
            base_url=settings.llm_base_url,
            api_key=api_key,
            mode=settings.llm_mode,
            timeout_seconds=settings.llm_timeout_seconds,
        ),
        model=required(settings.llm_model, "LUMEN_LLM_MODEL"),
        prompts=prompts,
        shop_name=settings.shop_name,
        timeout_seconds=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        temperature=settings.llm_temperature,
    )
