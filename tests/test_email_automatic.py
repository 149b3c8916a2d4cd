"""Mail no person wrote — out-of-office and vacation notices, bounces, read receipts, challenge-response
filters, list mail, spam — is never answered and never opens a ticket, and its sender's server hears 2xx.

``fixtures/email/automatic`` holds such messages in the formats the responders, mail servers and list
managers really send (written from their documented formats, addresses under example domains).
"""

from __future__ import annotations

import base64
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.app import create_app
from channels.email.automatic import automatic_reason
from channels.email.inbound import parse_email
from lumen_bot.store.tables import InboxRow, MessageRow, OutboundRow, TicketRow
from tests.conftest import FIXTURES, INBOUND_EMAIL_SECRET, SHOP_EMAIL, LiveServer

CORPUS = sorted((FIXTURES / "email" / "automatic").glob("*.eml"))
BASIC = {
    "Authorization": "Basic " + base64.b64encode(f"lumen:{INBOUND_EMAIL_SECRET}".encode()).decode(),
    "Content-Type": "message/rfc822",
}


def rows(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar()


def customer_reply(subject: str, *headers: tuple[str, str]) -> EmailMessage:
    message = EmailMessage(policy=policy.default)
    message["From"] = "Jane Doe <jane.doe@example.com>"
    message["To"] = SHOP_EMAIL
    message["Subject"] = subject
    message["Message-ID"] = "<reply-1@mail.example.com>"
    for name, value in headers:
        message[name] = value
    message.set_content("Has my order shipped yet?\n")
    return message


def reason_of(message: EmailMessage) -> str | None:
    return automatic_reason(message, "jane.doe@example.com", (SHOP_EMAIL,))


def test_the_corpus_holds_at_least_forty_automatic_messages() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.stem)
def test_each_message_of_the_corpus_is_automatic_with_a_reason(path: Path) -> None:
    parsed = parse_email(path.read_bytes(), own_addresses=(SHOP_EMAIL,))
    assert parsed.automatic
    assert parsed.automatic_reason


# On SQLite only: what the database does with a skipped message is no different on PostgreSQL.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.stem)
def test_each_message_of_the_corpus_gets_2xx_and_no_reply_and_no_ticket(
    email_http, smtp_server, orders, path: Path
) -> None:
    response = email_http.post("/webhooks/email/raw", content=path.read_bytes(), headers=BASIC)

    assert response.status_code == 200
    reason = "spam" if path.stem.startswith("spam_") else "automatic"
    assert response.json() == {"status": "skipped", "reason": reason}
    assert smtp_server.received == []
    assert (rows(orders, OutboundRow), rows(orders, TicketRow), rows(orders, MessageRow)) == (0, 0, 0)


def test_automatic_mail_is_kept_in_the_inbox_with_why_it_was_not_answered(email_http, orders) -> None:
    bounce = (FIXTURES / "email" / "automatic" / "postfix_dsn.eml").read_bytes()
    email_http.post("/webhooks/email/raw", content=bounce, headers=BASIC)

    with orders.connect() as connection:
        kept = connection.execute(select(InboxRow.status, InboxRow.skip_reason)).all()
    assert kept == [("skipped", "Auto-Submitted: auto-replied")]


def test_automatic_mail_delivered_twice_is_kept_once(email_http, orders) -> None:
    bounce = (FIXTURES / "email" / "automatic" / "postfix_dsn.eml").read_bytes()
    for _ in range(2):
        response = email_http.post("/webhooks/email/raw", content=bounce, headers=BASIC)
        assert response.json() == {"status": "skipped", "reason": "automatic"}

    assert rows(orders, InboxRow) == 1


def test_automatic_mail_that_cannot_be_stored_is_refused_so_the_mail_server_delivers_it_again(
    email_settings, unreachable, clock
) -> None:
    bounce = (FIXTURES / "email" / "automatic" / "postfix_dsn.eml").read_bytes()
    with LiveServer(create_app(email_settings, engine=unreachable, clock=clock)) as http:
        response = http.post("/webhooks/email/raw", content=bounce, headers=BASIC)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize(
    "text",
    [
        "I'm away until Friday. Could you hold the parcel until I return?",
        "Thank you for your email! I'll be away when it arrives, please leave it with a neighbour.",
        "I am on vacation next week, so please deliver after the 5th. Order 1042.",
        "Ich bin im Urlaub, bitte liefern Sie nach meiner Rückkehr. Bestellung 1042",
        "Please confirm my order 1042 shipped, I am a real person waiting for it.",
    ],
)
def test_a_shopper_who_writes_about_being_away_is_not_automatic(text: str) -> None:
    message = customer_reply("Re: Your order #1042 is confirmed")
    message.set_content(text + "\n")
    assert parse_email(message.as_bytes()).automatic_reason is None


@pytest.mark.parametrize(
    "subject",
    [
        "Re: out of stock?",
        "Re: Your order #1042 is confirmed - I'm out of office next week",
        "Out of office next week, can you hold my parcel?",
        "Auto parts for order #1042",
        "Re: auto-renewal of my subscription",
        "Vacation rental gear: has #1042 shipped?",
        "Before my vacation: has #1042 shipped?",
        "Absent-minded me: wrong address on #1042",
        "Abwesend ab Montag, kommt das Paket vorher?",
        "Fuori sede la prossima settimana, potete spedire prima?",
        "В отпуске с понедельника, успеете доставить?",  # noqa: RUF001 (Russian)
        "Re: Automatic replies from your shop are confusing",
    ],
)
def test_a_shoppers_subject_that_mentions_absence_or_auto_is_not_automatic(subject: str) -> None:
    assert reason_of(customer_reply(subject)) is None


@pytest.mark.parametrize(
    "header",
    [("X-Spam-Status", "No, score=0.3 required=5.0"), ("X-Spam-Flag", "NO"), ("X-Mailgun-Sflag", "No")],
)
def test_a_spam_filter_that_says_no_leaves_a_message_answerable(header: tuple[str, str]) -> None:
    assert reason_of(customer_reply("Re: Your order #1042 is confirmed", header)) is None


def test_the_reason_names_the_header_that_gave_the_message_away() -> None:
    message = customer_reply("Re: Your order", ("Auto-Submitted", "auto-replied (vacation)"))
    assert reason_of(message) == "Auto-Submitted: auto-replied"


def test_a_subject_label_gives_the_reason_when_no_header_does() -> None:
    assert reason_of(customer_reply("Abwesenheitsnotiz: Re: Ihre Bestellung")) == "out-of-office subject"


def test_an_auto_reply_subject_sent_as_raw_utf8_is_recognised() -> None:
    raw = "From: Ivan <ivan@example.ru>\r\nSubject: Автоответ: Re: заказ\r\n\r\nЯ в отпуске.\r\n"
    assert parse_email(raw.encode()).automatic_reason == "auto-reply subject"


def test_a_bare_mailer_daemon_sender_is_automatic() -> None:
    message = customer_reply("Returned mail")
    assert automatic_reason(message, "MAILER-DAEMON", ()) == "system sender MAILER-DAEMON"
