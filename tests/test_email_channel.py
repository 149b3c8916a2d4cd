"""The email channel end to end: a shopper replies to a confirmation, Lumen answers in the thread by SMTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import re
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.app import create_app
from lumen_bot.store.tables import MessageRow, OutboundRow, VerificationFailureRow
from tests.conftest import (
    FIXTURES,
    INBOUND_EMAIL_SECRET,
    MAILGUN_SIGNING_KEY,
    SHOP_EMAIL,
    LiveServer,
    eventually,
)

# The channel's protocol, on SQLite: several workers on PostgreSQL taking the same deliveries are tested
# in test_faults_two_processes.py, test_redelivery.py and test_concurrent_turns.py.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SECRET = INBOUND_EMAIL_SECRET
MAILGUN_KEY = MAILGUN_SIGNING_KEY
SHOP = SHOP_EMAIL
JANE = "jane.doe@example.com"
CONFIRMATION = "Your order #1042 is confirmed"
_ids = itertools.count(1)


def shopper_email(
    text: str,
    *,
    sender: str = JANE,
    subject: str = f"Re: {CONFIRMATION}",
    quoted: str = "Thanks for your order #1042. We'll email you when it ships.",
    authenticated: bool = True,
    **headers: str,
) -> EmailMessage:
    """A reply to the order confirmation, as a mail client writes it."""
    message = EmailMessage(policy=policy.default)
    message["From"] = f"Jane Doe <{sender}>"
    message["To"] = f"Acme Outfitters <{SHOP}>"
    message["Subject"] = subject
    message["Message-ID"] = f"<reply-{next(_ids)}@mail.example.com>"
    message["In-Reply-To"] = "<confirmation-1042@acme.example>"
    message["References"] = "<confirmation-1042@acme.example>"
    if authenticated:
        domain = sender.rpartition("@")[2]
        message["Authentication-Results"] = (
            f"mx.acme.example; spf=pass smtp.mailfrom={sender}; dkim=pass header.d={domain}; dmarc=pass"
        )
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    quote = "\n".join(f"> {line}" for line in quoted.splitlines())
    message.set_content(
        f"{text}\n\nOn Tue, Nov 24, 2026 at 10:02 AM Acme Outfitters <{SHOP}> wrote:\n{quote}\n"
    )
    return message


def raw(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=policy.SMTP)


def basic(password: str = SECRET, user: str = "lumen") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar()


@pytest.fixture
def http(email_http):
    return email_http


def send_raw(http, message: EmailMessage | bytes, headers: dict[str, str] | None = None):
    body = raw(message) if isinstance(message, EmailMessage) else message
    return http.post(
        "/webhooks/email/raw",
        content=body,
        headers={"Content-Type": "message/rfc822", **(headers if headers is not None else basic())},
    )


def answers(smtp_server, count: int = 1):
    return eventually(lambda: smtp_server.received if len(smtp_server.received) >= count else None)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def test_a_verified_shopper_gets_one_threaded_answer_with_the_tracking(http, smtp_server):
    question = shopper_email("Hi, has this shipped yet?")
    assert send_raw(http, question).status_code == 200
    [received] = answers(smtp_server)
    reply = received.message
    assert received.rcpt_tos == (JANE,)
    assert reply["Subject"] == f"Re: {CONFIRMATION}"
    assert reply["In-Reply-To"] == question["Message-ID"]
    assert question["Message-ID"] in reply["References"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert "1Z999AA10123456784" in body_text(reply)


def test_an_unauthenticated_sender_is_asked_for_the_email_on_the_order(http, smtp_server):
    send_raw(http, shopper_email("has this shipped?", authenticated=False))
    [received] = answers(smtp_server)
    text = body_text(received.message)
    assert "email address you used for order #1042" in text
    assert "1Z999AA10123456784" not in text


def test_the_sender_of_another_address_is_not_verified_for_the_order(http, smtp_server):
    send_raw(http, shopper_email("has order 1042 shipped?", sender="max@example.net"))
    [received] = answers(smtp_server)
    assert "1Z999AA10123456784" not in body_text(received.message)


def test_an_order_number_only_in_the_quoted_text_is_not_the_shoppers(http, smtp_server):
    question = shopper_email(
        "Where is order 3003?", quoted="Your order #1042 is confirmed.\nOrder 1042: 1 x Tent"
    )
    send_raw(http, question)
    [received] = answers(smtp_server)
    assert "#3003" in body_text(received.message)


def test_a_verified_sender_quoting_a_header_with_another_address_gets_the_answer(http, smtp_server, orders):
    question = shopper_email("Has my order shipped?")
    question.set_content(
        "Has my order shipped?\n\n"
        "24.11.2026, 10:02, \u043f\u043e\u043b\u044c\u0437\u043e\u0432\u0430\u0442\u0435\u043b\u044c "
        '"Bob Smith" <bob@example.org> \u043d\u0430\u043f\u0438\u0441\u0430\u043b:\n'
        "> Your order #1042 is confirmed.\n"
    )
    send_raw(http, question)
    [received] = answers(smtp_server)
    assert "1Z999AA10123456784" in body_text(received.message)
    assert count(orders, VerificationFailureRow) == 0


def test_another_address_a_verified_sender_names_does_not_replace_theirs(http, smtp_server, orders):
    send_raw(http, shopper_email("Has order 1042 shipped? My colleague is bob@example.org"))
    [received] = answers(smtp_server)
    assert "1Z999AA10123456784" in body_text(received.message)
    assert count(orders, VerificationFailureRow) == 0


def test_the_order_number_in_the_subject_is_used_when_the_text_has_none(http, smtp_server):
    send_raw(http, shopper_email("when will it arrive?", quoted="(no order number here)"))
    [received] = answers(smtp_server)
    assert "#1042" in body_text(received.message)


def test_a_redelivered_email_is_answered_once(http, smtp_server, orders):
    question = shopper_email("has this shipped?")
    send_raw(http, question)
    answers(smtp_server)
    assert send_raw(http, question).json()["reason"] == "redelivery"
    time.sleep(0.3)  # a second reply, if one were sent, would have arrived by now
    assert len(smtp_server.received) == 1
    assert count(orders, MessageRow) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"List_Id": "<forum.lists.example.org>"},
        {"X_Autoreply": "yes"},
    ],
)
def test_automatic_mail_is_never_answered(http, smtp_server, orders, headers):
    response = send_raw(http, shopper_email("I am out of the office until Monday.", **headers))
    assert response.json() == {"status": "skipped", "reason": "automatic"}
    assert smtp_server.received == []
    assert count(orders, MessageRow) == 0


def test_mail_from_our_own_address_is_never_answered(http, smtp_server):
    response = send_raw(http, shopper_email("has this shipped?", sender=SHOP))
    assert response.json()["reason"] == "automatic"


def test_one_address_gets_a_bounded_number_of_replies_an_hour(http, smtp_server):
    for attempt in range(12):
        send_raw(http, shopper_email(f"has this shipped? ({attempt})"))
    answers(smtp_server, 10)
    assert send_raw(http, shopper_email("and now?")).json()["reason"] == "rate_limited"


def test_missing_credentials_are_refused_and_nothing_processed(http, orders):
    response = send_raw(http, shopper_email("has this shipped?"), headers={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert count(orders, MessageRow) == 0


@pytest.mark.parametrize(("user", "password"), [("lumen", "wrong"), ("admin", SECRET)])
def test_wrong_credentials_are_refused(http, user, password):
    assert send_raw(http, shopper_email("hi"), headers=basic(password, user)).status_code == 401


@pytest.mark.parametrize("body", [b"", b"\x00\xff garbage", b"Subject: no sender\r\n\r\nhello"])
def test_malformed_mime_gets_a_400_with_a_reason(http, body):
    response = send_raw(http, body)
    assert response.status_code == 400
    assert "malformed email" in response.json()["detail"]


def test_an_oversized_email_is_refused_with_413(email_settings, orders, clock):
    small = email_settings.model_copy(update={"email_max_bytes": 4096})
    with LiveServer(create_app(small, engine=orders, clock=clock)) as http:
        message = shopper_email("has this shipped?")
        message.add_attachment(b"x" * 10_000, maintype="application", subtype="octet-stream")
        assert send_raw(http, message).status_code == 413


def test_without_secrets_the_inbound_routes_are_not_served(settings, orders, clock):
    with LiveServer(create_app(settings, engine=orders, clock=clock)) as http:
        assert send_raw(http, shopper_email("hi")).status_code == 404


def test_an_smtp_outage_delays_the_reply_without_losing_it(http, smtp_server, orders, clock):
    smtp_server.stop()
    send_raw(http, shopper_email("has this shipped?"))
    eventually(lambda: count(orders, OutboundRow) == 1)
    smtp_server.start()
    clock.advance(minutes=5)  # past the first retry's backoff; the app's retry loop sends it
    [received] = answers(smtp_server)
    assert "1Z999AA10123456784" in body_text(received.message)


# SendGrid Inbound Parse


def sendgrid_fields(message: EmailMessage, *, spf: str = "pass", dkim: str | None = None) -> dict[str, str]:
    headers = "".join(f"{name}: {value}\n" for name, value in message.items())
    sender = message["From"].addresses[0].addr_spec
    return {
        "headers": headers,
        "from": str(message["From"]),
        "to": str(message["To"]),
        "subject": str(message["Subject"]),
        "text": body_text(message),
        "envelope": json.dumps({"to": [SHOP], "from": sender}),
        "SPF": spf,
        "dkim": dkim if dkim is not None else "{@" + sender.rpartition("@")[2] + " : pass}",
        "charsets": json.dumps({"text": "UTF-8", "subject": "UTF-8"}),
    }


def test_sendgrid_parsed_fields_are_answered(http, smtp_server):
    message = shopper_email("has this shipped?", authenticated=False)
    response = http.post(
        "/webhooks/email/sendgrid", files={"x": (None, "")}, data=sendgrid_fields(message), headers=basic()
    )
    assert response.status_code == 200
    [received] = answers(smtp_server)
    assert "1Z999AA10123456784" in body_text(received.message)  # SendGrid's DKIM pass verified Jane


def test_sendgrid_dkim_for_another_domain_does_not_verify(http, smtp_server):
    message = shopper_email("has this shipped?", authenticated=False)
    fields = sendgrid_fields(message, spf="fail", dkim="{@attacker.example : pass}")
    http.post("/webhooks/email/sendgrid", files={"x": (None, "")}, data=fields, headers=basic())
    [received] = answers(smtp_server)
    assert "1Z999AA10123456784" not in body_text(received.message)


def test_sendgrid_raw_mime_is_answered(http, smtp_server):
    message = shopper_email("has this shipped?")
    fields = {"email": raw(message).decode(), "SPF": "pass", "dkim": "{@example.com : pass}"}
    response = http.post("/webhooks/email/sendgrid", files={"x": (None, "")}, data=fields, headers=basic())
    assert response.status_code == 200
    assert "1Z999AA10123456784" in body_text(answers(smtp_server)[0].message)


def test_a_delivery_report_in_sendgrids_parsed_fields_is_told_by_its_content_type(http, smtp_server):
    fields = sendgrid_fields(shopper_email("Your message was displayed on Tue, Nov 24 2026."))
    report = 'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"'
    fields["headers"] = re.sub(r"(?m)^Content-Type: .*$", report, fields["headers"])

    response = http.post("/webhooks/email/sendgrid", files={"x": (None, "")}, data=fields, headers=basic())

    assert response.json() == {"status": "skipped", "reason": "automatic"}
    assert smtp_server.received == []


@pytest.mark.parametrize(
    "spam",
    [
        {"spam_score": "7.3"},
        {"spam_score": "3.1", "spam_report": "Content analysis details:   (3.1 points, 3.0 required)"},
    ],
)
def test_a_sendgrid_spam_verdict_skips_the_message(http, smtp_server, orders, spam):
    fields = {**sendgrid_fields(shopper_email("has this shipped?", authenticated=False)), **spam}
    response = http.post("/webhooks/email/sendgrid", files={"x": (None, "")}, data=fields, headers=basic())
    assert response.json() == {"status": "skipped", "reason": "spam"}
    assert smtp_server.received == []
    assert count(orders, MessageRow) == 0


def test_a_sendgrid_spam_score_below_the_required_score_is_answered(http, smtp_server):
    message = shopper_email("has this shipped?", authenticated=False)
    fields = {**sendgrid_fields(message), "spam_score": "1.2", "spam_report": "(1.2 points, 5.0 required)"}
    response = http.post("/webhooks/email/sendgrid", files={"x": (None, "")}, data=fields, headers=basic())
    assert response.json()["status"] == "answered"


def test_sendgrid_without_credentials_is_refused(http):
    assert http.post("/webhooks/email/sendgrid", data={"text": "hi"}).status_code == 401


# Mailgun routes


def mailgun_fields(message: EmailMessage, *, timestamp: int | None = None, token: str | None = None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    token = token or os.urandom(16).hex()
    signature = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    sender = message["From"].addresses[0].addr_spec
    return {
        "recipient": SHOP,
        "sender": sender,
        "from": str(message["From"]),
        "subject": str(message["Subject"]),
        "body-plain": body_text(message),
        "stripped-text": body_text(message).split("\n\nOn ")[0],
        "message-headers": json.dumps(
            [[n, str(v)] for n, v in message.items() if n != "Authentication-Results"]
        ),
        "timestamp": str(timestamp),
        "token": token,
        "signature": signature,
    }


def test_a_signed_mailgun_delivery_is_answered(http, smtp_server):
    response = http.post("/webhooks/email/mailgun", data=mailgun_fields(shopper_email("has this shipped?")))
    assert response.status_code == 200
    assert "#1042" in body_text(answers(smtp_server)[0].message)


def test_a_forged_mailgun_delivery_gets_406(http, orders):
    fields = {**mailgun_fields(shopper_email("hi")), "signature": "0" * 64}
    assert http.post("/webhooks/email/mailgun", data=fields).status_code == 406
    assert count(orders, MessageRow) == 0


def test_a_stale_mailgun_timestamp_gets_406(http):
    fields = mailgun_fields(shopper_email("hi"), timestamp=int(time.time()) - 3600)
    assert http.post("/webhooks/email/mailgun", data=fields).status_code == 406


def test_a_reused_mailgun_token_gets_406(http):
    fields = mailgun_fields(shopper_email("hi"), token="once-only-token")
    assert http.post("/webhooks/email/mailgun", data=fields).status_code == 200
    replay = mailgun_fields(shopper_email("hi again"), token="once-only-token")
    assert http.post("/webhooks/email/mailgun", data=replay).status_code == 406


def test_a_mailgun_delivery_without_message_headers_is_read_from_its_top_level_fields(http, smtp_server):
    message = shopper_email("has this shipped?")
    fields = {key: value for key, value in mailgun_fields(message).items() if key != "message-headers"}
    fields |= {"Message-Id": message["Message-ID"], "In-Reply-To": message["In-Reply-To"]}

    response = http.post("/webhooks/email/mailgun", data=fields)

    assert response.json()["status"] == "answered"
    [received] = answers(smtp_server)
    assert received.message["In-Reply-To"] == message["Message-ID"]
    assert received.message["Subject"] == f"Re: {CONFIRMATION}"


def test_a_mailgun_delivery_whose_headers_lack_the_sender_takes_it_from_the_from_field(http, smtp_server):
    message = shopper_email("has this shipped?")
    fields = mailgun_fields(message)
    headers = [[n, str(v)] for n, v in message.items() if n not in ("From", "Authentication-Results")]
    fields["message-headers"] = json.dumps(headers)

    assert http.post("/webhooks/email/mailgun", data=fields).json()["status"] == "answered"
    assert answers(smtp_server)[0].rcpt_tos == (JANE,)


def test_a_question_under_the_quote_is_answered_though_mailguns_stripped_text_kept_only_the_greeting(
    http, smtp_server
):
    message = shopper_email("Hi,")
    message.set_content(
        f"Hi,\n\nOn Tue, Nov 24, 2026 at 10:02 AM Acme Outfitters <{SHOP}> wrote:\n"
        "> Thanks for your order #1042. We'll email you when it ships.\n\n"
        "Has it shipped yet? Where is it now?\n\nJane\n"
    )
    fields = {**mailgun_fields(message), "stripped-text": "Hi,"}

    assert http.post("/webhooks/email/mailgun", data=fields).json()["status"] == "answered"
    assert "email address you used for order #1042" in body_text(answers(smtp_server)[0].message)


def test_mailguns_stripped_text_is_read_when_the_body_has_no_text_of_its_own(http, smtp_server):
    fields = {**mailgun_fields(shopper_email("")), "body-plain": "", "stripped-text": "has this shipped?"}

    assert http.post("/webhooks/email/mailgun", data=fields).json()["status"] == "answered"
    assert "email address you used for order #1042" in body_text(answers(smtp_server)[0].message)


def test_a_mailgun_spam_flag_skips_the_message(http, smtp_server, orders):
    fields = {**mailgun_fields(shopper_email("has this shipped?")), "X-Mailgun-Sflag": "Yes"}
    response = http.post("/webhooks/email/mailgun", data=fields)
    assert response.json() == {"status": "skipped", "reason": "spam"}
    assert smtp_server.received == []


# Postmark


def postmark_payload(message: EmailMessage) -> dict:
    text = body_text(message)
    return {
        "From": str(message["From"]),
        "FromFull": {"Email": JANE, "Name": "Jane Doe"},
        "To": SHOP,
        "Subject": str(message["Subject"]),
        "MessageID": "a8c1040e-db1c-4e18-ac79-bc5f64c7ce2c",
        "TextBody": text,
        "HtmlBody": "",
        "StrippedTextReply": text.split("\n\nOn ")[0],
        "Headers": [{"Name": n, "Value": str(v)} for n, v in message.items()],
    }


def test_a_postmark_delivery_is_answered(http, smtp_server):
    payload = postmark_payload(shopper_email("has this shipped?"))
    response = http.post("/webhooks/email/postmark", json=payload, headers=basic())
    assert response.status_code == 200
    assert "1Z999AA10123456784" in body_text(answers(smtp_server)[0].message)


def test_a_postmark_spam_status_skips_the_message(http, smtp_server):
    payload = postmark_payload(shopper_email("has this shipped?"))
    payload["Headers"] += [
        {"Name": "X-Spam-Status", "Value": "Yes"},
        {"Name": "X-Spam-Score", "Value": "6.3"},
    ]
    response = http.post("/webhooks/email/postmark", json=payload, headers=basic())
    assert response.json() == {"status": "skipped", "reason": "spam"}
    assert smtp_server.received == []


def test_a_bounce_from_a_mailer_daemon_without_a_domain_gets_200_and_no_reply(http, smtp_server):
    bounce = b"From: MAILER-DAEMON (Mail Delivery System)\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    response = send_raw(http, bounce + b"To: orders@acme.example\r\n\r\nThe mail system: user unknown.\r\n")
    assert (response.status_code, response.json()["reason"]) == (200, "automatic")
    assert smtp_server.received == []


def test_a_postmark_body_that_is_not_json_gets_400(http):
    response = http.post("/webhooks/email/postmark", content=b"{nope", headers=basic())
    assert response.status_code == 400


# The command line


def test_lumen_email_ingest_answers_an_email_from_stdin(email_settings, orders, smtp_server, database_url):
    env = {
        **os.environ,
        "LUMEN_DATABASE_URL": database_url,
        "LUMEN_EMAIL_FROM": SHOP,
        "LUMEN_SMTP_HOST": smtp_server.host,
        "LUMEN_SMTP_PORT": str(smtp_server.port),
        "LUMEN_SMTP_STARTTLS": "false",
    }
    lumen = str(Path(sys.executable).parent / "lumen")
    result = subprocess.run(
        [lumen, "email", "ingest", "-"],
        input=raw(shopper_email("has this shipped?")),
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"1Z999AA10123456784" in result.stdout
    assert "1Z999AA10123456784" in body_text(answers(smtp_server)[0].message)


def test_lumen_email_ingest_reports_a_malformed_email(database_url, tmp_path):
    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"Subject: no sender\r\n\r\nhello")
    lumen = str(Path(sys.executable).parent / "lumen")
    env = {**os.environ, "LUMEN_DATABASE_URL": database_url}
    result = subprocess.run([lumen, "email", "ingest", str(bad)], capture_output=True, env=env, timeout=60)
    assert result.returncode == 1
    assert b"malformed email" in result.stderr


def test_a_realistic_gmail_reply_is_answered(http, smtp_server):
    message = (FIXTURES / "email" / "gmail.eml").read_bytes()
    assert send_raw(http, message).status_code == 200
    [received] = answers(smtp_server)
    assert received.message["In-Reply-To"].startswith("<CAF=")


def test_an_authentication_result_forged_below_the_receivers_own_is_not_trusted(http, smtp_server):
    message = shopper_email("has this shipped?", authenticated=False)
    # The receiving service's own verdict is added on top; the sender's forged "pass" sits below it.
    forged = "mx.acme.example; spf=pass smtp.mailfrom=jane.doe@example.com; dkim=pass header.d=example.com"
    message["Authentication-Results"] = forged
    raw_bytes = b"Authentication-Results: mx.acme.example; spf=fail smtp.mailfrom=attacker.example\r\n" + raw(
        message
    )
    send_raw(http, raw_bytes)
    [received] = answers(smtp_server)
    assert "1Z999AA10123456784" not in body_text(received.message)
