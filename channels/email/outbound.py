"""Email replies: threaded RFC 5322 messages (plain text and HTML), sent over SMTP through the outbox.

The outbox stores the whole message as composed (``compose_reply(...).as_string()``), so a retry sends
exactly the bytes that were stored, with the same Message-ID and threading headers.
"""

from __future__ import annotations

import html
import logging
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.errors import HeaderParseError
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.parser import HeaderParser
from email.policy import Policy
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

import aiosmtplib

from lumen_bot.domain.messages import Reply, ReplyKind
from lumen_bot.domain.redaction import redact
from lumen_bot.domain.speech import N_
from lumen_bot.ports import SendFailed

log = logging.getLogger(__name__)

DEFAULT_SUBJECT = N_("Your order")
"""The subject after "Re:" when the shopper's had none."""
# Reply prefixes in the languages mail clients write them in ("Re", German "Aw", Nordic "Sv"/"Svar",
# Dutch "Antw", Finnish "Vs", Polish "Odp", Portuguese "Res", Turkish "Ynt", Greek, Chinese), with the
# counters some clients add ("Re[2]:", "Re^2:"). Forward prefixes are part of the subject and stay.
_REPLY_PREFIXES = re.compile(
    r"^(?:(?:re|aw|sv|svar|antw|vs|odp|res|ynt|απ|回复|回覆|答复)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)
# A subject is what a shopper typed; past this it says nothing more, and the reply stays a sane size.
_MAX_SUBJECT_CHARACTERS = 1000
_MSG_ID = re.compile(r"<([!-;=?-~]{1,250})>|([!-;=?-~]{1,250})")
# Threading needs the root and the nearest ancestors; the middle of a very long thread is dropped, as
# news and mail clients do (RFC 5537 section 3.4.4), so the header cannot grow without bound.
_MAX_REFERENCES = 20
# A web address in running text; it never ends in punctuation that closes the sentence around it.
_URL = re.compile(r"https?://[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]", re.IGNORECASE)

_FONT = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
_BODY_STYLE = "margin:0;padding:24px 12px;background-color:#f4f5f7;"
_CARD_STYLE = (
    "max-width:600px;margin:0 auto;padding:24px;background-color:#ffffff;border:1px solid #e1e4e8;"
    f"border-radius:6px;font-family:{_FONT};font-size:16px;line-height:1.5;color:#1f2328;"
)
_REPLY_STYLE = "margin:0 0 20px 0;"
_LAST_REPLY_STYLE = "margin:0;"
_LINE_STYLE = "margin:0 0 8px 0;"
_LEAD_STYLE = "margin:0 0 8px 0;font-weight:bold;"
_LINK_STYLE = "color:#0b57d0;text-decoration:underline;word-break:break-all;"


class _MessageIdsHeader(UnstructuredHeader):
    """In-Reply-To, References and List-Unsubscribe: folded between ids (or ``<URL>``s), never encoded.

    The email package folds these as free text and turns an id longer than a line into RFC 2047
    encoded words, which no mail client matches to the message it replies to (nor reads as a link).
    """

    def fold(self, *, policy: Policy) -> str:
        limit = policy.max_line_length or sys.maxsize
        first = f"{self.name}:"
        lines = [first]
        for message_id in self.split():
            if lines[-1] != first and len(lines[-1]) + 1 + len(message_id) > limit:
                lines.append("")
            lines[-1] += " " + message_id
        return policy.linesep.join(lines) + policy.linesep


def _policy() -> Policy:
    headers = HeaderRegistry()
    headers.map_to_type("in-reply-to", _MessageIdsHeader)
    headers.map_to_type("references", _MessageIdsHeader)
    headers.map_to_type("list-unsubscribe", _MessageIdsHeader)
    return email_policy.SMTP.clone(header_factory=headers)


_POLICY = _policy()


def compose_reply(
    replies: Sequence[Reply],
    *,
    to: str,
    subject: str,
    message_id: str | None,
    references: Sequence[str],
    from_address: str,
    shop_name: str,
    default_subject: str = DEFAULT_SUBJECT,
    update: Unsubscribe | None = None,
) -> EmailMessage:
    """The reply to a shopper's email, threaded under it: ``Re:`` subject, In-Reply-To and References.

    ``subject``, ``message_id`` and ``references`` are those of the shopper's message, as received; ids
    that are not valid msg-ids are left out. The message is 7-bit ASCII: non-ASCII names and subjects are
    RFC 2047 encoded, the bodies quoted-printable. Raises ``ValueError`` when ``to`` or ``from_address``
    is not an address a reply can be written to.

    With ``update``, it is an update the shopper asked for rather than a reply: ``subject`` is used as
    it is, ``Auto-Submitted: auto-generated`` and one-click unsubscribe (RFC 8058) to ``update.url``.
    """
    message = EmailMessage(policy=_POLICY)
    shop = _address(from_address, display_name=_one_line(shop_name))
    message["From"] = shop
    message["To"] = _address(to)
    if update is None:
        message["Subject"] = _reply_subject(subject, default_subject)
    else:
        message["Subject"] = _one_line(subject)[:_MAX_SUBJECT_CHARACTERS].strip() or default_subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=shop.domain)
    parent = _msg_id(message_id) if message_id else None
    if parent is not None:
        message["In-Reply-To"] = parent
    thread = _references(references, parent)
    if thread:
        message["References"] = " ".join(thread)
    # RFC 3834: marks the message as automatic, so well-behaved responders do not answer it; the
    # Microsoft header asks Exchange and Outlook for the same (no out-of-office, no auto-reply).
    message["Auto-Submitted"] = "auto-replied" if update is None else "auto-generated"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    if update is not None:
        # RFC 8058: a mail client's unsubscribe button POSTs "List-Unsubscribe=One-Click" to the URL.
        message["List-Unsubscribe"] = f"<{update.url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    blocks = [_lines(reply) for reply in replies]
    plain = "\n\n".join("\n".join(lines) for lines in blocks if lines)
    message.set_content(plain, subtype="plain", charset="utf-8", cte="quoted-printable")
    html_body = _html(replies, blocks, title=str(message["Subject"]))
    message.add_alternative(html_body, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """How the shopper stops the updates an email brings: a link that works without a login."""

    url: str
    """``https://…``; a POST of ``List-Unsubscribe=One-Click`` to it unsubscribes (RFC 8058)."""


class SmtpSender:
    """Sends stored replies (whole RFC 5322 messages) by SMTP, one connection per message."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None,
        password: str | None,
        starttls: bool,
        use_tls: bool,
        timeout: float = 10.0,
    ) -> None:
        """``timeout`` bounds each step of the session (connecting, each command); the outbox bounds the
        whole send (``SEND_TIMEOUT_SECONDS``)."""
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        # Implicit TLS is encrypted from the first byte, so there is nothing left for STARTTLS to do.
        self._starttls = starttls and not use_tls
        self._use_tls = use_tls
        self._timeout = timeout

    async def send(self, sender: str, recipient: str, text: str) -> str | None:
        """Send the message ``text`` with envelope ``sender`` → ``recipient``; its Message-ID."""
        try:
            envelope_from = _address(sender).addr_spec
            envelope_to = _address(recipient).addr_spec
        except ValueError as error:
            log.warning("email reply not sendable: an envelope address cannot be written in SMTP")
            raise SendFailed("an envelope address cannot be written in SMTP", permanent=True) from error
        try:
            # compose_reply writes 7-bit messages, so the stored text goes out byte for byte as it was
            # stored: re-parsing it could refold headers on the way.
            await aiosmtplib.send(
                text.encode(),
                sender=envelope_from,
                recipients=[envelope_to],
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._use_tls,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            refusal = error.recipients[0]
            raise _refused(
                "recipient refused", refusal.code, refusal.message, permanent=refusal.code >= 500
            ) from error
        except aiosmtplib.SMTPDataError as error:
            raise _refused(
                "message refused", error.code, error.message, permanent=error.code >= 500
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            # The server refused our own setup (sender address, login, greeting): retried, so replies
            # still go out once the configuration is fixed within the retry window.
            raise _refused("session refused", error.code, error.message, permanent=False) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            # Unreachable, timed out, disconnected, or missing what we require (STARTTLS): not now.
            log.warning("SMTP session failed", extra={"error": type(error).__name__, "will_retry": True})
            reason = f"SMTP session failed: {type(error).__name__} {redact(str(error))[:300]}"
            raise SendFailed(reason) from error
        return _message_id(text)

    async def aclose(self) -> None:
        """Nothing to release: every message has a connection of its own."""


def _refused(what: str, code: int, server_text: str, *, permanent: bool) -> SendFailed:
    log.warning("SMTP server: %s", what, extra={"smtp_code": code, "will_retry": not permanent})
    # The server's text often quotes the address it refused; it is kept for the operator, masked.
    return SendFailed(f"SMTP {what}: {code} {redact(server_text)[:300]}", permanent=permanent)


def _message_id(text: str) -> str | None:
    value = HeaderParser().parsestr(text, headersonly=True).get("Message-ID")
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def _address(addr_spec: str, display_name: str = "") -> Address:
    """``addr_spec`` as an ASCII address (an internationalized domain in its IDNA form)."""
    local, at, domain = addr_spec.strip().rpartition("@")
    # Non-ASCII local parts need SMTPUTF8 end to end, which the email package cannot write (3.11).
    if not at or not local.isascii():
        raise ValueError("not an email address that can be written in ASCII")
    try:
        return Address(display_name=display_name, addr_spec=f"{local}@{domain.encode('idna').decode()}")
    except (UnicodeError, ValueError, IndexError, HeaderParseError) as error:
        raise ValueError("not a valid email address") from error


def _one_line(text: str) -> str:
    """``text`` fit for a header: line breaks and other control characters become single spaces."""
    printable = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)
    return " ".join(printable.split())


def _reply_subject(subject: str, default: str) -> str:
    original = _REPLY_PREFIXES.sub("", _one_line(subject))[:_MAX_SUBJECT_CHARACTERS].strip()
    return f"Re: {original or default}"


def _msg_id(value: str) -> str | None:
    match = _MSG_ID.fullmatch(value.strip())
    return f"<{match.group(1) or match.group(2)}>" if match else None


def _references(references: Sequence[str], parent: str | None) -> list[str]:
    """Their References then their Message-ID (RFC 5322 section 3.6.4), each id once, the parent last."""
    if isinstance(references, str):  # a str is a Sequence[str] too: one header value, not characters
        references = (references,)
    ids = (_msg_id(token) for entry in references for token in entry.split())
    ancestors = [*dict.fromkeys(i for i in ids if i is not None and i != parent)]
    thread = ancestors + ([parent] if parent else [])
    if len(thread) > _MAX_REFERENCES:
        thread = thread[:1] + thread[-(_MAX_REFERENCES - 1) :]
    return thread


def _web_url(text: str) -> bool:
    """An http(s) address with a host: nothing else (``javascript:``, ``data:``) becomes a link."""
    if _URL.fullmatch(text) is None:
        return False
    try:
        return bool(urlsplit(text).hostname)
    except ValueError:
        return False


def _lines(reply: Reply) -> list[str]:
    """The reply's lines, then any tracking link the text does not already show."""
    lines = [line.strip() for line in reply.text.splitlines() if line.strip()]
    links = [link for link in dict.fromkeys(reply.links) if _web_url(link) and link not in reply.text]
    return lines + links


def _html(replies: Sequence[Reply], blocks: Sequence[list[str]], *, title: str) -> str:
    shown = [(reply, lines) for reply, lines in zip(replies, blocks, strict=True) if lines]
    language = replies[0].language if replies else "en"
    sections = []
    for index, (reply, lines) in enumerate(shown):
        # An order answer leads with its news (status, delivery date), so that line stands out.
        styles = [_LINE_STYLE] * len(lines)
        if reply.kind is ReplyKind.ORDER_ANSWER:
            styles[0] = _LEAD_STYLE
        paragraphs = "\n".join(
            f'<p style="{style}">{_linked(line)}</p>' for style, line in zip(styles, lines, strict=True)
        )
        spacing = _LAST_REPLY_STYLE if index == len(shown) - 1 else _REPLY_STYLE
        sections.append(f'<div style="{spacing}">\n{paragraphs}\n</div>')
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n"
        f'<body style="{_BODY_STYLE}">\n<div style="{_CARD_STYLE}">\n'
        + "\n".join(sections)
        + "\n</div>\n</body>\n</html>\n"
    )


def _linked(line: str) -> str:
    """One line as HTML: the text escaped, each web address in it a link."""
    pieces: list[str] = []
    end = 0
    for match in _URL.finditer(line):
        url = match.group(0)
        if not _web_url(url):
            continue
        pieces.append(html.escape(line[end : match.start()]))
        href = html.escape(url, quote=True)
        pieces.append(f'<a href="{href}" style="{_LINK_STYLE}">{html.escape(url)}</a>')
        end = match.end()
    pieces.append(html.escape(line[end:]))
    return "".join(pieces)
