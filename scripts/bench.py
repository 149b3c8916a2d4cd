#!/usr/bin/env python3
"""Benchmarks: (a) the conversation engine alone, (b) ``/api/chat`` against a bare endpoint.

(a) runs understanding + plan + step (the pure rules path, no I/O) over seed dialogues, and the whole
    handler with its SQLite store in-process, and reports messages per second for each.
(b) serves Lumen (demo data, SQLite, one uvicorn worker) and a bare FastAPI endpoint of the same shape
    (one worker), drives each with the same concurrent 2-turn dialogues (order number, then email) from
    an asyncio client on this machine, and reports requests/s, p50/p99 latency and server CPU per request
    (from /proc, user + system time of the server process). The load client shares the machine's cores,
    so compare the two rows of one run rather than quoting absolute latencies.

    scripts/bench.py [--dialogues 400] [--concurrency 8]
"""

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DIALOGUE = ("Where is my order 1042?", "jane.doe@example.com")
EXPECTED = "1Z999AA10123456784"


# ---- (a) the engine alone --------------------------------------------------------------------------
def bench_engine(messages: int) -> tuple[float, float]:
    from lumen_bot import engine
    from lumen_bot.conversation import ConversationHandler, Limits
    from lumen_bot.engine import ConversationState, Facts, Policy
    from lumen_bot.messages import InboundMessage
    from lumen_bot.orders.demo import load_demo
    from lumen_bot.orders.source import SqlOrderSource
    from lumen_bot.store.conversations import SqlConversationStore
    from lumen_bot.store.database import make_engine
    from lumen_bot.understanding.rules import RuleUnderstander

    policy = Policy("Acme", "help@acme.example", timedelta(minutes=30))
    rules = RuleUnderstander()
    with tempfile.TemporaryDirectory() as folder:
        db = make_engine(f"sqlite:///{folder}/bench.db")
        load_demo(db)
        order = SqlOrderSource(db).find_now("1042")
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
            assert state.verified_orders == ("1042",), i
        pure_rate = (messages // len(texts)) * len(texts) / (time.perf_counter() - started)

        store = SqlConversationStore(db)
        handler = ConversationHandler(
            understander=rules,
            orders=SqlOrderSource(db),
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

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        cpu = self.cpu_seconds / self.requests * 1000
        return f"| {self.name} | {self.requests / self.seconds:,.0f} | {p50:.2f} | {p99:.2f} | {cpu:.3f} |"


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


async def drive(port: int, dialogues: int, concurrency: int) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(dialogues):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:

        async def shopper() -> None:
            while not queue.empty():
                queue.get_nowait()
                session = None
                for text in DIALOGUE:
                    started = time.perf_counter()
                    response = await client.post("/api/chat", json={"session": session, "text": text})
                    latencies.append(time.perf_counter() - started)
                    response.raise_for_status()
                    session = response.json()["session"]
                assert EXPECTED in response.text, response.text

        started = time.perf_counter()
        await asyncio.gather(*(shopper() for _ in range(concurrency)))
        return len(latencies), time.perf_counter() - started, latencies


def load(
    name: str, process: subprocess.Popen[bytes], port: int, dialogues: int, concurrency: int
) -> LoadResult:
    asyncio.run(drive(port, max(concurrency, dialogues // 10), concurrency))  # warm-up
    before = cpu_seconds(process.pid)
    requests, seconds, latencies = asyncio.run(drive(port, dialogues, concurrency))
    return LoadResult(name, requests, seconds, latencies, cpu_seconds(process.pid) - before)


def bench_http(dialogues: int, concurrency: int) -> list[LoadResult]:
    results = []
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "LUMEN_DATABASE_URL": f"sqlite:///{folder}/lumen.db",
            "LUMEN_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        subprocess.run(
            [sys.executable, "-m", "channels.cli", "demo"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        servers = {
            "bare FastAPI endpoint": [sys.executable, __file__, "--serve-bare"],
            "Lumen /api/chat": [sys.executable, "-m", "channels.cli", "serve"],
        }
        for name, command in servers.items():
            port = free_port()
            process = start_server([*command, "--port", str(port)], env, port)
            try:
                results.append(load(name, process, port, dialogues, concurrency))
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dialogues", type=int, default=400, help="2-turn dialogues per server")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent shoppers")
    parser.add_argument("--engine-messages", type=int, default=20_000)
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

    results = bench_http(args.dialogues, args.concurrency)
    shape = f"{args.concurrency} concurrent shoppers, {args.dialogues} two-turn dialogues per server"
    print(f"\n{shape}, one worker each")
    print("\n| server | requests/s | p50 ms | p99 ms | server CPU ms/request |\n|---|---|---|---|---|")
    for result in results:
        print(result.row())
    bare, lumen = results
    bare_cpu, lumen_cpu = bare.cpu_seconds / bare.requests, lumen.cpu_seconds / lumen.requests
    bare_p99 = sorted(bare.latencies)[int(len(bare.latencies) * 0.99)]
    lumen_p99 = sorted(lumen.latencies)[int(len(lumen.latencies) * 0.99)]
    print(f"\nCPU per request: {lumen_cpu / bare_cpu:.2f}x the bare endpoint's (target ≤ 4x)")
    print(f"p99 latency: {lumen_p99 / bare_p99:.2f}x the bare endpoint's (target ≤ 2x)")


if __name__ == "__main__":
    main()
