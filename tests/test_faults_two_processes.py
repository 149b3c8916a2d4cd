"""Faults with two real server processes on one PostgreSQL database, as a shop runs Lumen with several
workers: what one process decides, the other must not undo."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from lumen_bot.store.tables import VerificationFailureRow
from tests.conftest import POSTGRES_URL

pytestmark = [
    pytest.mark.skipif(not POSTGRES_URL, reason="needs LUMEN_TEST_DATABASE_URL (CI sets it)"),
    # The processes share the test PostgreSQL, emptied for each test.
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
LUMEN = Path(sys.executable).with_name("lumen")

LIMIT_PER_ORDER = 10
GUESSES = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def servers(orders, tmp_path) -> Iterator[list[str]]:
    """Two `lumen serve` processes on the test database, each on its own port."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LUMEN_DATABASE_URL": POSTGRES_URL or "",
        "LUMEN_CHAT_RATE_LIMIT": "10000/minute",
        "LUMEN_VERIFY_MAX_FAILURES_PER_ORDER": str(LIMIT_PER_ORDER),
        "LUMEN_SUPPORT_CONTACT": "help@acme.example",
    }
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [LUMEN, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            wait_until_up(url)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


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
