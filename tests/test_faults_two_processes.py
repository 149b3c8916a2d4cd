"""Faults with two real server processes on one PostgreSQL database, as a shop runs Lumen with several
workers: what one process decides, the other must not undo."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select, text

from lumen_bot.store.tables import MessageRow, VerificationFailureRow
from tests.conftest import POSTGRES_URL
from tests.test_twilio import PUBLIC, Twilio, messages
from tests.test_twilio import SID as TWILIO_SID
from tests.test_twilio import TOKEN as TWILIO_TOKEN
from tests.test_whatsapp_cloud import (
    ACCESS_TOKEN,
    APP_SECRET,
    VERIFY_TOKEN,
    encode,
    messages_event,
    signature,
    text_message,
)

pytestmark = [
    pytest.mark.skipif(not POSTGRES_URL, reason="needs LUMEN_TEST_DATABASE_URL (CI sets it)"),
    # The processes share the test PostgreSQL, emptied for each test.
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
LUMEN = Path(sys.executable).with_name("lumen")

LIMIT_PER_ORDER = 10
GUESSES = 60
ADMIN_TOKEN = "admin-token-for-the-fault-tests"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVER_ENV = {
    "LUMEN_CHAT_RATE_LIMIT": "10000/minute",
    "LUMEN_VERIFY_MAX_FAILURES_PER_ORDER": str(LIMIT_PER_ORDER),
    "LUMEN_SUPPORT_CONTACT": "help@acme.example",
}


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """As the kernel's OOM killer or a crashed host would: no shutdown, no cleanup."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def start_servers(orders, tmp_path) -> Iterator[Callable[..., list[Server]]]:
    """Starts `lumen serve` processes on the test database, each on its own port, with extra settings."""
    started: list[Server] = []

    def start(count: int = 2, **settings: str) -> list[Server]:
        env = {"PATH": os.environ.get("PATH", ""), "LUMEN_DATABASE_URL": POSTGRES_URL or ""}
        env.update(SERVER_ENV)
        env.update({f"LUMEN_{name.upper()}": value for name, value in settings.items()})
        servers = []
        for _ in range(count):
            port = free_port()
            log = (tmp_path / f"server-{port}.log").open("wb")
            process = subprocess.Popen(
                [LUMEN, "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=log, stderr=log
            )
            servers.append(Server(f"http://127.0.0.1:{port}", process))
        started.extend(servers)
        for server in servers:
            wait_until_up(server.url)
        return servers

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.terminate()
    for server in started:
        server.process.wait(timeout=30)


@pytest.fixture
def servers(start_servers) -> list[str]:
    return [server.url for server in start_servers()]


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not start")


def guess(url: str, text: str) -> str:
    response = httpx.post(f"{url}/api/chat", json={"session": None, "text": text}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["messages"][0]["text"]


def test_a_burst_of_guesses_across_two_processes_records_no_more_than_the_limit(servers, orders):
    texts = [f"order 1042, email w{n}@attacker.example" for n in range(GUESSES)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=GUESSES) as pool:
        list(pool.map(guess, [servers[n % 2] for n in range(GUESSES)], texts))

    with orders.connect() as connection:
        failures = connection.execute(select(func.count()).select_from(VerificationFailureRow)).scalar()
    assert failures <= LIMIT_PER_ORDER
    right = guess(servers[0], "order 1042, email jane.doe@example.com")
    assert "1Z999AA10123456784" not in right
    assert "for your security I can't check again" in right


# --- Webhooks: accepted durably, answered once ------------------------------------------------------------

TWILIO = {
    "twilio_auth_token": TWILIO_TOKEN,
    "twilio_account_sid": TWILIO_SID,
    "public_base_url": PUBLIC,
}
WHATSAPP = {
    "whatsapp_app_secret": APP_SECRET,
    "whatsapp_verify_token": VERIFY_TOKEN,
    "whatsapp_access_token": ACCESS_TOKEN,
}
# Short, so that a message a killed worker held is taken over within the test's patience.
LEASE = {"inbox_lease_seconds": "2"}


@contextmanager
def locked(engine: Engine, *tables: str) -> Iterator[None]:
    """Another session holds ``tables``: every read and write of them waits, as on a stalled server."""
    blocker = engine.connect()
    blocker.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE"))
    try:
        yield
    finally:
        blocker.rollback()
        blocker.close()


def twilio_at(url: str) -> Twilio:
    return Twilio(httpx.Client(base_url=url, timeout=30))


def meta_delivers(url: str, text_body: str) -> httpx.Response:
    body = encode(messages_event(text_message(text_body)))
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)}
    return httpx.post(f"{url}/webhooks/whatsapp", content=body, headers=headers, timeout=30)


def logged(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(MessageRow)).scalar_one())


def stays(count: Callable[[], int], expected: int, seconds: float = 2.0) -> None:
    """``count()`` is ``expected`` and does not grow for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert count() == expected
        time.sleep(0.1)


def test_a_whatsapp_message_acknowledged_by_a_killed_worker_is_answered_by_the_other(
    start_servers, orders, provider_api
):
    first, _second = start_servers(**WHATSAPP, **LEASE, whatsapp_graph_url=provider_api.url)
    with locked(orders, "conversations"):
        response = meta_delivers(first.url, "where is order 1042")
        time.sleep(0.5)  # the first worker is now waiting for the conversation
        first.kill()
    assert response.status_code == 200

    [reply] = provider_api.wait_for(1, seconds=20)
    assert "email" in reply.json()["text"]["body"]
    stays(lambda: len(provider_api.requests), 1)
    assert logged(orders) == 1


def test_one_twilio_message_delivered_ten_times_to_two_workers_gets_one_rest_reply(
    start_servers, orders, provider_api
):
    provider_api.default = (201, {"sid": "SMrest", "status": "queued"}, {})
    servers = start_servers(**TWILIO, twilio_api_url=provider_api.url, twilio_inline_seconds="0")
    params = twilio_at(servers[0].url).params("where is order 1042", MessageSid="SMsame")

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda n: twilio_at(servers[n % 2].url).post(params), range(10)))

    assert all(response.status_code == 200 for response in responses)
    assert sum(len(messages(response)) for response in responses) == 0
    provider_api.wait_for(1)
    stays(lambda: len(provider_api.requests), 1)
    assert logged(orders) == 1


def test_a_twilio_reply_late_for_the_inline_answer_survives_its_worker(start_servers, orders, provider_api):
    provider_api.default = (201, {"sid": "SMrest", "status": "queued"}, {})
    first, _second = start_servers(
        **TWILIO, **LEASE, twilio_api_url=provider_api.url, twilio_inline_seconds="1"
    )
    with locked(orders, "conversations"):
        response = twilio_at(first.url).post(twilio_at(first.url).params("where is order 1042"))
        first.kill()
    assert response.status_code == 200 and messages(response) == []

    [reply] = provider_api.wait_for(1, seconds=20)
    assert "email" in reply.form()["Body"]
    stays(lambda: len(provider_api.requests), 1)


# --- Bounded waits ---------------------------------------------------------------------------------------


def test_with_the_database_stalled_every_route_answers_within_ten_seconds(start_servers, orders):
    [server] = start_servers(1, **TWILIO, **WHATSAPP, admin_token=ADMIN_TOKEN)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    requests: dict[str, Callable[[], httpx.Response]] = {
        "chat": lambda: httpx.post(
            f"{server.url}/api/chat", json={"session": None, "text": "where is order 1042"}, timeout=30
        ),
        "twilio": lambda: twilio_at(server.url).post(twilio_at(server.url).params("order 1042")),
        "whatsapp": lambda: meta_delivers(server.url, "order 1042"),
        "admin": lambda: httpx.get(f"{server.url}/api/tickets", headers=admin, timeout=30),
        "readyz": lambda: httpx.get(f"{server.url}/readyz", timeout=30),
    }
    tables = "conversations, messages, tickets, inbox, opt_outs, outbound_messages"
    with locked(orders, tables), concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
        started = time.monotonic()
        futures = {name: pool.submit(timed, request, started) for name, request in requests.items()}
        answers = {name: future.result() for name, future in futures.items()}

    for name, (response, seconds) in answers.items():
        assert seconds < 10, f"{name} took {seconds:.1f} s"
        assert response.status_code in (200, 503), f"{name}: {response.status_code}"
        if response.status_code == 503:
            assert response.headers["Retry-After"], name
    # The shopper on the chat hears why, instead of an error.
    assert "can't look orders up right now" in answers["chat"][0].json()["messages"][0]["text"]


def timed(request: Callable[[], httpx.Response], started: float) -> tuple[httpx.Response, float]:
    response = request()
    return response, time.monotonic() - started
