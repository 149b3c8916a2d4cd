"""The composition root: configuration it cannot use is refused by name, and shutdown leaves nothing
running or open — background work is awaited, every client is closed."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from pydantic import SecretStr

from channels.app import build_order_source, build_runtime
from lumen_bot.services.background import Background
from lumen_bot.settings import ConfigurationError


@pytest.mark.parametrize(
    ("source", "variable"),
    [
        ("shopify", "LUMEN_SHOPIFY_STORE_URL"),
        ("woocommerce", "LUMEN_WOOCOMMERCE_URL"),
        ("http", "LUMEN_ORDER_HTTP_URL"),
    ],
)
def test_a_live_order_source_without_its_address_is_refused_naming_the_variable(settings, source, variable):
    # Settings check this when they are read; a copy made in code skips those checks, and the root
    # still names what is missing rather than failing somewhere later.
    unchecked = settings.model_copy(update={"order_source": source})

    with pytest.raises(ConfigurationError, match=variable):
        build_order_source(unchecked, None)  # type: ignore[arg-type]


def test_closing_the_resources_closes_a_live_sources_http_client(settings, provider_api):
    backend = settings.model_copy(update={"order_source": "http", "order_http_url": provider_api.url})

    async def scenario() -> None:
        resources = AsyncExitStack()
        source = build_order_source(backend, None, resources)  # type: ignore[arg-type]
        await resources.aclose()
        await source.find("1042")

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(scenario())


def test_closing_the_runtime_closes_the_model_client(settings, orders, model_server):
    llm = settings.model_copy(
        update={
            "llm_model": "stand-in-model",
            "llm_base_url": model_server.base_url,
            "llm_api_key": SecretStr("k"),
        }
    )

    async def scenario() -> None:
        runtime = build_runtime(llm, engine=orders)
        await runtime.aclose()
        await runtime.understander.understand("a message the rules are unsure of, asdf qwerty")

    asyncio.run(scenario())
    # The model was not reached: a closed client refuses to send, and the rules answer instead.
    assert model_server.requests == []


def test_stopping_lets_a_running_job_finish_and_cancels_the_loops():
    finished: list[str] = []

    async def late_reply() -> None:
        await asyncio.sleep(0.05)
        finished.append("reply sent")

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            finished.append("loop ended")

    async def scenario() -> None:
        background = Background()
        background.loop(forever())
        background.job(late_reply())
        await asyncio.sleep(0)
        await background.stop(grace_seconds=5)

    asyncio.run(scenario())
    assert finished == ["reply sent", "loop ended"]


def test_a_job_still_running_after_the_grace_period_is_cancelled():
    cancelled: list[bool] = []

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def scenario() -> None:
        background = Background()
        background.job(stuck())
        await asyncio.sleep(0)
        await background.stop(grace_seconds=0.01)

    asyncio.run(scenario())
    assert cancelled == [True]
