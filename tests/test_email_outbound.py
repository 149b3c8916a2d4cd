"""Email replies: composed as threaded RFC 5322 messages, sent to a real SMTP server (aiosmtpd on loopback).

A composed reply is read back the way a mail client reads it: its text (as the outbox stores it) parsed
again with the email package.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator, Sequence
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import Engine, Row, select

from channels.app import smtp_sender as sender_from_settings
from channels.email.outbound import SmtpSender, compose_reply
from lumen_bot.domain.messages import Part, Reply, ReplyKind
from lumen_bot.ports import SendFailed
from lumen_bot.services.outbox import Outbox
from lumen_bot.settings import load_settings
from lumen_bot.store.database import Database
from lumen_bot.store.outbox import SqlOutboxStore
from lumen_bot.store.tables import OutboundRow
from tests.conftest import Clock, SmtpServer

VIA = "smtp"
SHOP = "orders@shop.example"
SHOP_NAME = "Acme Outfitters"
JANE = "jane.doe@example.com"
THEIR_ID = "<CAJ3x9=Q5b2c@mail.example.com>"
TRACKING_URL = "https://www.ups.com/track?tracknum=1Z999AA10123456784&loc=en_US"
ORDER_ANSWER = Reply(
    ReplyKind.ORDER_ANSWER,
    (
        Part("Order #1042 has shipped."),
        Part("UPS tracking number 1Z999AA10123456784, estimated delivery Tuesday, December 1."),
        Part(f"Track it: {TRACKING_URL}", TRACKING_URL, optional=True),
    ),
    ("When will it arrive?",),
    (TRACKING_URL,),
)
ANYTHING_ELSE = Reply.plain(ReplyKind.HELP, "Anything else I can help with?")


def compose(replies: Sequence[Reply] = (ORDER_ANSWER,), **overrides: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "to": JANE,
        "subject": "Where is my order?",
        "message_id": THEIR_ID,
        "references": (),
        "from_address": SHOP,
        "shop_name": SHOP_NAME,
    }
    return compose_reply(replies, **{**arguments, **overrides})


def stored(message: EmailMessage) -> str:
    """The message as the outbox stores it."""
    return message.as_string(policy=policy.SMTP)


def read_back(message: EmailMessage) -> EmailMessage:
    """The reply as a mail client reads it: the stored text, parsed."""
    parsed = message_from_string(stored(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def subject_of(subject: str) -> str:
    return str(read_back(compose(subject=subject))["Subject"])


def body(message: EmailMessage, subtype: str) -> str:
    part = read_back(message).get_body(preferencelist=(subtype,))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value or "" for name, value in attrs if name == "href")


def links_in(html: str) -> list[str]:
    parser = _Anchors()
    parser.feed(html)
    return parser.hrefs


def smtp_sender(server: SmtpServer, **options: Any) -> SmtpSender:
    settings: dict[str, Any] = {"username": None, "password": None, "starttls": False, "use_tls": False}
    return SmtpSender(server.host, server.port, **{**settings, **options})


def send(smtp: SmtpSender, text: str) -> str | None:
    return asyncio.run(smtp.send(SHOP, JANE, text))


def send_failure(smtp: SmtpSender, text: str) -> SendFailed:
    with pytest.raises(SendFailed) as failure:
        send(smtp, text)
    return failure.value


# Subject


def test_the_subject_gets_a_re_prefix() -> None:
    assert subject_of("Where is my order?") == "Re: Where is my order?"


def test_a_reply_to_a_reply_has_a_single_re() -> None:
    assert subject_of("Re: Re: Where is my order?") == "Re: Where is my order?"


@pytest.mark.parametrize(
    "subject",
    [
        "RE: Aw: Where is my order?",
        "re:Where is my order?",
        "SV: Re[2]: Where is my order?",
        "Antw: Where is my order?",
    ],
)
def test_reply_prefixes_of_any_case_and_language_collapse_into_one_re(subject: str) -> None:
    assert subject_of(subject) == "Re: Where is my order?"


@pytest.mark.parametrize("subject", ["Fwd: Where is my order?", "Re: Fwd: Where is my order?"])
def test_a_forward_prefix_stays_part_of_the_subject(subject: str) -> None:
    assert subject_of(subject) == "Re: Fwd: Where is my order?"


@pytest.mark.parametrize("subject", ["", "   ", "Re:", "RE: re:"])
def test_an_empty_subject_becomes_re_your_order(subject: str) -> None:
    assert subject_of(subject) == "Re: Your order"


def test_a_very_long_subject_is_kept_within_header_line_limits() -> None:
    subject = "Where is " + "my order and " * 1000 + "x" * 2000
    text = stored(compose(subject=subject))
    assert max(len(line) for line in text.split("\r\n")) <= 78
    assert str(read_back(compose(subject=subject))["Subject"]).startswith("Re: Where is my order and my")


# Threading


def test_in_reply_to_is_their_message_id() -> None:
    assert read_back(compose())["In-Reply-To"] == THEIR_ID


def test_references_are_their_references_then_their_message_id() -> None:
    reply = compose(references=("<root@mail.example.com>", "<second@shop.example>"))
    assert read_back(reply)["References"] == f"<root@mail.example.com> <second@shop.example> {THEIR_ID}"


def test_references_name_each_message_once_with_their_message_id_last() -> None:
    references = ("<root@mail.example.com>", THEIR_ID, "<second@shop.example>", "<root@mail.example.com>")
    reply = compose(references=references)
    assert read_back(reply)["References"] == f"<root@mail.example.com> <second@shop.example> {THEIR_ID}"


def test_references_given_as_one_header_value_are_read_as_ids() -> None:
    reply = compose(references="<root@mail.example.com>\r\n <second@shop.example>")
    assert read_back(reply)["References"] == f"<root@mail.example.com> <second@shop.example> {THEIR_ID}"


def test_a_very_long_thread_keeps_its_root_and_latest_references() -> None:
    references = tuple(f"<message-{n}@mail.example.com>" for n in range(100))
    kept = read_back(compose(references=references))["References"].split()
    assert kept == [references[0], *references[-18:], THEIR_ID]


def test_many_references_are_folded_between_ids_and_read_back_whole() -> None:
    references = tuple(f"<message-{n}.a1b2c3d4e5@mail.example.com>" for n in range(15))
    reply = compose(references=references)
    header = stored(reply).split("References:")[1].split("Auto-Submitted:")[0]
    assert all(len(line) <= 78 for line in header.split("\r\n"))
    assert read_back(reply)["References"].split() == [*references, THEIR_ID]


def test_a_message_id_longer_than_a_line_is_written_as_it_is() -> None:
    long_id = "<" + "a1b2c3d4" * 15 + "@mail.example.com>"
    text = stored(compose(message_id=long_id))
    assert f"In-Reply-To: {long_id}\r\n" in text
    assert f"References: {long_id}\r\n" in text


def test_without_their_message_id_there_is_no_in_reply_to_and_references_stay_theirs() -> None:
    reply = read_back(compose(message_id=None, references=("<root@mail.example.com>",)))
    assert reply["In-Reply-To"] is None
    assert reply["References"] == "<root@mail.example.com>"


def test_message_ids_without_angle_brackets_get_them_and_invalid_ones_are_left_out() -> None:
    reply = read_back(compose(message_id="no brackets@x", references=("root@mail.example.com", "<a b>")))
    assert reply["In-Reply-To"] is None
    assert reply["References"] == "<root@mail.example.com>"


def test_our_message_id_is_new_and_in_the_from_domain() -> None:
    ours = [str(read_back(compose())["Message-ID"]) for _ in range(2)]
    assert ours[0] != ours[1]
    assert all(id_.startswith("<") and id_.endswith("@shop.example>") for id_ in ours)
    assert THEIR_ID not in ours


# Headers


def test_the_reply_is_marked_auto_replied() -> None:
    assert read_back(compose())["Auto-Submitted"] == "auto-replied"


def test_from_names_the_shop_and_to_is_the_shopper() -> None:
    reply = read_back(compose())
    (shop,) = reply["From"].addresses
    assert (shop.display_name, shop.addr_spec) == (SHOP_NAME, SHOP)
    assert [address.addr_spec for address in reply["To"].addresses] == [JANE]


def test_the_reply_is_dated() -> None:
    assert parsedate_to_datetime(read_back(compose())["Date"]).tzinfo is not None


def test_a_non_ascii_shop_name_and_subject_are_rfc_2047_encoded_and_read_back() -> None:
    reply = compose(shop_name="Café Zürich", subject="Wo ist meine Bestellung? Grüße 📦")
    text = stored(reply)
    assert text.isascii()
    assert "=?utf-8?" in text.split("\r\n\r\n")[0]
    parsed = read_back(reply)
    assert parsed["From"].addresses[0].display_name == "Café Zürich"
    assert parsed["Subject"] == "Re: Wo ist meine Bestellung? Grüße 📦"


def test_a_line_break_in_the_subject_cannot_add_a_header() -> None:
    reply = read_back(compose(subject="Hi\r\nBcc: attacker@evil.example\r\n\r\n<b>body</b>"))
    assert reply["Bcc"] is None
    assert reply.get_all("Subject") == ["Re: Hi Bcc: attacker@evil.example <b>body</b>"]


def test_a_line_break_in_the_shop_name_cannot_add_a_header() -> None:
    reply = read_back(compose(shop_name="Acme\nBcc: attacker@evil.example"))
    assert reply["Bcc"] is None
    assert reply["From"].addresses[0].addr_spec == SHOP


def test_an_internationalized_domain_is_written_in_its_ascii_form() -> None:
    reply = read_back(compose(to="jane@bücher.example"))
    assert reply["To"].addresses[0].addr_spec == "jane@xn--bcher-kva.example"


@pytest.mark.parametrize("to", ["not an address", "", "jöe@example.com", "jane@example.com\r\nBcc: x@y"])
def test_an_address_no_reply_can_go_to_is_refused(to: str) -> None:
    with pytest.raises(ValueError):
        compose(to=to)


# Body


def test_the_body_is_plain_text_and_html_alternatives() -> None:
    reply = read_back(compose())
    assert reply.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in reply.iter_parts()] == ["text/plain", "text/html"]


def test_the_plain_text_is_the_replies_with_a_blank_line_between_them() -> None:
    assert body(compose([ORDER_ANSWER, ANYTHING_ELSE]), "plain") == (
        f"{ORDER_ANSWER.text}\n\n{ANYTHING_ELSE.text}\n"
    )


def test_every_line_of_a_reply_is_a_paragraph_in_the_html() -> None:
    html = body(compose([ORDER_ANSWER, ANYTHING_ELSE]), "html")
    assert html.count("<p ") == len(ORDER_ANSWER.parts) + 1
    assert "Anything else I can help with?</p>" in html


def test_data_in_the_html_is_escaped() -> None:
    hostile = Reply.plain(ReplyKind.ORDER_ANSWER, 'Carrier <script>alert("x")</script> & co')
    html = body(compose([hostile], subject="<script>alert(1)</script>"), "html")
    assert "<script" not in html
    assert "Carrier &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html


def test_the_tracking_link_is_a_clickable_anchor() -> None:
    html = body(compose(), "html")
    assert links_in(html) == [TRACKING_URL]
    assert 'href="https://www.ups.com/track?tracknum=1Z999AA10123456784&amp;loc=en_US"' in html


def test_a_link_that_ends_a_sentence_leaves_the_full_stop_outside() -> None:
    reply = Reply.plain(ReplyKind.ORDER_ANSWER, "Track it at https://track.example/1Z9.")
    assert links_in(body(compose([reply]), "html")) == ["https://track.example/1Z9"]


def test_a_tracking_link_missing_from_the_text_is_added_to_both_parts() -> None:
    reply = Reply(ReplyKind.ORDER_ANSWER, (Part("Order #1042 has shipped."),), (), (TRACKING_URL,))
    assert links_in(body(compose([reply]), "html")) == [TRACKING_URL]
    assert TRACKING_URL in body(compose([reply]), "plain")


def test_only_http_and_https_addresses_become_links() -> None:
    reply = Reply(
        ReplyKind.ORDER_ANSWER,
        (Part("Track it: javascript:alert(1)"),),
        (),
        ("javascript:alert(1)", "data:text/html,hi", "ftp://files.example/x", "https://"),
    )
    html = body(compose([reply]), "html")
    assert links_in(html) == []
    assert "data:text" not in html and "ftp:" not in html


def test_the_html_is_self_contained() -> None:
    html = body(compose(), "html").lower()
    for external in ("<img", "<script", "<link", "<style", "src=", "url(", "@import"):
        assert external not in html


# Sending


def test_the_reply_is_delivered_exactly_as_stored(smtp_server: SmtpServer) -> None:
    text = stored(compose())
    send(smtp_sender(smtp_server), text)
    (received,) = smtp_server.received
    assert received.data == text.encode()


def test_the_envelope_is_the_shop_to_the_shopper(smtp_server: SmtpServer) -> None:
    send(smtp_sender(smtp_server), stored(compose()))
    (received,) = smtp_server.received
    assert (received.mail_from, received.rcpt_tos) == (SHOP, (JANE,))


def test_sending_returns_the_message_id(smtp_server: SmtpServer) -> None:
    reply = compose()
    assert send(smtp_sender(smtp_server), stored(reply)) == reply["Message-ID"]


def test_a_line_starting_with_a_dot_arrives_intact(smtp_server: SmtpServer) -> None:
    reply = compose([Reply.plain(ReplyKind.HELP, ".\n..\nThat was a dot.")])
    send(smtp_sender(smtp_server), stored(reply))
    assert body(smtp_server.received[0].message, "plain") == ".\n..\nThat was a dot.\n"


def test_the_sender_logs_in_when_a_username_is_set(smtp_server: SmtpServer) -> None:
    smtp_server.credentials = ("lumen", "s3cret")
    send(smtp_sender(smtp_server, username="lumen", password="s3cret"), stored(compose()))
    assert smtp_server.logins == ["lumen"]
    assert len(smtp_server.received) == 1


def test_a_recipient_refused_with_5xx_is_a_permanent_failure(smtp_server: SmtpServer) -> None:
    smtp_server.rcpt_reply = f"550 5.1.1 <{JANE}>: Recipient address rejected: User unknown"
    failure = send_failure(smtp_sender(smtp_server), stored(compose()))
    assert failure.permanent
    assert "550" in str(failure) and JANE not in str(failure)


def test_a_recipient_refused_with_4xx_is_retried(smtp_server: SmtpServer) -> None:
    smtp_server.rcpt_reply = "450 4.2.1 Mailbox busy, try again later"
    assert not send_failure(smtp_sender(smtp_server), stored(compose())).permanent


def test_a_message_refused_for_now_is_retried(smtp_server: SmtpServer) -> None:
    smtp_server.data_reply = "451 4.3.0 Temporary local problem, try again later"
    failure = send_failure(smtp_sender(smtp_server), stored(compose()))
    assert not failure.permanent
    assert smtp_server.received == []


def test_a_message_refused_with_5xx_is_a_permanent_failure(smtp_server: SmtpServer) -> None:
    smtp_server.data_reply = "554 5.7.1 Message rejected as spam"
    assert send_failure(smtp_sender(smtp_server), stored(compose())).permanent


def test_a_stopped_server_is_a_transient_failure(smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    assert not send_failure(smtp_sender(smtp_server), stored(compose())).permanent


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A port that takes connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()


def test_a_server_that_does_not_answer_in_time_is_a_transient_failure(
    silent_server: tuple[str, int],
) -> None:
    host, port = silent_server
    slow = SmtpSender(host, port, username=None, password=None, starttls=False, use_tls=False, timeout=0.3)
    assert not send_failure(slow, stored(compose())).permanent


def test_required_starttls_not_offered_is_transient_and_sends_nothing(smtp_server: SmtpServer) -> None:
    failure = send_failure(smtp_sender(smtp_server, starttls=True), stored(compose()))
    assert not failure.permanent
    assert smtp_server.received == []


def test_a_refused_login_is_a_transient_failure(smtp_server: SmtpServer) -> None:
    smtp_server.credentials = ("lumen", "s3cret")
    failure = send_failure(smtp_sender(smtp_server, username="lumen", password="wrong"), stored(compose()))
    assert not failure.permanent


def test_an_envelope_address_smtp_cannot_carry_is_a_permanent_failure(smtp_server: SmtpServer) -> None:
    with pytest.raises(SendFailed) as failure:
        asyncio.run(smtp_sender(smtp_server).send(SHOP, "jöe@example.com", stored(compose())))
    assert failure.value.permanent
    assert smtp_server.received == []


def test_failures_are_logged_without_addresses_or_message_text(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    reply = compose(subject="Where is order 1042?")
    with caplog.at_level(logging.DEBUG):
        smtp_server.rcpt_reply = f"550 5.1.1 <{JANE}>: Recipient address rejected"
        send_failure(smtp_sender(smtp_server), stored(reply))
        smtp_server.stop()
        send_failure(smtp_sender(smtp_server), stored(reply))
    ours = [record for record in caplog.records if record.name != "mail.log"]  # aiosmtpd, the test server
    assert ours
    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in ours)
    for private in (JANE, SHOP, "Where is order", "Order #1042 has shipped"):
        assert private not in logged


# Settings


@pytest.mark.parametrize(
    "configured", [{}, {"smtp_host": "127.0.0.1"}, {"email_from": SHOP}], ids=["nothing", "host", "from"]
)
def test_without_smtp_host_and_email_from_there_is_no_sender(configured: dict[str, str]) -> None:
    assert sender_from_settings(load_settings(**configured)) is None


def test_the_sender_from_settings_delivers_to_the_configured_server(smtp_server: SmtpServer) -> None:
    settings = load_settings(
        smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_starttls=False, email_from=SHOP
    )
    configured = sender_from_settings(settings)
    assert configured is not None
    asyncio.run(configured.send(SHOP, JANE, stored(compose())))
    assert len(smtp_server.received) == 1


# Through the outbox, with a real database


def outbox_rows(engine: Engine) -> list[Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(select(OutboundRow.__table__)).all())  # type: ignore[attr-defined]


def test_an_smtp_outage_keeps_the_reply_until_the_server_is_back(
    engine: Engine, clock: Clock, smtp_server: SmtpServer
) -> None:
    outbox = Outbox(
        SqlOutboxStore(Database(engine)), {VIA: smtp_sender(smtp_server)}, max_attempts=5, clock=clock
    )
    reply = compose()
    smtp_server.stop()
    asyncio.run(outbox.send(VIA, SHOP, JANE, [stored(reply)]))
    assert [(row.status, row.attempts) for row in outbox_rows(engine)] == [("pending", 1)]

    smtp_server.start()
    assert asyncio.run(outbox.deliver_due()) == 0  # its retry is not due yet
    clock.advance(minutes=1)
    assert asyncio.run(outbox.deliver_due()) == 1

    (row,) = outbox_rows(engine)
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 2, reply["Message-ID"])
    (received,) = smtp_server.received
    assert received.data == stored(reply).encode()


def test_a_delivered_reply_is_never_sent_again(engine: Engine, clock: Clock, smtp_server: SmtpServer) -> None:
    outbox = Outbox(
        SqlOutboxStore(Database(engine)), {VIA: smtp_sender(smtp_server)}, max_attempts=5, clock=clock
    )
    asyncio.run(outbox.send(VIA, SHOP, JANE, [stored(compose())]))
    for _ in range(3):
        clock.advance(hours=1)
        assert asyncio.run(outbox.deliver_due()) == 0
    assert len(smtp_server.received) == 1


def test_a_refused_recipient_drops_the_reply_without_retrying(
    engine: Engine, clock: Clock, smtp_server: SmtpServer
) -> None:
    outbox = Outbox(
        SqlOutboxStore(Database(engine)), {VIA: smtp_sender(smtp_server)}, max_attempts=5, clock=clock
    )
    smtp_server.rcpt_reply = "550 5.1.1 User unknown"
    asyncio.run(outbox.send(VIA, SHOP, JANE, [stored(compose())]))
    smtp_server.rcpt_reply = None
    clock.advance(hours=1)
    assert asyncio.run(outbox.deliver_due()) == 0
    assert [(row.status, row.attempts) for row in outbox_rows(engine)] == [("dropped", 1)]
    assert smtp_server.received == []
