#!/usr/bin/env python3
"""Benchmarks: (a) the conversation engine alone, (b) ``/api/chat`` against a bare endpoint.

(a) runs understanding + plan + step (the pure rules path, no I/O) over seed dialogues, and the whole
    handler with its SQLite store in-process, and reports messages per second for each.
(b) serves Lumen (demo data, SQLite, one uvicorn worker) and a bare FastAPI endpoint of the same shape
    (one worker), drives each with the same concurrent 2-turn dialogues (order number, then email) from
    a light asyncio client on this machine, and reports requests/s, p50/p99 latency and server CPU per
    request (from /proc, user + system time of the server process). The same dialogue also runs as SMS
    through the signed Twilio webhook. With ``--postgres``, a second Lumen server runs on PostgreSQL (a
    scratch database created on that server for the run and dropped after it) and takes both dialogues
    too; its server CPU is Lumen's process only, the database server's is not counted. Two loads: paced
    (the same offered request rate for every server, so per-request CPU and latency compare like with
    like) and as fast as each server answers (throughput; latency there is queueing). Every round loads
    the floor, then each Lumen target followed by the floor again, so each target is measured between
    two runs of the floor on the same machine (a shared host speeds up and slows down by a fifth within
    a minute); a target's ratios to the floor (server CPU per request, p99) are to the mean of those two
    runs, and the median of the rounds is reported with each round's CPU ratio beside it. The client
    shares the machine's cores: its own CPU per request and its share of one core are printed beside
    each row, so a reader can see it is not the bottleneck (a share near 100 % would mean it is).
    Compare the rows of one run rather than quoting absolute latencies.

    scripts/bench.py [--seconds 3] [--concurrency 8] [--rate 400] [--rounds 7]
                     [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
DIALOGUE = ("Where is my order 1042?", "jane.doe@example.com")
EXPECTED = "1Z999AA10123456784"
TWILIO_TOKEN = "bench-twilio-auth-token"
TWILIO_PUBLIC_URL = "https://lumen.example.com"


# ---- (a) the engine alone --------------------------------------------------------------------------
def bench_engine(messages: int) -> tuple[float, float]:
    from lumen_bot.domain import engine
    from lumen_bot.domain.demo import demo_orders
    from lumen_bot.domain.engine import ConversationState, Facts, Policy
    from lumen_bot.domain.messages import InboundMessage
    from lumen_bot.domain.rules import RuleUnderstander
    from lumen_bot.locales.voices import load_voices
    from lumen_bot.services.conversation import ConversationHandler, Limits
    from lumen_bot.store.conversations import SqlConversationStore
    from lumen_bot.store.database import Database, make_engine
    from lumen_bot.store.orders import SqlOrderSource, write_orders

    policy = Policy("Acme", "help@acme.example", timedelta(minutes=30), load_voices(("en",), UTC), "en", UTC)
    rules = RuleUnderstander()
    with tempfile.TemporaryDirectory() as folder:
        db = make_engine(f"sqlite:///{folder}/bench.db")
        write_orders(db, demo_orders())
        database = Database(db)
        order = SqlOrderSource(database).find_now("1042")
        texts = [*DIALOGUE, "Can I get the tracking link?", "thanks"]

        started = time.perf_counter()
        for i in range(messages // len(texts)):
            state = ConversationState()
            for text in texts:
                now = datetime.now(UTC)
                u = rules.understand_text(text)
                state = engine.resume(state, now, policy)
                plan = engine.plan(state, u)
                facts = Facts(now=now, order=order if plan.look_up else None, attempts_left=5)
                state = engine.step(state, u, facts, policy).state
            if state.verified_orders != ("1042",):
                raise RuntimeError(f"dialogue {i} did not verify order 1042: {state}")
        pure_rate = (messages // len(texts)) * len(texts) / (time.perf_counter() - started)

        store = SqlConversationStore(database)
        handler = ConversationHandler(
            understander=rules,
            orders=SqlOrderSource(database),
            store=store,
            messages=store,
            failures=store,
            policy=policy,
            limits=Limits(5, 10, 10, timedelta(hours=1)),
            max_text_length=2000,
        )

        async def run_handler(count: int) -> None:
            for i in range(count):
                for text in texts:
                    msg = InboundMessage("bench", f"shopper-{i}", text, datetime.now(UTC))
                    await handler.handle(msg)

        dialogues = max(1, messages // len(texts) // 10)
        started = time.perf_counter()
        asyncio.run(run_handler(dialogues))
        handler_rate = dialogues * len(texts) / (time.perf_counter() - started)
        database.close()
        db.dispose()
    return pure_rate, handler_rate


# ---- (b) HTTP ----------------------------------------------------------------------------------------
def bare_app():  # type: ignore[no-untyped-def]
    """A FastAPI endpoint of the same shape as /api/chat that does no work: the floor to compare with."""
    import secrets

    from fastapi import FastAPI

    from channels.web import ChatMessage, ChatRequest, ChatResponse

    app = FastAPI()

    @app.post("/api/chat", response_model=ChatResponse)
    async def chat(body: ChatRequest) -> ChatResponse:
        token = body.session or secrets.token_urlsafe(32)
        return ChatResponse(session=token, messages=[ChatMessage(text=EXPECTED, quick_replies=[])])

    return app


@dataclass
class LoadResult:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    client_cpu_seconds: float
    """The load client's own CPU (this process) over the same run."""

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        cpu = self.cpu_seconds / self.requests * 1000
        client = self.client_cpu_seconds / self.requests * 1000
        busy = self.client_cpu_seconds / self.seconds * 100
        return (
            f"| {self.name} | {self.requests / self.seconds:,.0f} | {p50:.2f} | {p99:.2f} | {cpu:.3f} "
            f"| {client:.3f} | {busy:.0f} % |"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server on port {port} did not start: {' '.join(args)}")


class Connection:
    """A minimal HTTP/1.1 keep-alive client for the two request shapes measured here.

    A full client (httpx) spends about a millisecond of CPU per request, which on a 2-core machine
    is taken from the server under test; this one spends a few tens of microseconds.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        self.reader, self.writer, self.port = reader, writer, port

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, port)

    async def post(self, path: str, body: bytes, content_type: str, headers: str = "") -> bytes:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{headers}"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = await self.reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"unexpected response: {status!r}")
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


class Dialogue(Protocol):
    """One shopper's two-turn dialogue, one awaitable per turn; the last answer must hold EXPECTED."""

    def turns(self, connection: Connection) -> list[Callable[[], Awaitable[bytes]]]: ...


class ChatDialogue:
    def turns(self, connection: Connection) -> list[Callable[[], Awaitable[bytes]]]:
        session: list[str | None] = [None]

        async def say(text: str) -> bytes:
            body = json.dumps({"session": session[0], "text": text}).encode()
            answer = await connection.post("/api/chat", body, "application/json")
            session[0] = json.loads(answer)["session"]
            return answer

        return [functools.partial(say, text) for text in DIALOGUE]


class TwilioDialogue:
    """The same dialogue as SMS through the signed Twilio webhook, each shopper with their own number."""

    def __init__(self) -> None:
        self._validator = RequestValidator(TWILIO_TOKEN)
        self._numbers = itertools.count(5550000000)

    def turns(self, connection: Connection) -> list[Callable[[], Awaitable[bytes]]]:
        shopper = f"+1{next(self._numbers)}"

        async def text(body: str) -> bytes:
            params = {
                "From": shopper,
                "To": "+15550001000",
                "Body": body,
                "MessageSid": f"SM{uuid.uuid4().hex}",
                "NumMedia": "0",
            }
            signature = self._validator.compute_signature(f"{TWILIO_PUBLIC_URL}/webhooks/twilio", params)
            form = urlencode(params).encode()
            headers = f"X-Twilio-Signature: {signature}\r\n"
            return await connection.post(
                "/webhooks/twilio", form, "application/x-www-form-urlencoded", headers
            )

        return [functools.partial(text, body) for body in DIALOGUE]


async def drive(
    port: int, dialogue: Dialogue, seconds: float, concurrency: int, interval: float
) -> tuple[int, float, list[float]]:
    """Shoppers run whole dialogues until ``seconds`` have passed.

    Each sends its next message ``interval`` seconds after the previous one was due (or at once when it
    is late, or when ``interval`` is 0), so a paced run offers every server the same load.
    """
    latencies: list[float] = []
    begun = time.perf_counter()
    deadline = begun + seconds

    async def shopper(index: int) -> None:
        connection = await Connection.open(port)
        due = begun + interval * index / concurrency  # staggered, not all at once
        try:
            while time.perf_counter() < deadline:
                for turn in dialogue.turns(connection):
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    due += interval
                    started = time.perf_counter()
                    answer = await turn()
                    latencies.append(time.perf_counter() - started)
                if EXPECTED.encode() not in answer:
                    raise RuntimeError(f"the dialogue did not end with the tracking number: {answer!r}")
        finally:
            connection.close()

    await asyncio.gather(*(shopper(index) for index in range(concurrency)))
    return len(latencies), time.perf_counter() - begun, latencies


@dataclass(frozen=True)
class Load:
    label: str
    interval: float
    """Seconds between one shopper's messages; 0 for as fast as the server answers."""


@dataclass(frozen=True)
class Target:
    name: str
    server: str
    dialogue: Dialogue


BARE = "bare FastAPI endpoint"


def targets(postgres: bool) -> list[Target]:
    """The floor first, then Lumen's chat and SMS routes on SQLite (and on PostgreSQL)."""
    chosen = [Target(BARE, "bare", ChatDialogue())]
    for database, server in [("SQLite", "lumen"), *([("PostgreSQL", "lumen-pg")] if postgres else [])]:
        chosen.append(Target(f"Lumen /api/chat, {database}", server, ChatDialogue()))
        chosen.append(Target(f"Lumen /webhooks/twilio (signed SMS), {database}", server, TwilioDialogue()))
    return chosen


def load(
    target: Target,
    process: subprocess.Popen[bytes],
    port: int,
    seconds: float,
    concurrency: int,
    interval: float,
) -> LoadResult:
    asyncio.run(drive(port, target.dialogue, min(1.0, seconds / 5), concurrency, interval))  # warm-up
    before, client_before = cpu_seconds(process.pid), time.process_time()
    requests, seconds, latencies = asyncio.run(drive(port, target.dialogue, seconds, concurrency, interval))
    server, client = cpu_seconds(process.pid) - before, time.process_time() - client_before
    return LoadResult(target.name, requests, seconds, latencies, server, client)


def bench_http(
    seconds: float, concurrency: int, rounds: int, loads: list[Load], postgres: str | None
) -> dict[Load, list[list[LoadResult]]]:
    """The servers run side by side; each round loads the floor, then each Lumen target followed by the
    floor again, so that every target is measured between two runs of the floor on the same machine."""
    with tempfile.TemporaryDirectory() as folder, scratch_database(postgres) as postgres_url:
        env = {
            **os.environ,
            "LUMEN_DATABASE_URL": f"sqlite:///{folder}/lumen.db",
            "LUMEN_LOG_LEVEL": "WARNING",
            "LUMEN_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "LUMEN_PUBLIC_BASE_URL": TWILIO_PUBLIC_URL,
            # One client sends every request here: the per-client limit stays in the path, never reached.
            "LUMEN_CHAT_RATE_LIMIT": "100000/second",
            "PYTHONPATH": str(ROOT),
        }
        envs = {"bare": env, "lumen": env}
        if postgres_url is not None:
            envs["lumen-pg"] = {**env, "LUMEN_DATABASE_URL": postgres_url}
        demo = [sys.executable, "-m", "channels.cli", "demo"]
        for name in ("lumen", "lumen-pg"):
            if name in envs:
                subprocess.run(demo, env=envs[name], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        lumen = [sys.executable, "-m", "channels.cli", "serve"]
        commands = {"bare": [sys.executable, __file__, "--serve-bare"], "lumen": lumen, "lumen-pg": lumen}
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for name, server_env in envs.items():
                port = free_port()
                servers[name] = (start_server([*commands[name], "--port", str(port)], server_env, port), port)
            chosen = targets(postgres_url is not None)
            floor, others = chosen[0], chosen[1:]
            # Each Lumen run sits between two runs of the floor: a machine that slows down or speeds up
            # during a round (other tenants of the host) moves both sides of its ratio alike.
            order = [floor, *itertools.chain.from_iterable((target, floor) for target in others)]
            return {
                shape: [
                    [
                        load(target, *servers[target.server], seconds, concurrency, shape.interval)
                        for target in order
                    ]
                    for _ in range(rounds)
                ]
                for shape in loads
            }
        finally:
            for process, _port in servers.values():
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)


@contextlib.contextmanager
def scratch_database(server_url: str | None) -> Iterator[str | None]:
    """A fresh database on the PostgreSQL server of ``server_url`` (any database there to connect to),
    dropped afterwards; ``None`` without a server."""
    if server_url is None:
        yield None
        return
    import psycopg

    name = f"lumen_bench_{uuid.uuid4().hex[:12]}"
    admin = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def p99(result: LoadResult) -> float:
    ordered = sorted(result.latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def cpu_per_request(result: LoadResult) -> float:
    return result.cpu_seconds / result.requests


def to_the_floor(results: list[LoadResult]) -> dict[str, tuple[float, float]]:
    """Each Lumen target's server CPU per request and p99, over the mean of the floor's runs on either
    side of it (``results`` alternate: floor, target, floor, target, …, floor)."""
    ratios = {}
    for index in range(1, len(results) - 1, 2):
        before, target, after = results[index - 1], results[index], results[index + 1]
        floor_cpu = (cpu_per_request(before) + cpu_per_request(after)) / 2
        floor_p99 = (p99(before) + p99(after)) / 2
        ratios[target.name] = (cpu_per_request(target) / floor_cpu, p99(target) / floor_p99)
    return ratios


def report(shape: Load, rounds: list[list[LoadResult]]) -> None:
    print(f"\n{shape.label}\n")
    print(
        "| round | server | requests/s | p50 ms | p99 ms | server CPU ms/request "
        "| client CPU ms/request | client CPU, share of a core |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for number, results in enumerate(rounds, start=1):
        for result in results:
            print(f"| {number} {result.row()}")
    each = [to_the_floor(results) for results in rounds]
    print("\nTo the floor (the mean of its runs just before and after), median of rounds (targets: CPU ≤ 4x,")
    print("p99 ≤ 2x):\n")
    print("| server | server CPU per request / floor's | p99 / floor's | CPU ratios of the rounds |")
    print("|---|---|---|---|")
    for name in each[0]:
        cpu = [ratios[name][0] for ratios in each]
        tail = statistics.median(ratios[name][1] for ratios in each)
        spread = ", ".join(f"{ratio:.2f}" for ratio in cpu)
        print(f"| {name} | {statistics.median(cpu):.2f}x | {tail:.2f}x | {spread} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="each run of a server, per load and round")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent shoppers")
    parser.add_argument("--rate", type=float, default=400, help="requests/s offered by the paced run")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the ratios are their median")
    parser.add_argument("--engine-messages", type=int, default=20_000)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (the URL of any database on it): Lumen runs on a scratch database there",
    )
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=8001, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.port, log_level="warning")
        return

    pure, handler = bench_engine(args.engine_messages)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print("\n| engine (rules path) | messages/s |\n|---|---|")
    print(f"| understand + plan + step, no I/O | {pure:,.0f} |")
    print(f"| whole handler with SQLite store, in-process | {handler:,.0f} |")

    who = f"{args.concurrency} concurrent shoppers in two-turn dialogues, one worker per server"
    loads = [
        Load(f"Paced: {who}, {args.rate:g} requests/s offered to each", args.concurrency / args.rate),
        Load(f"As fast as each server answers: {who}", 0.0),
    ]
    for shape, rounds in bench_http(
        args.seconds, args.concurrency, args.rounds, loads, args.postgres
    ).items():
        report(shape, rounds)


if __name__ == "__main__":
    main()
