#!/usr/bin/env python3
"""Does a held SQLite write lock stall the server? A measurement, not a test.

Starts ``lumen serve`` on a fresh SQLite database with the demo orders, then another process takes an
exclusive write lock on that database and holds it (``--hold`` seconds). Meanwhile this script polls
``GET /healthz`` every 20 ms and sends chat messages that need the lock (each message is saved with
its conversation). It reports how long ``/healthz`` took while the lock was held, and how long each
chat message took and what it answered.

    .venv/bin/python scripts/lock_stall.py --hold 3

The target (issue "One-way layers…"): every ``/healthz`` within 250 ms, and each chat message a 200
within 6 s, with its reply or the "can't look orders up right now" reply.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LUMEN = ROOT / ".venv" / "bin" / "lumen"
HEALTHZ_TARGET_MS = 250
CHAT_TARGET_S = 6.0


@dataclass
class Results:
    healthz_ms: list[float] = field(default_factory=list)
    healthz_failures: int = 0
    chats: list[tuple[float, int, str]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(base: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def hold_lock(database: Path, seconds: float, locked: threading.Event) -> None:
    """An exclusive write lock, as another process (a backup, an import, a second worker) may take."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=10)
    connection.execute("BEGIN EXCLUSIVE")
    connection.execute(
        "INSERT INTO opt_outs (channel, address, created_at) VALUES ('sms', '+10000000000', '2026-01-01')"
    )
    locked.set()
    time.sleep(seconds)
    connection.execute("ROLLBACK")
    connection.close()


def poll_healthz(base: str, until: float, results: Results) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                ok = client.get("/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                results.healthz_ms.append(elapsed)
            else:
                results.healthz_failures += 1
            time.sleep(0.02)


def chat(base: str, text: str, results: Results) -> None:
    started = time.perf_counter()
    try:
        response = httpx.post(f"{base}/api/chat", json={"session": None, "text": text}, timeout=30)
        status = response.status_code
        said = response.json()["messages"][0]["text"] if status == 200 else response.text
    except httpx.HTTPError as error:
        status, said = 0, type(error).__name__
    results.chats.append((time.perf_counter() - started, status, said))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the other process holds the lock")
    parser.add_argument("--chats", type=int, default=3, help="chat messages sent while the lock is held")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lumen-stall-") as folder:
        database = Path(folder) / "lumen.db"
        env = {**os.environ, "LUMEN_DATABASE_URL": f"sqlite:///{database}", "LUMEN_LOG_LEVEL": "WARNING"}
        env.pop("LUMEN_CHAT_RATE_LIMIT", None)
        subprocess.run([LUMEN, "demo"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [LUMEN, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base)
            results = Results()
            locked = threading.Event()
            locker = threading.Thread(target=hold_lock, args=(database, args.hold, locked))
            locker.start()
            locked.wait()
            until = time.monotonic() + args.hold + 1.0
            poller = threading.Thread(target=poll_healthz, args=(base, until, results))
            poller.start()
            chatters = []
            for index in range(args.chats):
                chatter = threading.Thread(target=chat, args=(base, f"where is order 104{index}", results))
                chatter.start()
                chatters.append(chatter)
                time.sleep(args.hold / (args.chats + 1))
            for thread in (locker, poller, *chatters):
                thread.join()
        finally:
            server.terminate()
            server.wait(timeout=10)

    report(results, args.hold)
    healthy = results.healthz_ms and max(results.healthz_ms) <= HEALTHZ_TARGET_MS
    chats_ok = all(seconds <= CHAT_TARGET_S and status == 200 for seconds, status, _ in results.chats)
    return 0 if healthy and chats_ok and not results.healthz_failures else 1


def report(results: Results, hold: float) -> None:
    print(f"An exclusive SQLite write lock held for {hold:g} s by another process:")
    if results.healthz_ms:
        ms = sorted(results.healthz_ms)
        print(
            f"  GET /healthz: {len(ms)} requests, median {statistics.median(ms):.1f} ms, "
            f"max {ms[-1]:.1f} ms (target <= {HEALTHZ_TARGET_MS} ms), {results.healthz_failures} failed"
        )
    for seconds, status, said in sorted(results.chats):
        print(f"  POST /api/chat: {status} in {seconds:.2f} s: {said[:70]!r}")


if __name__ == "__main__":
    sys.exit(main())
