"""Hybrid understanding: the offline understander answers when sure, the LLM the rest, the offline
understander again when it fails."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from channels.understanders import build_offline_understander, build_understander
from lumen_bot.domain.understanding import Explanation, Intent
from lumen_bot.services.hybrid import HybridUnderstander
from lumen_bot.settings import Settings
from tests.conftest import extraction, http_error, prose, slow


def explain(settings: Settings, text: str, registry: CollectorRegistry | None = None) -> Explanation:
    understander = build_understander(settings, registry)
    assert isinstance(understander, HybridUnderstander)
    return asyncio.run(understander.explain(text))


def test_a_model_makes_hybrid_the_default(llm_settings):
    assert llm_settings.understanding_mode == "hybrid"
    assert isinstance(build_understander(llm_settings), HybridUnderstander)


@pytest.mark.parametrize(
    "text",
    ["Where's my stuff?", "Order 1042 status", "Can I get the tracking link?", "I want a refund", "thanks!"],
)
def test_messages_the_offline_understander_is_sure_of_never_reach_the_llm(llm_settings, model_server, text):
    explanation = explain(llm_settings, text)

    assert explanation.understander == "model" and explanation.reason == "model sure"
    assert model_server.requests == []


@pytest.mark.parametrize(
    "text",
    [
        # Neither of the model's five languages, and a message long enough to say several things.
        "Dov'è il mio ordine 58213?",
        "Buongiorno, dove si trova il mio pacco?",
        "I wrote to you last week about the thing I bought for my sister's birthday and I have been checking"
        " the mailbox every single day since then, and my sister's party is on Saturday, so I am getting"
        " quite worried about whether everything is alright with it and what I should tell her",
    ],
)
def test_messages_the_offline_understander_is_unsure_of_go_to_the_llm(llm_settings, model_server, text):
    model_server.answer(extraction(intent="order_status"))

    explanation = explain(llm_settings, text)

    assert explanation.understander == "llm" and explanation.reason == "model unsure"
    assert explanation.understanding.intent == Intent.ORDER_STATUS
    assert len(model_server.requests) == 1


def test_llm_mode_asks_the_llm_about_every_message(llm_settings, model_server):
    model_server.answer(extraction(intent="order_status", order_number="1042"))

    explanation = explain(llm_settings.model_copy(update={"understanding": "llm"}), "Order 1042 status")

    assert explanation.understander == "llm" and explanation.reason == "always llm"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (http_error(503), "llm failed: http_503"),
        (prose("I am not sure what you mean."), "llm failed: invalid_output"),
        (slow(1.5, extraction(intent="unknown")), "llm failed: timeout"),
    ],
)
def test_a_failing_llm_falls_back_to_the_offline_answer(llm_settings, model_server, answer, reason):
    model_server.default = answer
    settings = llm_settings.model_copy(update={"llm_timeout_seconds": 0.4, "llm_mode": "json"})

    text = "Ordine #1042 arrivato senza il caricatore"

    explanation = explain(settings, text)

    assert explanation.understander == "model" and explanation.reason == reason
    assert explanation.understanding == build_offline_understander(settings).read(text).understanding
    assert explanation.understanding.order_number == "1042"


def test_a_failure_is_logged_without_the_message(llm_settings, model_server, caplog):
    model_server.default = http_error(500)
    caplog.set_level(logging.INFO)

    explain(llm_settings, "Ordine 1042 arrivato senza il caricatore, scrivetemi a ana@example.es")

    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "LLM understanding failed" in logged and "http_500" in logged
    for content in ("caricatore", "1042", "ana@example.es"):
        assert content not in logged


def test_each_call_is_logged_with_tokens_and_latency_but_not_the_message(llm_settings, model_server, caplog):
    model_server.answer(extraction(intent="order_status", language="it"))
    caplog.set_level(logging.INFO)

    explain(llm_settings, "Dove si trova la mia spedizione?")

    [call] = [record for record in caplog.records if record.getMessage() == "LLM understanding"]
    assert (call.tokens_in, call.tokens_out, call.model) == (120, 18, "stand-in-model")
    assert call.latency_ms > 0 and call.language == "it"
    assert "spedizione" not in str(call.__dict__)


def test_answers_failures_tokens_and_latency_are_counted(llm_settings, model_server):
    registry = CollectorRegistry()
    understander = build_understander(llm_settings, registry)
    model_server.answer(extraction(intent="order_status"), http_error(500))

    async def three_messages() -> None:
        for text in ("Order 1042 status", "Dove si trova la mia spedizione?", "Dov'è il mio ordine?"):
            await understander.understand(text)

    asyncio.run(three_messages())

    def count(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert count("lumen_understanding_total", understander="model", reason="model sure") == 1
    assert count("lumen_understanding_total", understander="llm", reason="model unsure") == 1
    assert count("lumen_understanding_total", understander="model", reason="llm failed: http_500") == 1
    assert count("lumen_llm_tokens_total", direction="in") == 120
    assert count("lumen_llm_call_seconds_count", outcome="ok") == 1
    assert count("lumen_llm_call_seconds_count", outcome="http_500") == 1
