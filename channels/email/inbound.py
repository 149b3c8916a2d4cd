"""One inbound email, parsed into what the conversation core needs — pure: no I/O, no database.

Shoppers answer the order confirmation with their mail client's "reply" and write above (or, in
Thunderbird, below) the confirmation they quote. Only their own words may reach the understanding: an
order number that appears only in the quoted confirmation is kept apart, in ``quoted_text``. Mail that no
person wrote (auto-replies, bounces, mailing lists, our own messages) is flagged so it is never answered.

Quote and signature detection is left to maintained libraries — mail-parser-reply first, quotequail for
the reply and forward intros it does not know; what is done here beyond them is listed in ``strip_reply``.
"""

from __future__ import annotations

import codecs
import email
import re
import textwrap
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from email import policy
from email.errors import MessageError
from email.message import EmailMessage
from typing import cast

import authres
import mailparser_reply
import quotequail
from authres.core import AuthenticationResult
from email_validator import EmailNotValidError, validate_email
from inscriptis import get_annotated_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.html_properties import Display
from inscriptis.model.config import ParserConfig
from inscriptis.model.html_document_state import HtmlDocumentState
from inscriptis.model.html_element import HtmlElement
from inscriptis.model.tag import CustomHtmlTagHandlerMapping
from inscriptis.model.tag.list_tag import li_start_handler

from channels.email.automatic import automatic_reason

SUBJECT_LIMIT = 998
"""RFC 5322's line limit; a longer subject is cut."""
TEXT_LIMIT = 20_000
"""``new_text`` and ``quoted_text`` are cut here (the core cuts further)."""

# Only the head of a body is searched for quotes, in lines of at most 500 characters (far longer than any
# quote header): mail-parser-reply's "On … wrote:" pattern takes time quadratic in a line's length, and
# quotequail tries each of its patterns on every line, so it only reads the first lines, where an intro is.
_SCAN_LIMIT = 30_000
_LINE_LIMIT = 500
_INTRO_LINES = 200
_HTML_LIMIT = 200_000
# The standard library's header parser needs memory superlinear in the length of a field with many
# encoded words (a 280 KB Subject takes gigabytes), so longer fields are refused before parsing.
_HEADER_FIELD_LIMIT = 32_768
# authres takes a fraction of a millisecond per result; a receiving service adds one or a few short
# Authentication-Results headers, on top of the message, and those are the ones read.
_AUTH_HEADERS = 10
_AUTH_HEADER_LIMIT = 2048

# mail-parser-reply's languages, less three whose patterns cut ordinary English mail short: Danish takes a
# line starting "Tak…" ("Take…") for a sign-off, Swedish any line starting "/word", Polish a single line
# starting "Data:" or "Do:" for a quote header.
_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "cs", "ja", "ko", "zh")
# What mail-parser-reply does not know, given to it as one more "language" (``_Replies``): each header
# pattern is one capturing group (the library collects every group it finds as a header).
_LUMEN = "lumen"
_FIELD_LABELS = (
    "From|Sent|To|Subject|Date|Cc|De|Enviado el|Enviado|Para|Asunto|Assunto|Fecha|Data|Von|Gesendet|An|"
    "Betreff|Datum|Da|Inviato|Oggetto|Van|Verzonden|Aan|Onderwerp|Envoyé|Objet|À|От|Отправлено|Кому|Копия|"
    "Тема|Дата"
)
_ORIGINAL = (
    "Original Message|Ursprüngliche Nachricht|Originalnachricht|Message d'origine|Mensaje original|"
    "Mensagem original|Messaggio originale|Oorspronkelijk bericht|Исходное сообщение|Forwarded message|"
    "Mensaje reenviado|Weitergeleitete Nachricht|Message transféré|Mensagem encaminhada|Messaggio inoltrato|"
    "Doorgestuurd bericht|Пересылаемое сообщение"
)
_FORWARD_INTROS = (
    "Begin forwarded message|Inicio del mensaje reenviado|Anfang der weitergeleiteten Nachricht|"
    "Début du message réexpédié|Início da mensagem reencaminhada|Inizio messaggio inoltrato|"
    "Begin doorgestuurd bericht|Начало переадресованного сообщения"
)
_EXTRA_PATTERNS: dict[str, list[str]] = {
    "wrote_header": [
        # Apple Mail and Gmail in Portuguese, Spanish without the library's double space, Dutch Apple Mail.
        r"(^Em\s.{1,200}?\sescreveu\s?:$)",
        r"(^El\s.{1,200}?\sescribió\s?:$)",
        r"(^Op\s.{1,200}?\s(?:het volgende geschreven|schreef\s.{1,200}?)\s?:$)",
        # Russian: Mail.ru's "… user "X" <x@…> wrote:", Apple's "wrote (m/f):", Thunderbird's "writes:".
        r"(^.{1,200}\s(?:написал|написала|написал\(а\)|пишет)\s?:$)",  # noqa: RUF001 (Russian)
        # Gmail in Russian and other languages, Yandex: a date and time, then "Name <address>:".
        r"(^.{0,200}\d{1,2}:\d{2}.{0,200}<[^<>\s]+@[^<>\s]+>\s?:$)",
        # Yahoo's "--- On Tue, 11/24/26, x@example.com wrote:".
        r"(^-{2,3}\s?On\s.{1,200}\swrote\s?:$)",
        # Lotus Notes: "x@example.com wrote on 01/05/2010 10:02:13 AM:".
        r"(^.{1,200}\s(?:wrote on|schrieb am|a écrit le|escribió el|escreveu em|ha scritto il|schreef op)"
        r"\s.{1,100}:$)",
        r"(^-{3,}\s?(?:" + _ORIGINAL + r")\s?-{3,}$)",
        r"(^(?:" + _FORWARD_INTROS + r")\s?:$)",
        # Lotus Notes' header table: sender, date, then "To", "cc" and "Subject" on lines of their own.
        r"(^[^\n]{1,200}\n(?:[^\n]{1,200}\n)?\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\s\d{1,2}:\d{2}[^\n]{0,40}\n\n?"
        r"To\n(?:[^\n]*\n){0,3}?cc\n(?:[^\n]*\n){0,3}?Subject$)",
    ],
    # Outlook's header block with the labels of every language, "Enviado el:" among them, in one pattern:
    # the library wants two consecutive labelled lines of one language.
    "from_header": [r"((?:(?:^|\n)[* ]*(?:" + _FIELD_LABELS + r") ?:[ *]*.*){2,}(?:\n.*){,1})"],
    "sent_from": [
        # Only the words phones and apps write: a line "Sent from the warehouse" is the shopper's.
        "Sent from (?:my|Yahoo|Samsung|Mail|Outlook|AOL|Proton)|Sent with|Get Outlook for|Von meinem|"
        "Holen Sie sich Outlook|Envoyé de mon|Envoyé depuis|Obtenir Outlook|"
        "Enviado desde (?:mi|Yahoo|Outlook)|Obtener Outlook|Enviado do meu|Enviado a partir d|Inviato da|"
        "Inviato dal|Verstuurd vanaf|Verzonden vanaf|Verzonden met|Отправлено с|Отправлено из"  # noqa: RUF001
    ],
    # A line opening a signature, a list footer or a legal disclaimer: everything from it is not new text.
    "signatures": [
        "Cheers,|Many thanks,|Atenciosamente|Cumprimentos|Obrigad[oa],|Cordiali saluti|Saluti,|Grazie,|"
        "Cordialement|Bien à vous|Merci,|С уважением|Спасибо,|Regards|Viele Grüße",  # noqa: RUF001
        r"You received this message because you are subscribed|To unsubscribe|_{20,}",
        r"This (?:e-?mail|message|communication)\b.{0,80}\b(?:confidential|privileged)",
        r"CONFIDENTIALITY NOTICE|CONFIDENTIAL(?:ITY)?:|DISCLAIMER\b",
        r"(?:Der Inhalt dieser|Diese) (?:E-Mail|Nachricht)\b.{0,80}\bvertraulich",
        r"(?:Ce|Le présent) (?:message|courriel|e-mail)\b.{0,80}\bconfidentiel|AVIS DE CONFIDENTIALITÉ",
        r"(?:Este|El presente) (?:mensaje|correo)\b.{0,80}\bconfidencial|AVISO DE CONFIDENCIALIDAD",
        r"Esta mensagem\b.{0,80}\bconfidencia|AVISO DE CONFIDENCIALIDADE",
        r"Questo messaggio\b.{0,80}\b(?:riservat|confidenzial)",
        r"Dit (?:e-?mail)?bericht\b.{0,80}\b(?:vertrouwelijk|uitsluitend bestemd)",
        r"(?:Это|Настоящее) (?:сообщение|письмо)\b.{0,80}конфиденциальн",
    ],
}
_MAX_QUOTES = 10
"""Quoted blocks read in one body; an interleaved reply has a few."""
_SEPARATOR_LINE = re.compile(r"^_{20,}$", re.MULTILINE)
# A contact card: a name of one to four capitalised words, then a line with an address or a phone number
# alone (after a label); "Email\njane@…" or "Tracking\n1Z…" is an answer, not a card.
_CARD_LINES = 6
_CARD_FIELDS = re.compile(r"\n|\s+\|\s+")
_NAME_WORD = re.compile(r"[^\W\d_][\w.'-]*")
_NOT_NAMES = re.compile(
    r"e-?mail|mail|address|adresse|correo|courriel|endereço|indirizzo|adres|почта|адрес|order|tracking",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"[^\s@<>]+@[^\s@<>]+\.\w+")
_PHONE_LINE = re.compile(r"(?:[^\W\d_]{1,10}\.?:?\s?)?\+?\(?\d[\d ()./-]{5,}\d")

# What parsing raises on malformed input besides the standard library's own MessageError: its header
# parser fails with IndexError or AttributeError on some broken From and Message-ID values, deeply nested
# multiparts exhaust the recursion limit, and lxml (under inscriptis) refuses some HTML with ValueError.
_PARSER_ERRORS = (MessageError, ValueError, IndexError, AttributeError, RecursionError)

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_END_OF_HEADER = re.compile(rb"\r?\n\r?\n")
_FIELD_START = re.compile(rb"\r?\n(?![ \t])")
_BLANK_RUNS = re.compile(r"\n{3,}")
# Gmail writes "10:02\u202fAM" and French clients "a écrit\u00a0:"; the libraries' patterns expect spaces.
_NO_BREAK_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})
# Labels under which senders send what is really UTF-8 or Windows-1252 (the WHATWG encoding standard
# decodes both as Windows-1252); an unlabelled part is read the same way.
_LEGACY_CHARSETS = {"ascii", "iso8859-1"}
# Bounces come from a bare "MAILER-DAEMON" (no domain) often enough that refusing them would make the
# mail server piping to Lumen retry or alert; such a sender is kept as it is, and is automatic.
_SYSTEM_SENDERS = {"mailerdaemon", "postmaster"}


def _ignore_tag(state: HtmlDocumentState, attributes: dict[str, str] | None = None) -> None:
    """Tag handler that does nothing (inscriptis calls start handlers with attributes, end ones without)."""


def _list_item(state: HtmlDocumentState, attributes: dict[str, str]) -> None:
    # inscriptis raises ValueError on <li value="²"> or a value past Python's 4,300-digit int limit.
    li_start_handler(state, {})


_BLOCK = HtmlElement(display=Display.block)
# Every indentation and table layout is dropped: lines are stripped afterwards anyway, and indentation
# ("padding-left: 9999999em", nested lists) and table columns padded to their widest cell let a few
# kilobytes of HTML expand into hundreds of megabytes of spaces.
_HTML_CONFIG = ParserConfig(
    css={
        **CSS_PROFILES["strict"],
        "ul": _BLOCK,
        "ol": _BLOCK,
        "table": _BLOCK,
        "tr": _BLOCK,
        "td": _BLOCK,
        "th": _BLOCK,
    },
    annotation_rules={"blockquote": ["quote"]},
    custom_html_tag_handler_mapping=CustomHtmlTagHandlerMapping(
        start_tag_mapping={
            "table": _ignore_tag,
            "tr": _ignore_tag,
            "td": _ignore_tag,
            "th": _ignore_tag,
            "li": _list_item,
        },
        end_tag_mapping={"table": _ignore_tag, "td": _ignore_tag, "th": _ignore_tag},
    ),
)
_HTML_CONFIG.attribute_handler.attribute_mapping = {}  # inline styles: see above


class MalformedEmail(ValueError):
    """The message cannot be used; ``str()`` is a reason fit for a 4xx response."""


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    message_id: str | None
    """The Message-ID header as sent, e.g. ``<CAF=abc@mail.gmail.com>``."""
    sender: str
    """The From address, normalized with email-validator (domain lower-cased)."""
    sender_name: str | None
    subject: str
    """Decoded (RFC 2047), whitespace tidied, at most ``SUBJECT_LIMIT`` characters."""
    in_reply_to: str | None
    references: tuple[str, ...]
    """The message ids in References, in order."""
    new_text: str
    """Only what the shopper newly wrote: quoted history and signature removed."""
    quoted_text: str
    """The quoted history and signature (the last place to look for an order number); may be ``""``."""
    authenticated: bool
    """SPF or DKIM passed for the From domain and DMARC did not fail (see ``authentication_passed``)."""
    automatic_reason: str | None = None
    """Why the message was written by a machine (auto-reply, bounce, list, spam, ourselves) and must never
    be answered (see ``channels.email.automatic``); None for a message a person wrote."""

    @property
    def automatic(self) -> bool:
        return self.automatic_reason is not None


def parse_email(raw: bytes, *, own_addresses: Iterable[str] = ()) -> ParsedEmail:
    """Parse one message as received (RFC 5322 bytes). Raises only ``MalformedEmail``."""
    header = _END_OF_HEADER.split(raw, maxsplit=1)[0]
    if any(len(field) > _HEADER_FIELD_LIMIT for field in _FIELD_START.split(header)):
        raise MalformedEmail(f"a header field is longer than {_HEADER_FIELD_LIMIT} bytes")
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
    except _PARSER_ERRORS as error:
        raise MalformedEmail(f"the message cannot be parsed ({type(error).__name__})") from error
    return from_message(cast(EmailMessage, message), own_addresses=own_addresses)  # policy.default's class


def from_message(message: EmailMessage, *, own_addresses: Iterable[str] = ()) -> ParsedEmail:
    """Like ``parse_email``, for a message already parsed with ``policy.default`` (the caller bounds the
    size of its header fields, see ``parse_email``)."""
    sender, sender_name, ascii_domain = _sender(message)
    try:
        body = _body_text(message)
    except _PARSER_ERRORS as error:
        raise MalformedEmail(f"the message body cannot be read ({type(error).__name__})") from error
    new_text, quoted_text = strip_reply(body)
    subjects = _header_values(message, "Subject")
    message_ids = _header_values(message, "Message-ID")
    replied_to = _MESSAGE_ID.findall(" ".join(_header_values(message, "In-Reply-To")))
    return ParsedEmail(
        message_id=next(iter(message_ids), "") or None,
        sender=sender,
        sender_name=sender_name,
        subject=subjects[0][:SUBJECT_LIMIT] if subjects else "",
        in_reply_to=replied_to[0] if replied_to else None,
        references=tuple(_MESSAGE_ID.findall(" ".join(_header_values(message, "References")))),
        new_text=new_text,
        quoted_text=quoted_text,
        # Only the topmost result is the receiving service's own: every header below it came with the
        # message, and a sender can write "spf=pass" as easily as anything else.
        authenticated=authentication_passed(
            _header_values(message, "Authentication-Results")[:1], ascii_domain
        ),
        automatic_reason=automatic_reason(message, sender, own_addresses, new_text),
    )


def strip_reply(text: str) -> tuple[str, str]:
    """Split a plain-text body into (the shopper's new text, the quoted history and signature).

    mail-parser-reply finds the quote header ("On … wrote:", "Le … a écrit :", "Am … schrieb …:",
    Outlook's "From: … Sent: …" block, "-----Original Message-----") and the signature; quotequail is
    asked when it finds none (it knows more intros, e.g. Spanish "El … escribió:"). Added here, each
    for a reply shape the libraries get wrong:

    - no-break spaces become spaces, or Gmail's French "a écrit\u00a0:" is not recognised;
    - a reply written below the quote (Thunderbird's default) is taken from below it — the libraries
      return the text above the first quote header, which is then empty;
    - lines quoted with ">" are quoted history wherever they are (interleaved replies, quotes with no
      intro line, HTML blockquotes rendered by ``html_to_text``);
    - a sign-off line that asks a question ("Thanks, has it shipped?") is kept: mail-parser-reply takes
      any line opening with "Thanks," or "Best," for the start of the signature.
    """
    own, quoted, quoted_below = _split_quotes(_prepare(text))
    # mail-parser-reply deletes a separator line of underscores before looking for the signature it
    # opens (a list footer, Outlook's line above its header block); "__" is a separator it keeps.
    own = _SEPARATOR_LINE.sub("__", own)
    first, *rest = _replies(_BLANK_RUNS.sub("\n\n", own).strip())
    removed = [first.signatures, *first.disclaimers, *(reply.content for reply in rest)]
    if "?" in first.signatures.partition("\n")[0]:
        new_text, removed = first.full_body, [reply.content for reply in rest]
    else:
        new_text = _body(first)
    new_text, card = _without_contact_card(new_text)
    removed.insert(0, card)
    # In the order they came: a signature above the quote (top-posting) or below it (bottom-posting).
    parts = [*quoted, *removed] if quoted_below else [*removed, *quoted]
    quoted_text = "\n\n".join(part.strip() for part in parts if part.strip())
    return new_text[:TEXT_LIMIT], quoted_text[:TEXT_LIMIT]


def _without_contact_card(text: str) -> tuple[str, str]:
    """(text, "") or, when its last paragraph is a signature with no marker above it — a name line, then
    an email address or phone number — (the text before it, that paragraph).

    Its address is a colleague's or a work one as often as the one on the order: read as the shopper's,
    it would be checked against the order and count as a failed attempt."""
    head, blank, last = text.rpartition("\n\n")
    lines = _CARD_FIELDS.split(last)  # "Jane Doe | Buyer | jane@…" is a card on one line
    if (
        not blank
        or not head.strip()
        or not 2 <= len(lines) <= _CARD_LINES
        or "?" in last
        or not _is_name(lines[0])
        or not any(_ADDRESS.search(line) or _PHONE_LINE.fullmatch(line) for line in lines[1:])
    ):
        return text, ""
    return head.rstrip(), last


def _is_name(line: str) -> bool:
    words = line.split()
    return (
        1 <= len(words) <= 4
        and all(_NAME_WORD.fullmatch(word) and word[0].isupper() for word in words)
        and not any(_NOT_NAMES.fullmatch(word) for word in words)
    )


def _body(reply: mailparser_reply.EmailReply) -> str:
    """The reply without its signature and disclaimers. ``EmailReply.body`` removes the disclaimers
    first, and then no longer finds a signature that contains one (a sign-off above a legal notice)."""
    text = reply.content
    if reply.signatures and text.endswith(reply.signatures):
        text = text[: -len(reply.signatures)]
    for disclaimer in reply.disclaimers:
        text = text.replace(disclaimer, "")
    return text.strip()


def _split_quotes(text: str) -> tuple[str, list[str], bool]:
    """(the unquoted lines, the quote intros and quoted blocks, whether new text follows a quote).

    A quote intro followed by ">" lines quotes only those lines: what comes after them is the shopper's
    again (bottom-posting, interleaving) and is searched for the next quote. An intro followed by
    unquoted text (Outlook's header block, a forwarded message) quotes everything after it."""
    own: list[str] = []
    quoted: list[str] = []
    below = False
    rest = text
    for _ in range(_MAX_QUOTES):
        before, intro, after = _find_quote(rest)
        unquoted, blocks, follows = _unquoted_lines(before)
        own.append(unquoted)
        quoted.extend(blocks)
        below = below or follows
        if not intro:
            break
        quoted.append(intro)
        if not after.lstrip().startswith(">"):
            quoted.append(after)
            break
        rest, blocks, _ = _unquoted_lines(after)
        quoted.extend(blocks)
        below = below or bool(rest.strip())
        if not rest.strip():
            break
    else:
        quoted.append(rest)
    return "\n\n".join(part.strip() for part in own if part.strip()), quoted, below


def _unquoted_lines(text: str) -> tuple[str, list[str], bool]:
    """(the lines not quoted with ">", the runs of quoted lines, whether an unquoted line follows one)."""
    own: list[str] = []
    blocks: list[list[str]] = []
    quoting = follows = False
    for line in text.split("\n"):
        if line.startswith(">"):
            if not quoting:
                blocks.append([])
            blocks[-1].append(line)
        else:
            own.append(line)
            follows = follows or bool(blocks and line)
        quoting = line.startswith(">")
    return "\n".join(own), ["\n".join(block) for block in blocks], follows


def html_to_text(html: str) -> str:
    """Text of an HTML body, one stripped line per line; blockquotes are quoted with "> " as mail clients
    do when they turn HTML into plain text, so ``strip_reply`` treats both kinds of body alike.

    Raises ValueError on the rare HTML lxml refuses (a repeated XML declaration with an encoding)."""
    rendered = get_annotated_text(html[:_HTML_LIMIT], _HTML_CONFIG)
    labels = rendered.get("label", [])
    starts = sorted(start for start, _, _ in labels)
    ends = sorted(end for _, end, _ in labels)
    lines: list[str] = []
    offset = 0
    for line in rendered.get("text", "").split("\n"):
        content = line.strip()
        first_char = offset + len(line) - len(line.lstrip())
        depth = bisect_right(starts, first_char) - bisect_right(ends, first_char)
        lines.append((">" * depth + " " + content).strip() if depth else content)
        offset += len(line) + 1
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def authentication_passed(results: Sequence[str], from_domain: str) -> bool:
    """Whether ``Authentication-Results`` values vouch for ``from_domain`` (ASCII form).

    True when SPF passed for an envelope sender (smtp.mailfrom) in the From domain or a subdomain of it,
    or DKIM passed with a signing domain (header.d, or header.i's domain) equal to or a parent of the
    From domain — and no DMARC check failed. A header authres cannot parse is read one result at a time,
    so one malformed or vendor-specific result does not hide the others. Only the first 10 headers are
    read, each up to 2,048 characters.

    The caller must only pass headers its own receiving service added: anything below them in the
    message was written by the sender.
    """
    domain = _domain_of(from_domain)
    passed = False
    for header in results[:_AUTH_HEADERS]:
        for result in _auth_results(header[:_AUTH_HEADER_LIMIT]):
            method, outcome = str(result.method).lower(), str(result.result).lower()
            if method == "dmarc" and outcome == "fail":
                return False
            if outcome != "pass" or not domain:
                continue
            if method == "spf":
                envelope = _property_domains(result, ("smtp", "mailfrom"))
                passed |= any(sent == domain or sent.endswith("." + domain) for sent in envelope)
            elif method == "dkim":
                signers = _property_domains(result, ("header", "d"), ("header", "i"))
                passed |= any(domain == signer or domain.endswith("." + signer) for signer in signers)
    return passed


# ---------------------------------------------------------------------------------------------------


def _sender(message: EmailMessage) -> tuple[str, str | None, str]:
    """(normalized address, display name, ASCII domain) of the one From address."""
    try:
        fields = message.get_all("From") or []
        addresses = [address for field in fields for address in field.addresses]
    except _PARSER_ERRORS as error:
        raise MalformedEmail("the From header cannot be parsed") from error
    if not fields:
        raise MalformedEmail("the message has no From header")
    if not addresses:
        raise MalformedEmail("the From header names no address")
    # Several authors leave no one to verify, and a second From is a known way to spoof the first.
    if len(addresses) > 1:
        raise MalformedEmail("the message names more than one From address")
    address = addresses[0]
    name = _unescape(" ".join(address.display_name.split())) or None
    if address.addr_spec == "<>" or (
        not address.domain and re.sub(r"[-_.]", "", address.username.lower()) in _SYSTEM_SENDERS
    ):
        return address.addr_spec, name, ""
    try:
        valid = validate_email(address.addr_spec, check_deliverability=False)
    except EmailNotValidError as error:
        raise MalformedEmail(f"the From address is not valid: {error}") from error
    return valid.normalized, name, valid.ascii_domain


def _header_values(message: EmailMessage, name: str) -> list[str]:
    """Every value of a header, decoded and unfolded; one the parser chokes on counts as absent."""
    try:
        values = message.get_all(name) or []
        return [_unescape(" ".join(str(value).split())) for value in values]
    except _PARSER_ERRORS:
        return []


def _body_text(message: EmailMessage) -> str:
    """The text/plain body, or the text/html one as text when there is no plain text. Attachments
    (parts with ``Content-Disposition: attachment``) are never bodies."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        text = _decoded(plain)[:_SCAN_LIMIT]
        if str(plain.get_param("format", "")).lower() == "flowed":
            text = _unflow(text, delsp=str(plain.get_param("delsp", "")).lower() == "yes")
        if text.strip():
            return text
    html = message.get_body(preferencelist=("html",))
    return html_to_text(_decoded(html)) if html is not None else ""


def _decoded(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    raw = payload if isinstance(payload, bytes) else b""
    return _decode(raw, part.get_content_charset()).replace("\r\n", "\n").replace("\r", "\n")


def _decode(raw: bytes, charset: str | None) -> str:
    try:
        codec = codecs.lookup(charset).name if charset else None
    except (LookupError, ValueError):
        codec = None  # an unknown label: guess as for an unlabelled part
    if codec is not None and codec not in _LEGACY_CHARSETS:
        with suppress(LookupError, ValueError):  # a codec that is no text encoding ("base64", "rot13")
            return raw.decode(codec, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _unescape(value: str) -> str:
    """Header text in which the parser kept raw 8-bit bytes as surrogate escapes, decoded like a body."""
    try:
        return _decode(value.encode("utf-8", "surrogateescape"), None)
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return value.encode("utf-8", "replace").decode("utf-8")


def _unflow(text: str, *, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: a line ending in a space continues on the next of the same quote
    depth (Apple Mail and Thunderbird wrap paragraphs, and quote headers, this way)."""
    lines: list[list[str]] = []
    joining = False
    depth = 0
    for line in text.split("\n"):
        line_depth = len(line) - len(line.lstrip(">"))
        content = line[line_depth:].removeprefix(" ")  # space-stuffing
        joining_this = joining and line_depth == depth
        depth = line_depth
        joining = content.endswith(" ") and content != "-- "
        if joining and delsp:
            content = content[:-1]
        if joining_this:
            lines[-1].append(content)
        else:
            lines.append([">" * depth + " " if depth else "", content])
    return "\n".join("".join(parts) for parts in lines)


def _prepare(text: str) -> str:
    """Bounded text with stripped lines, no-break spaces as spaces and runs of blank lines as one blank
    line (the shape mail-parser-reply normalizes to; runs of blank lines also make it slow)."""
    text = text[:_SCAN_LIMIT].replace("\r\n", "\n").replace("\r", "\n").translate(_NO_BREAK_SPACES)
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if len(line) > _LINE_LIMIT:
            lines.extend(textwrap.wrap(line, _LINE_LIMIT, break_on_hyphens=False))
        else:
            lines.append(line)
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


class _Replies(mailparser_reply.EmailMessage):
    """mail-parser-reply with ``_EXTRA_PATTERNS`` as one more language (its own extension point)."""

    def _get_language_regex(self, language: str, regex_key: str) -> str:
        if language == _LUMEN:
            return "|".join(_EXTRA_PATTERNS.get(regex_key, []))
        return cast(str, super()._get_language_regex(language, regex_key))


def _replies(text: str) -> list[mailparser_reply.EmailReply]:
    message = _Replies(text=text, languages=[*_LANGUAGES, _LUMEN], keep_hyphen_lists=True)
    return message.read().replies


def _find_quote(text: str) -> tuple[str, str, str]:
    """(text before the first quote intro or header, the intro, text after it); ("text", "", "") when
    there is none."""
    first, *rest = _replies(text)
    header = first.headers or (rest[0].headers if rest else "")
    start = text.find(header) if header else -1
    if start >= 0:
        return text[:start], header, text[start + len(header) :]
    head = "\n".join(text.split("\n", _INTRO_LINES)[:_INTRO_LINES])
    # Past line `limit` quotequail takes everything for quoted, intro or not: never within the head.
    from_intro = quotequail.quote(head, limit=_INTRO_LINES + 1, quote_intro_line=True)
    past_intro = quotequail.quote(head, limit=_INTRO_LINES + 1)
    if len(from_intro) < 2 or len(past_intro) < 2:
        return text, "", ""
    start, end = len(head) - len(from_intro[1][1]), len(head) - len(past_intro[1][1])
    return text[:start], text[start:end], text[end:]


def _auth_results(header: str) -> list[AuthenticationResult]:
    try:
        return authres.parse_value(header).results
    except authres.AuthResError:
        results: list[AuthenticationResult] = []
        for resinfo in header.split(";")[1:]:
            with suppress(authres.AuthResError):
                results.extend(authres.parse_value(f"fallback; {resinfo}").results)
        return results


def _property_domains(result: AuthenticationResult, *keys: tuple[str, str]) -> list[str]:
    values = (prop.value for prop in result.properties if (prop.type, prop.name) in keys)
    return [domain for value in values if (domain := _domain_of(str(value or "")))]


def _domain_of(value: str) -> str:
    """``jane@Example.COM.`` or ``@example.com`` or ``example.com`` → ``example.com``."""
    return value.rpartition("@")[2].strip().rstrip(".").lower()
