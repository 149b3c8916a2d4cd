"""Shared fixtures: settings, a real database (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from fastapi import FastAPI
from playwright.sync_api import Browser, Playwright, sync_playwright
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, make_url, text
from sqlmodel import SQLModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.app import Runtime, build_runtime, create_app
from lumen_bot.domain.engine import Policy
from lumen_bot.domain.messages import InboundMessage, Reply, ReplyKind
from lumen_bot.domain.speech import LANGUAGES
from lumen_bot.locales.voices import load_voices
from lumen_bot.services.conversation import ConversationHandler
from lumen_bot.settings import Settings, load_settings
from lumen_bot.store.database import make_engine
from lumen_bot.store.orders import import_file

T = TypeVar("T")
#: Every language's voice, with dates in UTC, for tests of replies without a runtime.
VOICES = load_voices(LANGUAGES, UTC)
# The engine's policy in its tests: Acme, English by default, a 30-minute session.
ENGINE_POLICY = Policy(
    shop_name="Acme",
    support_contact="help@acme.example",
    idle_after=timedelta(minutes=30),
    voices=VOICES,
    default_language="en",
    timezone=UTC,
)
ENGLISH = VOICES["en"]


def _database_of_this_worker(url: str | None) -> str | None:
    """``url``, or under pytest-xdist a database of this worker's own beside it (made when missing): each
    test empties the tables, so two workers must never share them."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url is None or worker is None:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    server = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if exists.first() is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


POSTGRES_URL = _database_of_this_worker(os.environ.get("LUMEN_TEST_DATABASE_URL"))
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
# A redis server for the rate limit's shared storage (CI sets it); tests that need one are skipped without.
REDIS_URL = os.environ.get("LUMEN_TEST_REDIS_URL")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's environment or ``.env``, nor leaves logging configured."""
    for name in list(os.environ):
        if name.startswith("LUMEN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[Engine | None]:
    if not POSTGRES_URL:
        yield None
        return
    # The test database is scratch: start each run from the current schema, whatever an older run left.
    engine = make_engine(POSTGRES_URL)
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, _postgres_engine: Engine | None) -> str:
    """A URL to an empty database: a fresh SQLite file, or the test PostgreSQL with its tables emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lumen-test.db'}"
    assert _postgres_engine is not None and POSTGRES_URL
    names = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    with _postgres_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return POSTGRES_URL


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(
        database_url=database_url,
        shop_name="Acme Outfitters",
        support_contact="help@acme.example",
    )


FIXTURES = Path(__file__).parent / "fixtures"
START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


UNREACHABLE = [
    "sqlite:////nonexistent-folder/lumen.db",
    "postgresql+psycopg://postgres@127.0.0.1:9/test?connect_timeout=2",
]


@pytest.fixture(params=UNREACHABLE, ids=["sqlite", "postgresql"])
def unreachable(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine whose database does not answer: a folder that does not exist, a port nobody serves."""
    # A plain engine: make_engine would fail already, creating the schema.
    engine = create_engine(request.param)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def orders(engine: Engine) -> Engine:
    """The engine, holding the orders of ``fixtures/orders.csv``."""
    import_file(engine, FIXTURES / "orders.csv")
    return engine


@pytest.fixture
def runtime(settings: Settings, orders: Engine, clock: Clock) -> Runtime:
    return build_runtime(settings, engine=orders, clock=clock)


class Dialogue:
    """One shopper talking to the bot: ``chat("hi")`` returns the bot's reply texts joined."""

    def __init__(self, handler: ConversationHandler, channel: str = "web", key: str = "shopper-1") -> None:
        self.handler = handler
        self.channel = channel
        self.key = key
        self.replies: list[Reply] = []

    def __call__(self, text: str, **details: Any) -> str:
        """``details``: further ``InboundMessage`` fields (provider_message_id, authenticated_sender …)."""
        message = InboundMessage(
            channel=self.channel,
            conversation_key=self.key,
            text=text,
            received_at=datetime.now(UTC),
            **details,
        )
        self.replies = asyncio.run(self.handler.handle(message))
        return "\n".join(reply.text for reply in self.replies)

    @property
    def kinds(self) -> list[ReplyKind]:
        return [reply.kind for reply in self.replies]


@pytest.fixture
def chat(runtime: Runtime) -> Dialogue:
    return Dialogue(runtime.handler)


@pytest.fixture
def another_chat(runtime: Runtime) -> Dialogue:
    """A second shopper, in a conversation of their own."""
    return Dialogue(runtime.handler, key="shopper-2")


class _PromptServer(uvicorn.Server):
    """uvicorn's server, stopping as soon as a test is done with it.

    uvicorn notices ``should_exit`` on a 0.1 s tick and then waits a fixed 0.1 s for connections to wind
    down: fine for a real server, but the suite starts and stops hundreds, so that was about two minutes of
    idling. The test's client has closed its connections before the stop, so nothing is cut short; the
    app's lifespan shutdown still runs in full."""

    async def main_loop(self) -> None:
        while not self.should_exit:
            await asyncio.sleep(0.005)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


class LiveServer:
    """The real app served by uvicorn on a loopback port, in a background thread."""

    def __init__(self, app: FastAPI | Starlette) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
        self.server = _PromptServer(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.client = httpx.Client(base_url=f"http://{host}:{port}", timeout=10)
        return self.client

    def __exit__(self, *_exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def app(settings: Settings, orders: Engine, clock: Clock) -> FastAPI:
    return create_app(settings, engine=orders, clock=clock)


@pytest.fixture
def http(app: FastAPI) -> Iterator[httpx.Client]:
    """An HTTP client talking to the app over real loopback HTTP."""
    with LiveServer(app) as client:
        yield client


def eventually(check: Callable[[], T], timeout: float = 5.0) -> T:
    """Polls ``check`` until it returns something truthy; fails after ``timeout`` seconds.

    For what the app does after it has answered (background handling, the outbox's retries).
    """
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check.__doc__ or check}")
        time.sleep(0.02)
    return result


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


class ProviderApi:
    """A provider's HTTP API stood in on loopback: records every request and answers ``default``.

    Subclasses answer in a provider's own way by overriding :meth:`respond`.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.default: tuple[int, Any, dict[str, str]] = (200, {}, {})
        self.url = ""

    def respond(self, _request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        return self.default

    def wait_for(self, count: int, seconds: float = 5.0) -> list[RecordedRequest]:
        def arrived() -> list[RecordedRequest]:
            return self.requests[:count] if len(self.requests) >= count else []

        arrived.__doc__ = f"{count} request(s) to the provider"
        return eventually(arrived, seconds)

    def asgi(self) -> Starlette:
        async def record(request: Request) -> JSONResponse:
            recorded = RecordedRequest(
                request.method, request.url.path, dict(request.headers), await request.body()
            )
            self.requests.append(recorded)
            status, body, headers = self.respond(recorded)
            return JSONResponse(body, status_code=status, headers=headers)

        return Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST", "PUT", "DELETE"])])


@pytest.fixture
def provider_api() -> Iterator[ProviderApi]:
    """A recording stand-in for a provider API (Twilio REST, Meta Graph) on a loopback port."""
    api = ProviderApi()
    with LiveServer(api.asgi()) as client:
        api.url = str(client.base_url).rstrip("/")
        yield api


TWILIO_TOKEN = "twilio-test-auth-token"
TWILIO_SID = "AC" + "0" * 32
PUBLIC_BASE_URL = "https://lumen.example.com"


@pytest.fixture
def twilio_settings(settings: Settings, provider_api: ProviderApi) -> Settings:
    """Twilio signing with ``TWILIO_TOKEN`` at ``PUBLIC_BASE_URL``, its REST API at ``provider_api``."""
    return settings.model_copy(
        update={
            "twilio_auth_token": SecretStr(TWILIO_TOKEN),
            "twilio_account_sid": TWILIO_SID,
            "public_base_url": PUBLIC_BASE_URL,
            "twilio_api_url": provider_api.url,
        }
    )


@dataclass(frozen=True)
class ReceivedEmail:
    """One message the test SMTP server accepted: its envelope, its bytes and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    message: EmailMessage


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a loopback port: records what it accepts, refuses on demand.

    ``rcpt_reply`` and ``data_reply`` are SMTP replies given instead of taking the recipient or the
    message ("550 5.1.1 No such user", "451 4.3.0 Try again later"). A login succeeds only with
    ``credentials``. ``stop()`` and ``start()`` take the server down and bring it back on the same port.
    """

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        with socket.socket() as probe:
            probe.bind((self.host, 0))
            self.port: int = probe.getsockname()[1]
        self.received: list[ReceivedEmail] = []
        self.logins: list[str] = []
        self.credentials: tuple[str, str] | None = None
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self._controller: Controller | None = None

    def start(self) -> None:
        # A stopped controller's event loop is closed, so each start needs a new one.
        self._controller = Controller(
            self,
            hostname=self.host,
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def handle_RCPT(
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        data = envelope.original_content
        assert isinstance(data, bytes) and envelope.mail_from is not None
        message = BytesParser(policy=policy.SMTP).parsebytes(data)
        assert isinstance(message, EmailMessage)
        self.received.append(ReceivedEmail(envelope.mail_from, tuple(envelope.rcpt_tos), data, message))
        return "250 2.0.0 OK: queued"

    def _authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, auth: LoginPassword
    ) -> AuthResult:
        login = (auth.login.decode(), auth.password.decode())
        if self.credentials is None or login != self.credentials:
            return AuthResult(success=False, handled=False)
        self.logins.append(login[0])
        return AuthResult(success=True)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A recording SMTP server on loopback (plain SMTP, no TLS), stopped after the test."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


# --- The email channel's routes ---------------------------------------------------------------------

INBOUND_EMAIL_SECRET = "inbound-email-secret"
MAILGUN_SIGNING_KEY = "mailgun-signing-key"
SHOP_EMAIL = "orders@acme.example"


@pytest.fixture
def email_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    """Every inbound email route on (HTTP Basic, Mailgun); replies from ``SHOP_EMAIL`` to ``smtp_server``."""
    return settings.model_copy(
        update={
            "inbound_email_secret": SecretStr(INBOUND_EMAIL_SECRET),
            "mailgun_signing_key": SecretStr(MAILGUN_SIGNING_KEY),
            "email_from": SHOP_EMAIL,
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
            "smtp_starttls": False,
        }
    )


@pytest.fixture
def email_http(email_settings: Settings, orders: Engine, clock: Clock) -> Iterator[httpx.Client]:
    """An HTTP client talking over loopback to the app with the email routes of ``email_settings``."""
    with LiveServer(create_app(email_settings, engine=orders, clock=clock)) as client:
        yield client


# --- An OpenAI-compatible model server --------------------------------------------------------------

Answer = Callable[[dict[str, Any]], Awaitable[Response]]


def _completion(request: dict[str, Any], message: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 18, "total_tokens": 138},
        }
    )


def extraction(**fields: Any) -> Answer:
    """A valid answer carrying ``fields`` the way the request asked for it: a tool call, JSON, or a
    Markdown JSON block."""

    async def answer(request: dict[str, Any]) -> Response:
        arguments = json.dumps(fields)
        if request.get("tools"):
            name = request["tools"][0]["function"]["name"]
            call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
            return _completion(request, {"role": "assistant", "content": None, "tool_calls": [call]})
        content = arguments if request.get("response_format") else f"```json\n{arguments}\n```"
        return _completion(request, {"role": "assistant", "content": content})

    return answer


def prose(text: str) -> Answer:
    """An answer that is not an extraction at all: the model just talks."""

    async def answer(request: dict[str, Any]) -> Response:
        return _completion(request, {"role": "assistant", "content": text})

    return answer


def http_error(status: int) -> Answer:
    async def answer(_request: dict[str, Any]) -> Response:
        return JSONResponse({"error": {"message": "stand-in failure", "type": "server_error"}}, status)

    return answer


def slow(seconds: float, then: Answer) -> Answer:
    async def answer(request: dict[str, Any]) -> Response:
        await asyncio.sleep(seconds)
        return await then(request)

    return answer


class ModelServer:
    """An OpenAI-compatible chat-completions server on loopback: records each request's JSON and
    gives the scripted answers in turn, then ``default``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[Answer] = []
        self.default: Answer = extraction(intent="unknown")
        self.base_url = ""

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)

    def asgi(self) -> Starlette:
        async def completions(request: Request) -> Response:
            body = await request.json()
            self.requests.append({**body, "headers": dict(request.headers)})
            answer = self.script.pop(0) if self.script else self.default
            return await answer(body)

        return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])

    def user_messages(self, request: int = -1) -> list[str]:
        return [m["content"] for m in self.requests[request]["messages"] if m["role"] == "user"]


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    with LiveServer(server.asgi()) as client:
        server.base_url = str(client.base_url).rstrip("/") + "/v1"
        yield server


@pytest.fixture
def llm_settings(settings: Settings, model_server: ModelServer) -> Settings:
    """``settings`` with the model server as the LLM, in hybrid mode."""
    return settings.model_copy(
        update={
            "llm_model": "stand-in-model",
            "llm_base_url": model_server.base_url,
            "llm_api_key": SecretStr("sk-test"),
            "llm_timeout_seconds": 2.0,
        }
    )


# --- A real browser (the widget's and the dashboard's end-to-end tests) ---------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI needs Debian's chromium for the browser tests (.ci/run installs it)")
# On a developer's machine without chromium (scripts/test installs it when it may), and only there.
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start. The local-network checks
    # would stop a test storefront (served by the test itself) from loading a widget on 127.0.0.1; the
    # cross-origin test is about CORS, which stays on.
    local_network_checks = "LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests"
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", f"--disable-features={local_network_checks}"]
    )
    yield browser
    browser.close()
