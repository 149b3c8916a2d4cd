"""Inbound email: the shopper's own words apart from the confirmation they quoted, who sent the message,
whether their domain vouched for it, and whether a person wrote it at all.

The fixtures under ``fixtures/email`` are replies to the confirmation "Your order #1042 is confirmed" in
the shapes real clients produce; the shoppers mention other orders (#1045, #1023) where they name one.
"""

from __future__ import annotations

import email
import random
import time
import tracemalloc
from contextlib import suppress
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.automatic import automatic_reason
from channels.email.inbound import (
    SUBJECT_LIMIT,
    TEXT_LIMIT,
    MalformedEmail,
    ParsedEmail,
    authentication_passed,
    from_message,
    html_to_text,
    parse_email,
    strip_reply,
)

FIXTURES = Path(__file__).parent / "fixtures" / "email"
OWN_ADDRESSES = ("orders@acme.example",)

CLIENT_REPLIES = {
    "gmail.eml": "Hi! Has this shipped yet? I also placed order #1045 last week \u2013 could you\n"
    "check on that one too?",
    "outlook.eml": "Hello,\n\nI haven\u2019t had a shipping email yet \u2013 is my order on its way? "
    "It\u2019s a gift for Friday.",
    "apple_mail.eml": "Hi there, I ordered the trail jacket on Tuesday and the tracking page still says "
    "nothing. Has it left the warehouse yet? It's for a hike on the weekend.\n\nPriya",
    "ios_mail.eml": "Any update on this one? It still says processing on my end.",
    "thunderbird.eml": "Hello, it has been a week and nothing has arrived. Could you tell me where it is? "
    "The tracking number I was given for #1023 does not work either.",
    "html_only.eml": "Hello, could you tell me when order #1045 will arrive? The confirmation below is for "
    "my other order.\n\nMaria",
    "samsung_base64.eml": "Did it ship? I need it before the weekend.",
    "iso_8859_1.eml": "Hola, \u00bfmi pedido ya sali\u00f3? Necesito saber cu\u00e1ndo llegar\u00e1, es un "
    "regalo de cumplea\u00f1os.",
    "french.eml": "Bonjour,\n\nMa commande est-elle partie ? "
    "J\u2019attends toujours le num\u00e9ro de suivi.",
    "german.eml": "Hallo,\n\nwurde meine Bestellung schon verschickt? Ich br\u00e4uchte sie bis Freitag.",
}
# Clients that send the same reply as text/plain and text/html.
ALTERNATIVES = ("gmail.eml", "outlook.eml", "french.eml", "samsung_base64.eml")
CONFIRMATION = "Your order #1042 is confirmed."
# What breaks header and MIME syntax most often.
DAMAGE = (b"=?", b"?=", b"<", b">", b'"', b"(", b";", b":", b",", b"@", b"\\", b"\r\n", b"\n ", b"\xff")


def parsed(name: str) -> ParsedEmail:
    return parse_email((FIXTURES / name).read_bytes(), own_addresses=OWN_ADDRESSES)


def raw_message(*headers: str, body: str | bytes = "Where is my order?\n", sender: str = "") -> bytes:
    """A minimal message; ``headers`` come before the defaults, which a header given here replaces."""
    given_names = {header.partition(":")[0].lower() for header in headers}
    defaults = [
        f"From: {sender or 'Jane Doe <jane.doe@example.com>'}",
        "To: orders@acme.example",
        "Subject: Re: Your order #1042 is confirmed",
        "Content-Type: text/plain; charset=utf-8",
    ]
    lines = [*headers, *(line for line in defaults if line.partition(":")[0].lower() not in given_names)]
    head = "\r\n".join(lines).encode() + b"\r\n\r\n"
    return head + (body if isinstance(body, bytes) else body.encode())


def parsed_message(message: bytes) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(message, policy=policy.default))


def words(text: str) -> str:
    return " ".join(text.split())


# What the shopper newly wrote


@pytest.mark.parametrize(("fixture", "expected"), CLIENT_REPLIES.items())
def test_each_client_reply_yields_exactly_the_shoppers_new_text(fixture: str, expected: str) -> None:
    assert parsed(fixture).new_text == expected


@pytest.mark.parametrize("fixture", CLIENT_REPLIES)
def test_the_order_number_only_in_the_quoted_confirmation_is_not_in_the_new_text(fixture: str) -> None:
    email_ = parsed(fixture)
    assert "1042" not in email_.new_text
    assert "1042" in email_.quoted_text


@pytest.mark.parametrize(
    ("fixture", "order_number"),
    [("gmail.eml", "#1045"), ("thunderbird.eml", "#1023"), ("html_only.eml", "#1045")],
)
def test_an_order_number_the_shopper_writes_stays_in_the_new_text(fixture: str, order_number: str) -> None:
    assert order_number in parsed(fixture).new_text


def test_the_signature_and_the_quoted_confirmation_become_the_quoted_text() -> None:
    quoted = parsed("gmail.eml").quoted_text
    assert quoted.startswith("Thanks,\nJane\n\nOn Tue, Nov 24, 2026 at 10:02 AM Acme Outfitters")
    assert "> Thanks for shopping with Acme Outfitters! Your order #1042 is confirmed." in quoted


def test_a_phone_signature_is_not_new_text() -> None:
    email_ = parsed("ios_mail.eml")
    assert "iPhone" not in email_.new_text
    assert email_.quoted_text.startswith("Sent from my iPhone")


def test_a_dash_dash_signature_below_a_bottom_posted_reply_is_not_new_text() -> None:
    assert parsed("thunderbird.eml").quoted_text.endswith("--\nOliver Smith\nLeeds, UK")


def test_a_reply_written_below_the_quote_is_taken_from_below_it() -> None:
    text = f"On 11/24/26 10:02 AM, Acme Outfitters wrote:\n> {CONFIRMATION}\n\nHas it shipped?\n"
    assert strip_reply(text) == (
        "Has it shipped?",
        f"On 11/24/26 10:02 AM, Acme Outfitters wrote:\n\n> {CONFIRMATION}",
    )


def test_an_interleaved_reply_keeps_every_answer_between_the_quotes() -> None:
    text = (
        "On 11/24/26 10:02 AM, Acme Outfitters wrote:\n"
        f"> {CONFIRMATION}\n\nThank you. Has it shipped?\n\n"
        "> We'll email you again as soon as it ships.\n\nIt has been a week.\n"
    )
    assert strip_reply(text)[0] == "Thank you. Has it shipped?\n\nIt has been a week."


def test_lines_quoted_with_a_greater_than_sign_are_quoted_without_an_intro_line() -> None:
    new_text, quoted_text = strip_reply(f"Has it shipped?\n\n> {CONFIRMATION}\n> Acme Outfitters\n")
    assert new_text == "Has it shipped?"
    assert quoted_text == f"> {CONFIRMATION}\n> Acme Outfitters"


def test_an_outlook_original_message_block_is_quoted() -> None:
    text = (
        "Where is it?\n\n-----Original Message-----\nFrom: Acme Outfitters <orders@acme.example>\n"
        "Sent: Tuesday, November 24, 2026 10:02 AM\nTo: Tom Becker\n"
        f"Subject: Your order #1042 is confirmed\n\n{CONFIRMATION}\n"
    )
    new_text, quoted_text = strip_reply(text)
    assert new_text == "Where is it?"
    assert quoted_text.startswith("-----Original Message-----")


def test_a_quote_header_with_the_original_unquoted_below_and_nothing_above_leaves_no_new_text() -> None:
    text = (
        "From: Acme Outfitters <orders@acme.example>\nSent: Tuesday, November 24, 2026 10:02 AM\n"
        f"To: Tom Becker\nSubject: Your order #1042 is confirmed\n\n{CONFIRMATION}\n"
    )
    new_text, quoted_text = strip_reply(text)
    assert new_text == ""
    assert CONFIRMATION in quoted_text


def test_a_gmail_intro_wrapped_over_two_lines_is_found() -> None:
    text = (
        "Where is it?\n\nOn Tue, Nov 24, 2026 at 10:02 AM Acme Outfitters Customer Care Team\n"
        f"<orders@acme.example> wrote:\n\n> {CONFIRMATION}\n"
    )
    assert strip_reply(text)[0] == "Where is it?"


def test_an_intro_with_a_no_break_space_before_the_colon_is_found() -> None:
    text = (
        "O\u00f9 est ma commande ?\n\n"
        "Le mar. 24 nov. 2026 \u00e0 10:02, Acme Outfitters <orders@acme.example> a \u00e9crit\u00a0:\n\n"
        "> Votre commande n\u00b01042 est confirm\u00e9e.\n"
    )
    assert strip_reply(text)[0] == "O\u00f9 est ma commande ?"


def test_a_spanish_intro_that_only_quotequail_knows_is_found() -> None:
    text = (
        "\u00bfD\u00f3nde est\u00e1 mi pedido?\n\n"
        "El mar, 24 nov 2026 a las 10:02, Acme Outfitters (<orders@acme.example>) escribi\u00f3:\n\n"
        f"> {CONFIRMATION}\n"
    )
    new_text, quoted_text = strip_reply(text)
    assert new_text == "\u00bfD\u00f3nde est\u00e1 mi pedido?"
    assert quoted_text.startswith("El mar, 24 nov 2026")


def test_a_sign_off_with_a_name_is_removed() -> None:
    assert strip_reply("Where is my order?\n\nBest regards,\nJane Doe\n") == (
        "Where is my order?",
        "Best regards,\nJane Doe",
    )


def test_a_question_that_opens_like_a_sign_off_is_kept() -> None:
    assert strip_reply("Hi,\nThanks, has it shipped yet?\n")[0] == "Hi,\nThanks, has it shipped yet?"


def test_items_listed_with_hyphens_are_kept() -> None:
    text = "Hi,\n- the jacket\n- the hat\nWhere are they?\n"
    assert strip_reply(text)[0] == "Hi,\n- the jacket\n- the hat\nWhere are they?"


def test_a_message_with_nothing_quoted_is_all_new_text() -> None:
    assert strip_reply("  Order 1045 status?\r\n") == ("Order 1045 status?", "")


def test_new_text_is_cut_at_the_text_limit() -> None:
    assert len(strip_reply(("word " * 100 + "\n") * 50)[0]) == TEXT_LIMIT


def test_quoted_text_is_cut_at_the_text_limit() -> None:
    text = "Has it shipped?\n\nOn Tue, Nov 24, 2026 at 10:02 AM Acme wrote:\n" + "> word word\n" * 2500
    assert len(strip_reply(text)[1]) == TEXT_LIMIT


@pytest.mark.parametrize(
    "hostile",
    [
        "On " + "x " * 200_000,
        "a\n" + "\n" * 200_000 + "b",
        ("On " + "x " * 497 + "\n") * 500,
        "> On x\n" * 100_000,
    ],
    ids=["long-on-line", "blank-lines", "many-on-lines", "quoted-lines"],
)
def test_hostile_text_is_stripped_within_a_bounded_time_and_size(hostile: str) -> None:
    started = time.perf_counter()
    new_text, quoted_text = strip_reply(hostile)
    assert time.perf_counter() - started < 10  # unbounded, the quote search takes minutes on these
    assert len(new_text) <= TEXT_LIMIT
    assert len(quoted_text) <= TEXT_LIMIT


# HTML


def test_an_html_only_message_is_read_as_text() -> None:
    email_ = parsed("html_only.eml")
    assert "<div>" not in email_.new_text + email_.quoted_text
    assert email_.quoted_text.startswith("On Tuesday, November 24, 2026, 10:02 AM, Acme Outfitters")


@pytest.mark.parametrize("fixture", ALTERNATIVES)
def test_the_html_alternative_yields_the_same_new_text_as_the_plain_one(fixture: str) -> None:
    message = parsed_message((FIXTURES / fixture).read_bytes())
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert words(strip_reply(html_to_text(html.get_content()))[0]) == words(CLIENT_REPLIES[fixture])


def test_html_blockquotes_become_quoted_lines() -> None:
    html = "<p>Has it shipped?</p><blockquote><p>Your order</p><blockquote>#1042</blockquote></blockquote>"
    assert html_to_text(html) == "Has it shipped?\n\n> Your order\n>\n>> #1042"


def test_html_scripts_styles_and_tags_are_not_text() -> None:
    html = "<style>p {color: red}</style><script>alert(1)</script><p>Where&nbsp;is <b>it</b>?</p>"
    assert html_to_text(html) == "Where is it?"


def test_an_empty_plain_part_falls_back_to_html() -> None:
    body = (
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n \r\n"
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>Has it shipped?</div>\r\n--b--\r\n"
    )
    message = raw_message('Content-Type: multipart/alternative; boundary="b"', body=body)
    assert parse_email(message).new_text == "Has it shipped?"


def test_attachments_are_not_read() -> None:
    body = (
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHas it shipped?\r\n"
        "--b\r\nContent-Type: text/plain; name=invoice.txt\r\nContent-Disposition: attachment; "
        "filename=invoice.txt\r\n\r\nInvoice for order #1042\r\n--b--\r\n"
    )
    message = parse_email(raw_message('Content-Type: multipart/mixed; boundary="b"', body=body))
    assert "1042" not in message.new_text + message.quoted_text


def test_a_message_with_no_text_part_has_empty_text() -> None:
    image = raw_message("Content-Type: image/jpeg", "Content-Transfer-Encoding: base64", body="/9j/")
    email_ = parse_email(image)
    assert (email_.new_text, email_.quoted_text) == ("", "")


@pytest.mark.parametrize(
    "html",
    [
        '<p style="padding-left: 9999999em">x<br>y<br>z</p>' * 200,
        "<table><tr><td>" + "x" * 3000 + "</td></tr>" + "<tr><td></td><td>z</td></tr>" * 3000 + "</table>",
        "<ul>" * 200 + "<li>x</li>" * 3000,
    ],
    ids=["padding", "table", "nested-lists"],
)
def test_html_layout_cannot_blow_up_the_text(html: str) -> None:
    tracemalloc.start()
    try:
        html_to_text(html)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * len(html)  # with layout these take 250 to 18,000 times the size of the HTML


def test_a_list_item_value_inscriptis_cannot_read_is_ignored() -> None:
    assert html_to_text('<ol><li value="\u00b2">Jacket</li></ol>') == "1. Jacket"


# Charsets and transfer encodings


def test_windows_1252_quoted_printable_is_decoded() -> None:
    assert "haven\u2019t" in parsed("outlook.eml").new_text


def test_iso_8859_1_quoted_printable_with_accents_is_decoded() -> None:
    assert "\u00bfmi pedido ya sali\u00f3?" in parsed("iso_8859_1.eml").new_text


def test_base64_is_decoded() -> None:
    assert parsed("samsung_base64.eml").new_text == CLIENT_REPLIES["samsung_base64.eml"]


def test_text_labelled_iso_8859_1_is_read_as_windows_1252() -> None:
    message = raw_message("Content-Type: text/plain; charset=iso-8859-1", body=b"It\x92s late \x96 where?")
    assert parse_email(message).new_text == "It\u2019s late \u2013 where?"


def test_unlabelled_8bit_utf8_is_decoded() -> None:
    message = raw_message("Content-Type: text/plain", body="Où est ma commande ?".encode())
    assert parse_email(message).new_text == "Où est ma commande ?"


@pytest.mark.parametrize("charset", ["x-unknown", "base64", "rot13"])
def test_a_charset_that_is_no_text_encoding_is_read_as_utf8(charset: str) -> None:
    message = raw_message(f"Content-Type: text/plain; charset={charset}", body="Où est-elle ?".encode())
    assert parse_email(message).new_text == "Où est-elle ?"


def test_format_flowed_lines_are_joined() -> None:
    assert "\n" not in parsed("apple_mail.eml").new_text.partition("\n\n")[0]


def test_format_flowed_with_delsp_joins_without_the_added_space() -> None:
    message = raw_message(
        "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes",
        body="Has my or \r\nder shipped?\r\n",
    )
    assert parse_email(message).new_text == "Has my order shipped?"


def test_header_text_in_raw_8bit_is_decoded() -> None:
    message = b"From: J\xe9r\xf4me Dupont <jerome@example.fr>\r\n" + raw_message().partition(b"\r\n")[2]
    assert parse_email(message).sender_name == "J\u00e9r\u00f4me Dupont"


# Headers


def test_subject_encoded_words_are_decoded() -> None:
    message = raw_message(
        "Subject: =?UTF-8?B?UmU6IFlvdXIgb3JkZXIgIzEwNDIgaXMgY29uZmlybWVk?= =?iso-8859-1?Q?_=E0_v=E9rifier?="
    )
    assert parse_email(message).subject == "Re: Your order #1042 is confirmed à vérifier"


def test_subject_whitespace_is_tidied() -> None:
    message = raw_message("Subject:   Re:  Your order\r\n\t#1042   is confirmed ")
    assert parse_email(message).subject == "Re: Your order #1042 is confirmed"


def test_subject_is_cut_at_the_line_limit() -> None:
    message = raw_message("Subject: " + "word " * 400)
    assert len(parse_email(message).subject) == SUBJECT_LIMIT


def test_the_message_id_is_kept_as_sent() -> None:
    assert parsed("gmail.eml").message_id == "<CAF=k3Qx8vN2Yd5JmT_b0sHq7wLp9ZcR4eUo1aG6iXyBfQ@mail.gmail.com>"


def test_a_folded_message_id_is_unfolded() -> None:
    assert parsed("outlook.eml").message_id == (
        "<DM6PR11MB40731C2A9E8B7D6F5A4B3C2D1E0F9A8B@DM6PR11MB4073.namprd11.prod.outlook.com>"
    )


def test_in_reply_to_and_references_give_message_ids_in_order() -> None:
    message = raw_message(
        "In-Reply-To: <c@acme.example> (Acme's message of Tue)",
        "References: <a@acme.example>\r\n <b@mail.example.com>\r\n\t<c@acme.example>",
    )
    email_ = parse_email(message)
    assert email_.in_reply_to == "<c@acme.example>"
    assert email_.references == ("<a@acme.example>", "<b@mail.example.com>", "<c@acme.example>")


def test_a_message_without_threading_headers_has_none() -> None:
    email_ = parse_email(raw_message())
    assert (email_.message_id, email_.in_reply_to, email_.references) == (None, None, ())


def test_the_sender_is_normalized_and_named() -> None:
    email_ = parse_email(raw_message(sender='"Doe, Jane" <Jane.Doe@Example.COM>'))
    assert (email_.sender, email_.sender_name) == ("Jane.Doe@example.com", "Doe, Jane")


def test_an_encoded_sender_name_is_decoded() -> None:
    assert parsed("german.eml").sender_name == "Lena M\u00fcller"


def test_a_sender_without_a_display_name_has_no_name() -> None:
    assert parse_email(raw_message(sender="jane.doe@example.com")).sender_name is None


def test_from_message_reads_an_already_parsed_message() -> None:
    message = parsed_message((FIXTURES / "gmail.eml").read_bytes())
    assert from_message(message, own_addresses=OWN_ADDRESSES) == parsed("gmail.eml")


# Authentication-Results


def test_aligned_spf_and_dkim_passes_authenticate_the_sender() -> None:
    assert parsed("auth_aligned.eml").authenticated


def test_passes_for_another_domain_only_do_not_authenticate_the_sender() -> None:
    assert not parsed("auth_other_domain.eml").authenticated


def test_a_dmarc_failure_overrides_an_aligned_dkim_pass() -> None:
    assert not parsed("auth_dmarc_fail.eml").authenticated


def test_a_message_without_authentication_results_is_not_authenticated() -> None:
    assert not parsed("gmail.eml").authenticated


@pytest.mark.parametrize(
    ("result", "from_domain"),
    [
        ("spf=pass smtp.mailfrom=jane@example.com", "example.com"),
        ("spf=pass smtp.mailfrom=bounces@mail.example.com", "example.com"),
        ("spf=pass smtp.mailfrom=example.com", "example.com"),
        ("dkim=pass header.d=example.com header.s=s1", "example.com"),
        ("dkim=pass header.d=example.com", "shop.example.com"),
        ("dkim=pass header.i=@example.com", "example.com"),
        ("dkim=pass header.i=jane@Mail.Example.COM.", "mail.example.com"),
    ],
)
def test_an_aligned_pass_authenticates(result: str, from_domain: str) -> None:
    assert authentication_passed([f"mx.acme.example; {result}"], from_domain)


@pytest.mark.parametrize(
    ("result", "from_domain"),
    [
        ("spf=pass smtp.mailfrom=jane@example.com", "shop.example.com"),
        ("spf=pass smtp.mailfrom=jane@notexample.com", "example.com"),
        ("dkim=pass header.d=shop.example.com", "example.com"),
        ("dkim=pass header.d=ample.com", "example.com"),
        ("spf=fail smtp.mailfrom=jane@example.com", "example.com"),
        ("spf=softfail smtp.mailfrom=jane@example.com", "example.com"),
        ("dkim=neutral header.d=example.com", "example.com"),
        ("dkim=pass header.i=@", "example.com"),
        ("auth=pass smtp.auth=jane@example.com", "example.com"),
    ],
)
def test_a_failed_or_unaligned_result_does_not_authenticate(result: str, from_domain: str) -> None:
    assert not authentication_passed([f"mx.acme.example; {result}"], from_domain)


def test_a_dmarc_failure_in_any_header_wins() -> None:
    results = ["mx.acme.example; dkim=pass header.d=example.com", "mx.acme.example; dmarc=fail"]
    assert not authentication_passed(results, "example.com")


def test_no_results_do_not_authenticate() -> None:
    assert not authentication_passed([], "example.com")


def test_an_unparsable_result_does_not_hide_the_others() -> None:
    header = "mx.acme.example; x-vendor=@@odd; dkim=pass header.d=example.com header.s=s1"
    assert authentication_passed([header], "example.com")


def test_a_header_that_cannot_be_parsed_at_all_does_not_authenticate() -> None:
    assert not authentication_passed(["spf pass example.com", ";;;", ""], "example.com")


# Messages no person wrote


@pytest.mark.parametrize("fixture", ["auto_reply.eml", "bounce.eml", "mailing_list.eml"])
def test_auto_replies_bounces_and_list_mail_are_automatic(fixture: str) -> None:
    assert parsed(fixture).automatic


@pytest.mark.parametrize("fixture", [*CLIENT_REPLIES, "auth_aligned.eml"])
def test_replies_from_shoppers_are_not_automatic(fixture: str) -> None:
    assert not parsed(fixture).automatic


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "Auto-Submitted: auto-notified; owner-email=x@example.com",
        "Precedence: bulk",
        "Precedence: List",
        "Precedence: junk",
        "List-Id: Deals <deals.lists.example.org>",
        "List-Unsubscribe: <mailto:leave@lists.example.org>",
        "X-Autoreply: yes",
        "X-Autorespond: Out of office",
        "X-Auto-Response-Suppress: All",
        "X-Auto-Response-Suppress: DR, AutoReply",
        "X-Auto-Response-Suppress: OOF",
        "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",
        "Return-Path: <>",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b",
    ],
)
def test_a_header_of_automatic_mail_makes_a_message_automatic(header: str) -> None:
    assert parse_email(raw_message(header)).automatic


@pytest.mark.parametrize(
    "header",
    ["Auto-Submitted: no", "Precedence: first-class", "X-Auto-Response-Suppress: DR, RN, NRN"],
)
def test_headers_that_do_not_mean_automatic_mail_leave_a_message_answerable(header: str) -> None:
    assert not parse_email(raw_message(header)).automatic


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx1.example.net",
        "postmaster@example.com",
        "noreply@example.com",
        "no-reply@example.com",
        "No_Reply+orders@example.com",
        "donotreply@example.com",
        "do-not-reply@example.com",
        "noreply-notifications@example.com",
    ],
)
def test_system_and_no_reply_senders_are_automatic(sender: str) -> None:
    assert parse_email(raw_message(sender=sender)).automatic


def test_a_message_from_one_of_our_own_addresses_is_automatic() -> None:
    message = raw_message(sender="Acme Outfitters <orders@acme.example>")
    assert parse_email(message, own_addresses=[" Orders@ACME.example "]).automatic


def test_automatic_reason_checks_the_given_sender_against_our_addresses() -> None:
    message = parsed_message(raw_message())
    assert automatic_reason(message, "jane.doe@example.com", ["JANE.DOE@example.com"])
    assert automatic_reason(message, "jane.doe@example.com", OWN_ADDRESSES) is None


# Messages that cannot be used


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\x00\xff\xfe garbage \x80\x81\r\n\r\n\xff",
        raw_message(sender="Jane Doe"),
        raw_message(sender="undisclosed-recipients:;"),
        raw_message(sender="jane@example.com, tom@example.com"),
        raw_message(sender="jane@localhost"),
        b"To: orders@acme.example\r\nSubject: no sender\r\n\r\nWhere is my order?",
        raw_message("Subject: " + "=?utf-8?q?a?= " * 3000),
    ],
    ids=[
        "empty",
        "garbage",
        "no-address",
        "empty-group",
        "two-addresses",
        "invalid-address",
        "no-from",
        "huge-header",
    ],
)
def test_an_unusable_message_raises_malformed_email(message: bytes) -> None:
    with pytest.raises(MalformedEmail):
        parse_email(message)


def test_a_second_from_field_is_refused() -> None:
    message = b"From: Mallory <mallory@evil.example>\r\n" + raw_message()
    with pytest.raises(MalformedEmail, match="more than one From address"):
        parse_email(message)


def test_the_reason_names_what_is_wrong() -> None:
    with pytest.raises(MalformedEmail, match="no From header"):
        parse_email(b"Subject: hi\r\n\r\nWhere is my order?")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_raise_malformed_email(raw: bytes) -> None:
    with suppress(MalformedEmail):
        parse_email(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(FIXTURES.glob("*.eml"))),
    st.randoms(use_true_random=False),
)
def test_damaged_client_messages_parse_or_raise_malformed_email(fixture: Path, rng: random.Random) -> None:
    raw = bytearray(fixture.read_bytes())
    for _ in range(rng.randint(1, 30)):
        at = rng.randrange(len(raw) + 1)
        if rng.random() < 0.5:
            raw[at:at] = rng.choice(DAMAGE)
        else:
            del raw[at : at + rng.randint(1, 20)]
    with suppress(MalformedEmail):
        parse_email(bytes(raw))
