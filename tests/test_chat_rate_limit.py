"""The rate limit of ``POST /api/chat``: a budget per session, a higher ceiling per client address, shared
through redis by every process, and chat that goes on while the limit's storage is down."""

from __future__ import annotations

import logging
import socket
import time
import uuid

import httpx
import pytest
from fastapi import HTTPException
from limits import parse
from limits.errors import StorageError
from limits.strategies import MovingWindowRateLimiter

from channels.app import create_app
from channels.rate_counts import SWEEP_SECONDS, SweptMemoryStorage
from channels.web import RateLimit
from lumen_bot.settings import load_settings
from tests.conftest import REDIS_URL, LiveServer

SHOPPER = "203.0.113.7"
# The limit counts outside the database: one database is enough.
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def limited(settings, orders, clock):
    """An app whose sessions may send 3 messages a minute."""

    def limited(**limits: str):
        return create_app(
            settings.model_copy(update={"chat_rate_limit": "3/minute", **limits}), engine=orders, clock=clock
        )

    return limited


class Shopper:
    """One browser session talking to ``app`` from ``address``."""

    def __init__(self, app, address: str = SHOPPER) -> None:
        self.transport = httpx.ASGITransport(app=app, client=(address, 40000))
        self.session: str | None = None

    async def say(self, text: str = "hi") -> int:
        async with httpx.AsyncClient(transport=self.transport, base_url="http://lumen") as client:
            response = await client.post("/api/chat", json={"session": self.session, "text": text})
        if response.status_code == 200:
            self.session = response.json()["session"]
        return response.status_code


@on_sqlite
@pytest.mark.anyio
async def test_two_sessions_from_one_address_each_have_their_own_budget(limited):
    app = limited()
    first, second = Shopper(app), Shopper(app)

    first_answers = [await first.say() for _ in range(4)]
    second_answers = [await second.say() for _ in range(3)]

    # The first message, which starts the session, counts toward its budget too.
    assert first_answers == [200, 200, 200, 429]
    assert second_answers == [200, 200, 200]


@on_sqlite
@pytest.mark.anyio
async def test_one_address_cannot_open_sessions_endlessly(limited):
    app = limited(chat_rate_limit_per_client="5/minute")

    answers = [await Shopper(app).say() for _ in range(6)]
    made_up = Shopper(app)
    made_up.session = "a-made-up-token"

    assert answers == [200] * 5 + [429]
    assert await made_up.say() == 429
    assert await Shopper(app, address="198.51.100.23").say() == 200


@on_sqlite
@pytest.mark.anyio
async def test_the_ceiling_per_address_is_ten_sessions_by_default(limited):
    app = limited(chat_rate_limit="1/minute")

    answers = [await Shopper(app).say() for _ in range(11)]

    assert answers == [200] * 10 + [429]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@on_sqlite
def test_chat_goes_on_while_the_limits_storage_is_down_and_readiness_says_so(settings, orders, clock, caplog):
    down = settings.model_copy(update={"rate_limit_storage": f"redis://127.0.0.1:{closed_port()}"})
    with (
        caplog.at_level(logging.WARNING, logger="channels.web"),
        LiveServer(create_app(down, engine=orders, clock=clock)) as http,
    ):
        first = http.post("/api/chat", json={"session": None, "text": "Where's my order?"})
        session = first.json()["session"]
        later = [http.post("/api/chat", json={"session": session, "text": "1042"}) for _ in range(3)]
        ready = http.get("/readyz")

    assert [first.status_code, *(answer.status_code for answer in later)] == [200] * 4
    assert "email" in later[0].json()["messages"][0]["text"]
    outage = [record for record in caplog.records if "does not answer" in record.getMessage()]
    assert len(outage) == 1
    assert ready.status_code == 503
    assert any("LUMEN_RATE_LIMIT_STORAGE" in reason for reason in ready.json()["reasons"])


def test_counting_resumes_when_the_storage_answers_again(monkeypatch, caplog):
    limit = RateLimit("2/minute")
    counted = limit._limiter.hit

    def refused(*_args: object) -> bool:
        raise StorageError(ConnectionError("refused"))

    monkeypatch.setattr("channels.web._RETRY_STORAGE_AFTER_SECONDS", 0)
    monkeypatch.setattr(limit._limiter, "hit", refused)
    with caplog.at_level(logging.INFO, logger="channels.web"):
        for _ in range(5):
            limit.session("token")  # let through, uncounted
        monkeypatch.setattr(limit._limiter, "hit", counted)
        limit.session("token")
        limit.session("token")
        with pytest.raises(HTTPException) as refused_now:
            limit.session("token")

    assert refused_now.value.status_code == 429
    messages = [record.getMessage() for record in caplog.records]
    assert sum("does not answer" in message for message in messages) == 1
    assert sum("answers again" in message for message in messages) == 1


@pytest.mark.skipif(not REDIS_URL, reason="needs LUMEN_TEST_REDIS_URL (CI sets it)")
def test_processes_sharing_redis_share_each_sessions_budget():
    settings = load_settings(chat_rate_limit="3/minute", rate_limit_storage=REDIS_URL)
    one, other = (RateLimit(settings.chat_rate_limit, settings.rate_limit_storage) for _ in range(2))
    session = uuid.uuid4().hex

    assert one.reachable() and other.reachable()
    one.session(session)
    other.session(session)
    one.session(session)
    with pytest.raises(HTTPException) as refused:
        other.session(session)
    assert refused.value.status_code == 429


def test_memory_counts_arm_one_sweep_a_second_however_many_messages_arrive():
    storage = SweptMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    limiter.hit(parse("100/second"), "chat", "session")
    armed = storage.timer

    for _ in range(50):
        limiter.hit(parse("100/second"), "chat", "session")

    assert storage.timer is armed
    assert armed.interval == SWEEP_SECONDS


def test_memory_counts_past_their_window_are_dropped_by_the_sweep():
    storage = SweptMemoryStorage(sweep_seconds=0.05)
    limiter = MovingWindowRateLimiter(storage)
    limiter.hit(parse("5/second"), "chat", "session")

    time.sleep(1.2)
    limiter.hit(parse("5/second"), "chat", "other session")  # arms the next sweep
    time.sleep(0.5)

    assert [key.split("/")[2] for key in storage.events] == ["other session"]


def test_a_slower_sweep_counts_the_same_moving_window():
    storage = SweptMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    budget = parse("3/second")

    answers = [limiter.hit(budget, "chat", "session") for _ in range(4)]
    time.sleep(1.05)
    answers.append(limiter.hit(budget, "chat", "session"))

    assert answers == [True, True, True, False, True]
