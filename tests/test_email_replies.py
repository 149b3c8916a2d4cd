"""Customer replies as real mail clients write them: only the shopper's own words are new text.

``fixtures/email/replies`` holds replies by Jane Doe (jane.doe@example.com) to the confirmation of order
#1042, in the formats of Gmail, Apple Mail, iPhone, Android, Outlook/Exchange, Yahoo, Thunderbird, Lotus
Notes and Russian webmail, in en es de fr pt it nl ru: quote intros and header blocks, forwarded
confirmations, bottom-posting and interleaving, phone signatures, sign-offs, list footers, disclaimers,
HTML-only bodies. ``expected.json`` names, for each, the phrases its new text must contain and the quoted,
signature and footer phrases it must not.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from channels.email.inbound import parse_email, strip_reply
from lumen_bot.store.tables import VerificationFailureRow
from tests.conftest import INBOUND_EMAIL_SECRET, SmtpServer, eventually

REPLIES = Path(__file__).parent / "fixtures" / "email" / "replies"
EXPECTED: dict[str, dict[str, Any]] = json.loads((REPLIES / "expected.json").read_text())
LANGUAGES = {"en", "es", "de", "fr", "pt", "it", "nl", "ru"}
TRACKING = "1Z999AA10123456784"  # order 1042's UPS shipment in fixtures/orders.csv
# What the receiving service adds on top of a message from Jane's own domain.
VERIFIED = b"Authentication-Results: mx.acme.example; spf=pass smtp.mailfrom=jane.doe@example.com; " + (
    b"dkim=pass header.d=example.com; dmarc=pass\r\n"
)
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def words(text: str) -> str:
    return " ".join(text.split())


def new_text(name: str) -> str:
    return parse_email((REPLIES / name).read_bytes()).new_text


def test_the_corpus_has_every_reply_described_in_every_language() -> None:
    files = {path.name for path in REPLIES.glob("*.eml")}
    assert files == set(EXPECTED)
    assert len(files) >= 60
    assert {str(expected["language"]) for expected in EXPECTED.values()} == LANGUAGES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_reply_keeps_the_shoppers_words_and_none_of_the_quote_or_signature(name: str) -> None:
    text = new_text(name)
    for phrase in EXPECTED[name]["contains"]:
        assert words(phrase) in words(text)
    for phrase in EXPECTED[name]["excludes"]:
        assert phrase.casefold() not in text.casefold()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_address_from_a_quote_header_or_signature_reaches_the_new_text(name: str) -> None:
    # None of the shoppers typed an address: any in the new text came from a quote, signature or footer.
    assert "@" not in new_text(name)


@pytest.mark.parametrize(
    "card",
    [
        "Jane Doe\njane.doe@corp.example | +1 555 0100",
        "Jane Doe | Senior Buyer | Example Corp | jane.doe@corp.example",
        "Jane\nMobile: +1 (555) 010-0100",
    ],
)
def test_a_name_then_an_address_or_phone_below_the_text_is_a_signature(card: str) -> None:
    assert strip_reply(f"Where is my order?\n\n{card}\n") == ("Where is my order?", card)


@pytest.mark.parametrize(
    "text",
    [
        "Order 1042\njane.doe@example.com",
        "Where is it?\n\nMy email is jane.doe@example.com",
        "jane.doe@example.com",
        "Hi,\n\nEmail\njane.doe@example.com",
        "Hello,\n\nOrder 1042\njane.doe@example.com",
        "Hello,\n\nTracking\n1Z999AA10123456784",
    ],
)
def test_an_address_or_number_the_shopper_writes_as_an_answer_is_kept(text: str) -> None:
    assert strip_reply(text)[0] == text


# Through the route: the understanding reads only the new text


def send(http, name: str, *, verified: bool = True):
    raw = (REPLIES / name).read_bytes()
    return http.post(
        "/webhooks/email/raw",
        content=(VERIFIED + raw) if verified else raw,
        auth=("lumen", INBOUND_EMAIL_SECRET),
        headers={"Content-Type": "message/rfc822"},
    )


def answer(smtp_server: SmtpServer) -> str:
    [received] = eventually(lambda: smtp_server.received or None)
    message: EmailMessage = received.message
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def failures(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(VerificationFailureRow)).scalar()


@ON_SQLITE
@pytest.mark.parametrize(
    "name",
    [
        "greeting_above_question_below_en.eml",
        "interleaved_thunderbird_en.eml",
        "bottom_posted_thunderbird_de.eml",
        "outlook_es_top.eml",
        "exchange_fr_original_message.eml",
        "lotus_notes_header_table.eml",
        "yahoo_html_only.eml",
        "gmail_forward_pt.eml",
        "disclaimer_en.eml",
    ],
)
def test_a_verified_shoppers_reply_is_answered_from_its_new_text(email_http, smtp_server, orders, name):
    assert send(email_http, name).status_code == 200
    assert TRACKING in answer(smtp_server)
    assert failures(orders) == 0


@ON_SQLITE
def test_a_question_below_the_quote_is_not_lost_to_the_greeting_above_it(email_http, smtp_server):
    send(email_http, "greeting_above_question_below_en.eml")
    assert "I'm the order assistant" not in answer(smtp_server)  # what "Hi," alone gets


@ON_SQLITE
@pytest.mark.parametrize("name", ["yahoo_en_top.eml", "mailru_ru_top.eml", "signature_dash_dash_en.eml"])
def test_an_address_in_a_quote_header_or_signature_is_never_a_failed_attempt(
    email_http, smtp_server, orders, name
):
    send(email_http, name, verified=False)
    assert TRACKING not in answer(smtp_server)
    assert failures(orders) == 0
