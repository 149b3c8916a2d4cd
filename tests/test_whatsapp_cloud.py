"""WhatsApp Cloud API over real HTTP: webhooks signed as Meta signs them in, Graph API sends captured out.

Lumen answers a webhook before it handles the messages, so each test waits (bounded) for what it expects
to see: a captured Graph API request or a row in the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from channels.app import create_app
from lumen_bot.settings import Settings
from lumen_bot.store.tables import MessageRow, OutboundRow
from tests.conftest import START, Clock, LiveServer, ProviderApi, RecordedRequest, eventually

# The channel's protocol, on SQLite: several workers on PostgreSQL taking the same deliveries are tested
# in test_faults_two_processes.py, test_redelivery.py and test_concurrent_turns.py.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

APP_SECRET = "meta-app-secret"
VERIFY_TOKEN = "meta-verify-token"
ACCESS_TOKEN = "graph-access-token"
BUSINESS = "106540352242922"  # the shop's WhatsApp phone number id
SHOPPER = "16505551234"
OTHER_SHOPPER = "447700900123"
JANE = "jane.doe@example.com"
TRACKING = "1Z999AA10123456784"

T = TypeVar("T")
_wamids = itertools.count(1)


def new_wamid() -> str:
    return f"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUI{next(_wamids):06d}A=="


# Payloads in the shape Meta documents for the "messages" webhook field.


def text_message(body: str, *, sender: str = SHOPPER) -> dict[str, Any]:
    return {
        "from": sender,
        "id": new_wamid(),
        "timestamp": "1764331200",
        "type": "text",
        "text": {"body": body},
    }


def image_message(*, sender: str = SHOPPER) -> dict[str, Any]:
    return {
        "from": sender,
        "id": new_wamid(),
        "timestamp": "1764331200",
        "type": "image",
        "image": {"caption": "my parcel", "mime_type": "image/jpeg", "sha256": "b1a2c3", "id": "8216453"},
    }


def reaction_message(to_wamid: str) -> dict[str, Any]:
    return {
        "from": SHOPPER,
        "id": new_wamid(),
        "timestamp": "1764331200",
        "type": "reaction",
        "reaction": {"message_id": to_wamid, "emoji": "\U0001f44d"},
    }


def event(value: dict[str, Any], *, business: str = BUSINESS) -> dict[str, Any]:
    metadata = {"display_phone_number": "15550783881", "phone_number_id": business}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def messages_event(*messages: dict[str, Any], business: str = BUSINESS) -> dict[str, Any]:
    contacts = [{"profile": {"name": "Jane Doe"}, "wa_id": m.get("from", "")} for m in messages]
    return event({"contacts": contacts, "messages": list(messages)}, business=business)


def statuses_event() -> dict[str, Any]:
    status = {
        "id": new_wamid(),
        "status": "delivered",
        "timestamp": "1764331260",
        "recipient_id": SHOPPER,
        "conversation": {"id": "ab12", "origin": {"type": "service"}},
        "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
    }
    return event({"statuses": [status]})


def encode(payload: dict[str, Any]) -> bytes:
    # Meta sends compact JSON with non-ASCII characters escaped, and signs exactly those bytes.
    return json.dumps(payload, separators=(",", ":")).encode()


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# Meta's Graph API, played by a real HTTP server on loopback.


@dataclass
class GraphRequest:
    path: str
    authorization: str | None
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.body["text"]["body"])


class FakeGraph(ProviderApi):
    """Answers each send with a new wamid, or with the refusal it was told."""

    def __init__(self) -> None:
        super().__init__()
        self.refusal: tuple[int, Any, dict[str, str]] | None = None

    def refuse(
        self, status: int, *, graph_code: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        """Answer every send with ``status`` (and a Graph error body) until :meth:`recover`."""
        body = {} if graph_code is None else {"error": {"message": f"(#{graph_code})", "code": graph_code}}
        self.refusal = (status, body, headers or {})

    def recover(self) -> None:
        self.refusal = None

    def reset(self) -> None:
        self.requests.clear()
        self.recover()

    def respond(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        if self.refusal is not None:
            return self.refusal
        to = request.json().get("to")
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": f"wamid.OUT{len(self.requests)}"}],
        }
        return 200, answer, {}

    @property
    def sends(self) -> list[GraphRequest]:
        return [GraphRequest(r.path, r.headers.get("authorization"), r.json()) for r in self.requests]

    def sent(self, count: int) -> list[GraphRequest]:
        """The first ``count`` sends, once they have come."""
        self.wait_for(count)
        return self.sends[:count]


@dataclass
class Lumen:
    app: FastAPI
    http: httpx.Client

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.http.post("/webhooks/whatsapp", content=body, headers=headers)

    def deliver(self, payload: dict[str, Any]) -> httpx.Response:
        """Posts ``payload`` signed with the app secret, as Meta does."""
        body = encode(payload)
        return self.post(body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)})

    def says(self, text: str, *, sender: str = SHOPPER) -> str:
        """One shopper message, accepted; its wamid."""
        message = text_message(text, sender=sender)
        response = self.deliver(messages_event(message))
        assert response.status_code == 200, response.text
        return str(message["id"])


@pytest.fixture(scope="module")
def _graph_server() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    with LiveServer(fake.asgi()) as client:
        fake.url = str(client.base_url).rstrip("/")
        yield fake


@pytest.fixture
def graph(_graph_server: FakeGraph) -> FakeGraph:
    _graph_server.reset()
    return _graph_server


@pytest.fixture
def whatsapp_settings(settings: Settings, graph: FakeGraph) -> Settings:
    return settings.model_copy(
        update={
            "whatsapp_app_secret": SecretStr(APP_SECRET),
            "whatsapp_verify_token": SecretStr(VERIFY_TOKEN),
            "whatsapp_access_token": SecretStr(ACCESS_TOKEN),
            "whatsapp_graph_url": f"{graph.url}/v21.0",
        }
    )


@pytest.fixture
def serve(whatsapp_settings: Settings, orders: Engine, clock: Clock) -> Iterator[Callable[..., Lumen]]:
    """Starts Lumen on loopback with the WhatsApp settings, changed by the keyword arguments."""
    with ExitStack() as servers:

        def start(**changes: object) -> Lumen:
            app = create_app(whatsapp_settings.model_copy(update=changes), engine=orders, clock=clock)
            return Lumen(app, servers.enter_context(LiveServer(app)))

        yield start


@pytest.fixture
def lumen(serve: Callable[..., Lumen]) -> Lumen:
    return serve()


def logged_messages(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(MessageRow)).scalar_one())


def outbound(engine: Engine) -> list[Any]:
    table = OutboundRow.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return list(connection.execute(select(table).order_by(table.c.id)))


def settled_attempt(engine: Engine, attempts: int) -> Any:
    """The one outgoing message, once its ``attempts``-th attempt is recorded."""

    def recorded() -> Any:
        rows = outbound(engine)
        return rows[0] if len(rows) == 1 and rows[0].attempts == attempts else None

    recorded.__doc__ = f"the outgoing message after attempt {attempts}"
    return eventually(recorded)


def utc(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Verification of the webhook subscription.


def test_the_verification_challenge_is_answered_with_the_right_token(lumen: Lumen) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    response = lumen.http.get("/webhooks/whatsapp", params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


def test_the_verification_is_refused_with_a_wrong_token(lumen: Lumen) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    response = lumen.http.get("/webhooks/whatsapp", params=params)
    assert response.status_code == 403
    assert "1158201444" not in response.text


def test_the_verification_is_refused_for_another_mode(lumen: Lumen) -> None:
    params = {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    assert lumen.http.get("/webhooks/whatsapp", params=params).status_code == 403


# Signatures and payloads.


def test_a_signed_message_is_acknowledged_and_answered_through_the_graph_api(
    lumen: Lumen, graph: FakeGraph
) -> None:
    response = lumen.deliver(messages_event(text_message("Where's my order?")))
    assert response.status_code == 200
    assert "order number" in graph.sent(1)[0].text


def test_the_reply_is_a_documented_text_message_from_the_business_number(
    lumen: Lumen, graph: FakeGraph
) -> None:
    lumen.says("Where's my order?")
    [request] = graph.sent(1)
    assert request.path == f"/v21.0/{BUSINESS}/messages"
    assert request.authorization == f"Bearer {ACCESS_TOKEN}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": SHOPPER,
        "type": "text",
        "text": {"body": request.text, "preview_url": False},
    }


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda body: (body, {}), id="missing signature"),
        pytest.param(
            lambda body: (body, {"X-Hub-Signature-256": signature(body, "not-the-secret")}), id="wrong"
        ),
        pytest.param(
            lambda body: (body, {"X-Hub-Signature-256": signature(body)[7:]}), id="no sha256= prefix"
        ),
        pytest.param(
            lambda body: (body.replace(b"Where", b"WHERE"), {"X-Hub-Signature-256": signature(body)}),
            id="tampered body",
        ),
    ],
)
def test_a_request_without_a_valid_signature_is_refused_and_nothing_is_processed(
    lumen: Lumen, graph: FakeGraph, orders: Engine, forge: Callable[[bytes], tuple[bytes, dict[str, str]]]
) -> None:
    body, headers = forge(encode(messages_event(text_message("Where's my order?"))))
    response = lumen.post(body, {"Content-Type": "application/json", **headers})
    assert response.status_code == 403
    # A genuine message afterwards is the only one handled and answered.
    lumen.says("hello", sender=OTHER_SHOPPER)
    [reply] = graph.sent(1)
    assert reply.body["to"] == OTHER_SHOPPER
    assert logged_messages(orders) == 1
    assert len(graph.requests) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"{not json", "not valid JSON", id="not JSON"),
        pytest.param(b'["whatsapp_business_account"]', "body", id="not an object"),
        pytest.param(encode({"object": "page", "entry": []}), "object", id="another product"),
        pytest.param(encode({"object": "whatsapp_business_account"}), "entry", id="no entry"),
        pytest.param(
            encode(messages_event({"id": new_wamid(), "type": "text", "text": {"body": "hi"}})),
            "from",
            id="message without sender",
        ),
        pytest.param(
            encode(messages_event({"from": SHOPPER, "id": new_wamid(), "type": "text"})),
            "text.body",
            id="text without body",
        ),
        pytest.param(
            encode(
                {
                    "object": "whatsapp_business_account",
                    "entry": [
                        {"changes": [{"field": "messages", "value": {"messages": [text_message("hi")]}}]}
                    ],
                }
            ),
            "metadata",
            id="messages without metadata",
        ),
    ],
)
def test_a_malformed_payload_is_refused_with_400_and_a_reason(lumen: Lumen, body: bytes, reason: str) -> None:
    response = lumen.post(body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)})
    assert response.status_code == 400
    assert reason in response.json()["detail"]


# Conversations.


def test_the_seed_dialogue_reaches_the_tracking_details(lumen: Lumen, graph: FakeGraph) -> None:
    lumen.says("Where's my order?")
    assert "order number" in graph.sent(1)[0].text
    lumen.says("1042")
    assert "email" in graph.sent(2)[1].text
    lumen.says(JANE)
    answer = graph.sent(3)[2].text
    assert "UPS" in answer
    assert TRACKING in answer
    assert all(request.body["to"] == SHOPPER for request in graph.sends)


@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped as Meta sends it", "raw UTF-8"])
def test_non_ascii_text_is_verified_and_read_however_it_is_escaped(
    lumen: Lumen, graph: FakeGraph, ascii_only: bool
) -> None:
    payload = messages_event(text_message("Where\u2019s order 1042? \U0001f4e6"))
    body = json.dumps(payload, ensure_ascii=ascii_only).encode()
    response = lumen.post(body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body)})
    assert response.status_code == 200
    assert "email" in graph.sent(1)[0].text


def test_a_redelivered_webhook_sends_nothing_again_and_counts_nothing_twice(
    lumen: Lumen, graph: FakeGraph, orders: Engine
) -> None:
    first = messages_event(text_message("Where's my order?"))
    assert lumen.deliver(first).status_code == 200
    graph.sent(1)
    assert lumen.deliver(first).status_code == 200
    lumen.says("1042")
    # Had the redelivery been handled again, its reply would come second, or the bot would now ask for
    # the order number again instead of the email.
    asked_order, asked_email = graph.sent(2)
    assert "order number" in asked_order.text
    assert "email" in asked_email.text
    assert logged_messages(orders) == 2
    assert len(outbound(orders)) == 2


def test_a_statuses_only_payload_is_acknowledged_and_sends_nothing(
    lumen: Lumen, graph: FakeGraph, orders: Engine
) -> None:
    assert lumen.deliver(statuses_event()).status_code == 200
    lumen.says("hello", sender=OTHER_SHOPPER)
    [reply] = graph.sent(1)
    assert reply.body["to"] == OTHER_SHOPPER
    assert logged_messages(orders) == 1


def test_an_image_gets_the_polite_text_only_reply(lumen: Lumen, graph: FakeGraph) -> None:
    assert lumen.deliver(messages_event(image_message())).status_code == 200
    [reply] = graph.sent(1)
    assert "only read text" in reply.text


def test_a_reaction_gets_no_reply(lumen: Lumen, graph: FakeGraph, orders: Engine) -> None:
    wamid = lumen.says("hello")
    graph.sent(1)
    assert lumen.deliver(messages_event(reaction_message(wamid))).status_code == 200
    lumen.says("Where's my order?")
    _, reply = graph.sent(2)
    assert "order number" in reply.text
    assert logged_messages(orders) == 2


def test_messages_for_another_business_number_are_ignored_when_one_is_configured(
    serve: Callable[..., Lumen], graph: FakeGraph, orders: Engine
) -> None:
    lumen = serve(whatsapp_phone_number_id=BUSINESS)
    other = messages_event(text_message("Where's my order?"), business="999000111222333")
    assert lumen.deliver(other).status_code == 200
    lumen.says("hello", sender=OTHER_SHOPPER)
    [reply] = graph.sent(1)
    assert reply.path == f"/v21.0/{BUSINESS}/messages"
    assert reply.body["to"] == OTHER_SHOPPER
    assert logged_messages(orders) == 1


def test_messages_of_every_business_number_are_answered_when_none_is_configured(
    lumen: Lumen, graph: FakeGraph
) -> None:
    lumen.deliver(messages_event(text_message("hello"), business="999000111222333"))
    [reply] = graph.sent(1)
    assert reply.path == "/v21.0/999000111222333/messages"


def test_several_messages_in_one_delivery_are_answered_in_order(lumen: Lumen, graph: FakeGraph) -> None:
    lumen.deliver(messages_event(text_message("Where's my order?"), text_message("1042")))
    asked_order, asked_email = graph.sent(2)
    assert "order number" in asked_order.text
    assert "email" in asked_email.text


def test_the_raw_message_is_kept_beside_the_conversation_for_audit(
    lumen: Lumen, graph: FakeGraph, orders: Engine
) -> None:
    wamid = lumen.says("Where's my order?")
    graph.sent(1)
    with orders.connect() as connection:
        row = connection.execute(select(MessageRow.__table__)).one()  # type: ignore[attr-defined]
    assert row.channel == "whatsapp"
    assert row.provider_message_id == wamid
    assert json.loads(row.raw)["text"] == {"body": "Where's my order?"}


class Recorder(logging.Handler):
    """Keeps log records as they are made, before any formatter could mask them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_log_records_carry_no_phone_number_or_message_text(
    lumen: Lumen, graph: FakeGraph, orders: Engine
) -> None:
    recorder = Recorder()
    logging.getLogger().addHandler(recorder)
    try:
        graph.refuse(400, graph_code=131026)
        lumen.says(f"order 1042 {JANE}")
        settled_attempt(orders, 1)
    finally:
        logging.getLogger().removeHandler(recorder)
    assert recorder.records
    for record in recorder.records:
        line = record.getMessage() + repr(record.__dict__)
        assert SHOPPER not in line
        assert JANE not in line
        assert TRACKING not in line


# Sending through the Graph API.


@pytest.mark.parametrize(
    ("status", "graph_code"),
    [
        pytest.param(503, None, id="outage"),
        pytest.param(500, 131000, id="something went wrong"),
        pytest.param(400, 130429, id="throughput limit"),
        pytest.param(401, 190, id="token expired"),
    ],
)
def test_a_transient_refusal_keeps_the_reply_until_the_graph_api_takes_it(
    lumen: Lumen, graph: FakeGraph, orders: Engine, clock: Clock, status: int, graph_code: int | None
) -> None:
    graph.refuse(status, graph_code=graph_code)
    lumen.says("Where's my order?")
    pending = settled_attempt(orders, 1)
    assert pending.status == "pending"
    graph.recover()
    clock.advance(minutes=5)
    # The app's retry loop delivers what is due.
    refused, delivered = graph.sent(2)
    assert delivered.text == refused.text
    sent = eventually(lambda: [row for row in outbound(orders) if row.status == "sent"])
    assert sent[0].provider_message_id == "wamid.OUT2"


def test_a_retry_after_from_the_graph_api_is_respected(
    lumen: Lumen, graph: FakeGraph, orders: Engine, clock: Clock
) -> None:
    graph.refuse(429, headers={"Retry-After": "120"})
    lumen.says("Where's my order?")
    pending = settled_attempt(orders, 1)
    wait = utc(pending.next_attempt_at) - START
    assert timedelta(seconds=120) <= wait <= timedelta(seconds=150)  # plus at most a quarter of jitter
    graph.recover()
    clock.advance(seconds=151)
    graph.sent(2)


def test_a_permanent_refusal_drops_the_reply_without_retrying(
    lumen: Lumen, graph: FakeGraph, orders: Engine, clock: Clock
) -> None:
    graph.refuse(400, graph_code=100)
    lumen.says("Where's my order?")
    dropped = settled_attempt(orders, 1)
    assert dropped.status == "dropped"
    assert "#100" in dropped.last_error
    graph.recover()
    clock.advance(days=1)
    assert asyncio.run(lumen.app.state.outbox.deliver_due()) == 0
    assert len(graph.requests) == 1


def test_an_unreachable_graph_api_keeps_the_reply_pending(
    serve: Callable[..., Lumen], orders: Engine
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    lumen = serve(whatsapp_graph_url=f"http://127.0.0.1:{closed_port}/v21.0")
    lumen.says("Where's my order?")
    pending = settled_attempt(orders, 1)
    assert pending.status == "pending"
    assert "unreachable" in pending.last_error


# Configuration.


@pytest.mark.parametrize("unset", ["whatsapp_app_secret", "whatsapp_verify_token"])
def test_without_app_secret_or_verify_token_the_webhook_is_not_mounted(
    serve: Callable[..., Lumen], capsys: pytest.CaptureFixture[str], unset: str
) -> None:
    lumen = serve(**{unset: None})
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}
    assert lumen.http.get("/webhooks/whatsapp", params=params).status_code == 404
    assert lumen.deliver(messages_event(text_message("hi"))).status_code == 404
    [line] = [line for line in capsys.readouterr().err.splitlines() if "WhatsApp Cloud webhook" in line]
    assert "INFO" in line
    assert "disabled" in line
    assert f"LUMEN_{unset.upper()}" in line


def test_a_delivery_that_cannot_be_stored_is_refused_so_meta_delivers_it_again(
    whatsapp_settings: Settings, unreachable: Engine, clock: Clock
) -> None:
    app = create_app(whatsapp_settings, engine=unreachable, clock=clock)
    with LiveServer(app) as http:
        response = Lumen(app, http).deliver(messages_event(text_message("where is order 1042")))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "could not be stored" in response.json()["detail"]


def test_a_delivery_refused_in_an_outage_is_answered_once_when_meta_delivers_it_again(
    whatsapp_settings: Settings, unreachable: Engine, clock: Clock, lumen: Lumen, graph: FakeGraph
) -> None:
    delivery = messages_event(text_message("where is order 1042"))
    down = create_app(whatsapp_settings, engine=unreachable, clock=clock)
    with LiveServer(down) as http:
        assert Lumen(down, http).deliver(delivery).status_code == 503

    assert lumen.deliver(delivery).status_code == 200
    assert lumen.deliver(delivery).status_code == 200
    [reply] = graph.sent(1)
    assert "email" in reply.text
    time.sleep(0.5)
    assert len(graph.sends) == 1
