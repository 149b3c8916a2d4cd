"""GET /metrics: understanding counters and outgoing messages given up, in the Prometheus text format,
without personal data."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from channels.app import create_app
from tests.conftest import LiveServer, eventually, extraction


@pytest.fixture
def llm_app(llm_settings, orders, clock) -> FastAPI:
    return create_app(llm_settings, engine=orders, clock=clock)


def test_metrics_count_who_understood_each_message_and_the_llms_tokens(llm_app, model_server):
    model_server.answer(extraction(intent="order_status", language="de"))
    with LiveServer(llm_app) as http:
        http.post("/api/chat", json={"session": None, "text": "Order 1042 status"})
        http.post("/api/chat", json={"session": None, "text": "Dov'è il mio ordine? anna@example.de"})

        response = http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'lumen_understanding_total{reason="model sure",understander="model"} 1.0' in response.text
    assert 'lumen_understanding_total{reason="model unsure",understander="llm"} 1.0' in response.text
    assert 'lumen_llm_tokens_total{direction="out"} 18.0' in response.text
    # Names, labels and help texts, without the sample values (a timestamp may hold "1042" by chance).
    described = "\n".join(line.rsplit(" ", 1)[0] for line in response.text.splitlines())
    assert "anna" not in described and "1042" not in described


def test_without_a_model_metrics_answer_with_no_llm_series(http):
    response = http.get("/metrics")

    assert response.status_code == 200
    assert "lumen_llm" not in response.text


def test_metrics_count_outgoing_messages_given_up_by_provider_and_status(
    settings, orders, clock, provider_api
):
    provider_api.default = (400, {"error": "unexpected field"}, {})
    webhook = settings.model_copy(
        update={
            "ticket_webhook_url": f"{provider_api.url}/hooks",
            "ticket_webhook_secret": SecretStr("whsec-m"),
        }
    )
    with LiveServer(create_app(webhook, engine=orders, clock=clock)) as http:
        http.post("/api/chat", json={"session": None, "text": "I want a refund"})
        provider_api.wait_for(1)

        def counted() -> str | None:
            text = http.get("/metrics").text
            return text if "lumen_outbox_given_up_total{" in text else None

        response = eventually(counted)

    assert 'lumen_outbox_given_up_total{status="dropped",via="ticket_webhook"} 1.0' in response
