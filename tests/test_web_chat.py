"""``POST /api/chat`` over real HTTP: the contract of DESIGN.md and bad input that loses nothing."""

from __future__ import annotations

import concurrent.futures

import pytest
from sqlalchemy import func, select

from lumen_bot.store.tables import MessageRow

JANE = "jane.doe@example.com"


def say(http, text, session=None):
    response = http.post("/api/chat", json={"session": session, "text": text})
    assert response.status_code == 200, response.text
    return response.json()


def test_healthz_answers_ok(http):
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_server_whose_database_answers_is_ready(http):
    response = http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_a_dialogue_reaches_the_tracking_details_after_email_verification(http):
    first = say(http, "Where's my order?")
    session = first["session"]
    assert "order number" in first["messages"][0]["text"]
    assert "email" in say(http, "1042", session)["messages"][0]["text"]
    answer = say(http, JANE, session)
    assert answer["session"] == session
    assert "1Z999AA10123456784" in answer["messages"][0]["text"]
    assert "Talk to a person" in answer["messages"][0]["quick_replies"]


def test_the_response_has_the_contract_shape(http):
    body = say(http, "hello")
    assert set(body) == {"session", "messages"}
    assert set(body["messages"][0]) == {"text", "quick_replies"}
    assert all(isinstance(q, str) for q in body["messages"][0]["quick_replies"])


def test_a_missing_session_starts_a_new_one_with_an_unguessable_token(http):
    tokens = {say(http, "hi")["session"] for _ in range(3)}
    assert len(tokens) == 3
    assert all(len(token) >= 43 for token in tokens)  # 256 random bits, url-safe base64


def test_an_unknown_session_starts_a_new_one(http):
    body = say(http, "where is order 1042", session="made-up-session")
    assert body["session"] != "made-up-session"


def test_the_session_keeps_the_verification(http):
    session = say(http, f"order 1042 {JANE}")["session"]
    follow_up = say(http, "Can I get the tracking link?", session)
    assert "https://www.ups.com/track" in follow_up["messages"][0]["text"]


def test_another_session_does_not_see_the_verification(http):
    say(http, f"order 1042 {JANE}")
    other = say(http, "Can I get the tracking link?")
    assert "order number" in other["messages"][0]["text"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"session": null}', "text"),
        (b'{"session": null, "text": 42}', "text"),
        (b'{"session": 7, "text": "hi"}', "session"),
        (b'{"session": null, "text": ""}', "empty"),
        (b'{"session": null, "text": "   \\u0000\\u0007  "}', "empty"),
        (b'["text"]', "body must be a JSON object"),
    ],
)
def test_malformed_requests_get_a_4xx_with_a_reason(http, body, reason):
    response = http.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert reason in response.json()["detail"]


def test_text_over_the_bound_is_rejected_with_a_reason(http):
    response = http.post("/api/chat", json={"session": None, "text": "x" * 2001})
    assert response.status_code == 422
    assert "2000" in response.json()["detail"]


def test_an_oversized_body_is_rejected_before_it_is_read(http):
    response = http.post(
        "/api/chat", content=b"x" * (300 * 1024), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_a_body_that_is_not_utf8_gets_a_4xx(http):
    response = http.post(
        "/api/chat",
        content=b'{"session": null, "text": "caf\xe9"}',
        headers={"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize(
    "text",
    [
        "where is my order 📦🚚?",
        "أين طلبي رقم 1042",
        "‏order 1042‏ status",
        "line one\r\nline two\ttabbed",
        "a\u200b\u0000b\u001b[31mred",
    ],
)
def test_emoji_rtl_and_control_characters_are_handled(http, text):
    body = say(http, text)
    assert body["messages"]


def test_concurrent_messages_in_one_session_keep_the_state_consistent(http, orders):
    session = say(http, "hello")["session"]
    texts = ["order 1042", JANE, "thanks", "hi", "help", "tracking link?"] * 3
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda t: say(http, t, session), texts))
    assert all(r["session"] == session for r in replies)
    # Whatever the interleaving, the conversation still works and holds no corrupt state.
    final = say(http, f"order 1042 {JANE}", session)
    assert "1Z999AA10123456784" in final["messages"][0]["text"]
    with orders.connect() as connection:
        logged = connection.execute(select(func.count()).select_from(MessageRow)).scalar()
    assert logged == len(texts) + 2  # every message handled once, none lost


def test_an_unexpected_failure_answers_503_with_a_time_to_retry_and_keeps_the_connection(
    app, http, monkeypatch
):
    async def broken(_message):
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.runtime.handler, "start", broken)

    failed = http.post("/api/chat", json={"session": None, "text": "hi"})
    after = http.get("/healthz")

    assert failed.status_code == 503
    assert failed.headers["retry-after"] == "5"
    assert failed.json() == {"detail": "something went wrong on our side; please try again"}
    assert after.status_code == 200
    assert failed.extensions["network_stream"] is after.extensions["network_stream"]  # the same connection


def test_an_oversized_body_sent_in_chunks_is_rejected_with_413(http):
    def chunks():
        for _ in range(300):
            yield b"x" * 1024

    response = http.post("/api/chat", content=chunks(), headers={"content-type": "application/json"})

    assert response.status_code == 413
