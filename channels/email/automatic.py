"""Whether an email was written by a machine, and why — pure: no I/O, no database.

Answering a machine starts mail loops (two auto-responders answering each other), fills other people's
inboxes and, worst, opens tickets for the shop's team about a vacation notice. RFC 3834's
``Auto-Submitted`` is the standard, but many responders never send it: Lotus Notes' "AUTO:" replies,
iCloud's vacation notices, challenge-response filters, list managers without ``List-Id`` and bounces
from a bare ``MAILER-DAEMON``. So headers come first (what the sending software says about itself),
then the sender, the content type, and last the subject, read in the languages shoppers write in.

The reason is a short phrase for logs and ``lumen email explain``, never shown to a shopper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.errors import MessageError
from email.message import EmailMessage

# What the standard library's header parser may raise on a malformed value: such a header counts as absent.
_HEADER_ERRORS = (MessageError, ValueError, IndexError, AttributeError, TypeError)

_AUTOMATIC_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}
_SUPPRESSED_RESPONSES = {"all", "autoreply", "oof"}
# Present at all, whatever the value: each is written only by responders, list managers or bulk senders.
_AUTOMATIC_PRESENCE = (
    "X-Autoreply",
    "X-Autorespond",
    "Mailing-List",
    "X-MLServer",
    "X-Mailman-Version",
    "X-Apple-Action",
    "X-MS-Exchange-Generated-Message-Source",
    "Feedback-ID",
    "X-CSA-Complaints",
)
_SPAM = "spam: "
_SYSTEM_SENDERS = {"mailerdaemon", "postmaster"}
_NO_REPLY_PREFIXES = ("noreply", "donotreply")

# A subject is automatic only when the responder's label opens it ("Automatic reply: …", "AUTO: …",
# "Out of Office: …"): a shopper who mentions being away writes it inside a sentence or after "Re:", and
# "Re: out of stock?" or "Auto parts order" must stay answerable.
_REPLY_LABELS = (
    r"auto(?:matic|mated)?[ -]?(?:reply|response|answer)"
    r"|autoresponder|respuesta autom[aá]tica|r[eé]ponse automatique|automatische antwort"
    r"|automatisch antwoord|automatisch bericht|automatische reactie|risposta automatica"
    r"|resposta autom[aá]tica|(?:автоматический )?автоответ(?:чик)?|автоматический ответ"
)
# Absence and bounce labels must stand alone or be followed by ":", "(" or a spaced dash: "Out of office
# next week, hold my parcel?" and "Absent-minded me" are a shopper's words, "Out of Office: Re: …" a label.
_LABEL_END = r"\s*(?::|\(|$)|\s+[-\u2013\u2014]\s"  # hyphen, en and em dash
_ABSENCE_LABELS = (
    r"out of (?:the )?office|ooo|away from (?:the )?office|vacation(?: reply| response| notice)?"
    r"|on vacation|on holiday|holiday notice|fuera de (?:la )?oficina|ausente|de vacaciones"
    r"|aviso de ausencia|abwesenheitsnotiz|abwesenheit|abwesend|nicht im b[uü]ro|au(?:ß|ss)er haus|im urlaub"
    r"|absent(?:e)?(?: du bureau)?|absence(?: du bureau)?|message d'absence|en cong[eé]s?"
    r"|fora do escrit[oó]rio|ausente do escrit[oó]rio|aus[eê]ncia|em f[eé]rias|fuori (?:sede|ufficio)"
    r"|assente(?: dall'ufficio)?|in ferie|afwezig(?:heidsbericht)?|niet op kantoor|buiten kantoor"
    r"|met vakantie|вне офиса|нет на месте|в отпуске|отсутствую|отсутствие"
)
_BOUNCE_LABELS = (
    r"undelivered mail returned to sender|undeliver(?:ed|able)(?: mail| message)?"
    r"|delivery status notification|delivery (?:has )?failed|delivery failure|mail delivery failed"
    r"|failure notice|returned mail|unzustellbar|non remis"
    r"|no se puede entregar|non recapitabile|onbestelbaar|não entregue|не доставлено"
)
_SUBJECT_RULES = (
    ("auto-reply subject", re.compile(rf"^\s*(?:{_REPLY_LABELS})\b", re.IGNORECASE)),
    # Lotus Notes: "AUTO: Jane Doe is out of the office (returning 05/01/2010)".
    ("auto-reply subject", re.compile(r"^\s*auto\s*:", re.IGNORECASE)),
    ("out-of-office subject", re.compile(rf"^\s*(?:{_ABSENCE_LABELS})(?:{_LABEL_END})", re.IGNORECASE)),
    ("bounce subject", re.compile(rf"^\s*(?:{_BOUNCE_LABELS})(?:{_LABEL_END})", re.IGNORECASE)),
)
# Challenge-response filters hold mail until the sender proves to be a person; their phrases are long and
# specific enough to be looked for anywhere in the subject.
_CHALLENGE = re.compile(
    r"confirm (?:that )?you(?:'|\u2019| a)?re (?:a )?(?:human|real person|not a robot)"
    r"|verify (?:that )?you(?:'|\u2019| a)?re (?:a )?(?:human|real person|not a robot)"
    r"|verify your (?:e-?mail|address|message)(?: address)? (?:to|so) (?:deliver|be delivered|get)"
    r"|(?:e-?mail|message) (?:is |has been )?(?:held|awaiting|pending) (?:your )?verification"
    r"|sender verification"
    r"|confirme (?:que )?(?:usted )?(?:es|eres) (?:un )?humano|verificaci[oó]n (?:de|del) remitente"
    r"|best[aä]tigen sie, dass sie (?:ein )?mensch sind|absender(?:best[aä]tigung|verifizierung)"
    r"|confirmez que vous [eê]tes (?:un )?humain|v[eé]rification de l'exp[eé]diteur"
    r"|confirme que (?:voc[eê] )?[eé] (?:um )?humano|verifica[cç][aã]o do remetente"
    r"|conferma(?:re)? (?:di essere|che sei) (?:un )?umano|verifica del mittente"
    r"|bevestig dat u (?:een )?mens bent|afzenderverificatie"
    r"|подтвердите,? что вы (?:не робот|человек)|проверка отправителя",
    re.IGNORECASE,
)


# A responder's body, when neither its headers nor its subject give it away (an iCloud or webmail vacation
# notice that keeps the subject it answers): it says the writer is away *and* talks like a responder —
# promises an answer on return, warns of no access to email, points elsewhere for urgent matters.
# A shopper who mentions being away asks something, so a body with a question mark is never read as one.
_ABSENCE_TEXT = re.compile(
    r"\b(?:i am|i'm|i\u2019m|i will be|i'll be)(?: currently| now)? "
    r"(?:out of (?:the )?office|away|on (?:annual )?(?:leave|vacation|holiday)|travell?ing|not in the office)"
    r"|\b(?:estoy|me encuentro) (?:fuera de (?:la )?oficina|de vacaciones|ausente)"
    r"|\bich bin (?:derzeit |zurzeit |bis [^\n]{1,30}? )?"
    r"(?:nicht im b[uü]ro|abwesend|im urlaub|au(?:ß|ss)er haus)"
    r"|\bje suis (?:actuellement )?(?:absente?|en cong[eé]s?|en vacances)"
    r"|\bestou (?:atualmente )?(?:ausente|de f[eé]rias|fora do escrit[oó]rio)"
    r"|\bsono (?:attualmente )?(?:assente|fuori (?:sede|ufficio)|in ferie)"
    r"|\bik ben (?:momenteel |tot [^.\n]{1,30} )?(?:afwezig|met vakantie|niet op kantoor)"
    r"|\bя (?:сейчас )?(?:в отпуске|вне офиса|отсутствую)",
    re.IGNORECASE,
)
_ON_RETURN = (
    r"(?:when|once|upon|after) (?:i return|i(?:'m|\u2019m| am) back|i get back|my return)"
    r"|(?:a mi|cuando) (?:regreso|vuelva)|nach meiner r[uü]ckkehr|(?:[aà]|d[eè]s) mon retour"
    r"|quando (?:eu )?(?:voltar|regressar)|al (?:mio )?rientro|na (?:mijn )?terugkeer"
    r"|после (?:моего )?возвращения"
)
_ANSWER_VERBS = (
    r"respond|reply|answer|get back to you|deal with|respond(?:o|er[eé])|contestar[eé]|antworte|beantworte"
    r"|bearbeite|r[eé]pondrai|traiterai|responderei|retornarei|risponder[oò]|reageer|beantwoord|отвечу"
)
_RESPONDER_TEXT = re.compile(
    rf"\b(?:{_ANSWER_VERBS})\b[^.\n]{{0,80}}?(?:{_ON_RETURN})"
    r"|(?:limited|no) access to (?:my )?e-?mail|\b(?:for|in) urgent (?:matters|cases|enquiries|inquiries)"
    r"|will not be (?:read|forwarded)|asuntos urgentes|in dringenden f[aä]llen|wird nicht weitergeleitet"
    r"|en cas d'urgence|assuntos urgentes|per urgenze|voor dringende zaken|по срочным вопросам",
    re.IGNORECASE,
)
# How far into the new text a responder's phrases are looked for: they open its notice.
_BODY_HEAD = 1000


def automatic_reason(
    message: EmailMessage, sender: str, own_addresses: Iterable[str] = (), new_text: str = ""
) -> str | None:
    """Why the message was sent by a machine and must never be answered, or None when a person wrote it.

    ``sender`` is the From address as parsed (``MAILER-DAEMON`` alone when it has no domain);
    ``new_text`` what the message newly says (quotes and signature removed), read last."""
    return (
        _spam_verdict(message)
        or _header_reason(message)
        or _sender_reason(sender, own_addresses)
        or content_reason(message)
        or _subject_reason(next(iter(_values(message, "Subject")), ""))
        or _body_reason(new_text[:_BODY_HEAD])
    )


def spam_reason(verdict: str) -> str:
    """The reason for a message a spam filter flagged, ``verdict`` naming the filter and what it said."""
    return _SPAM + verdict


def is_spam(reason: str) -> bool:
    """Whether the reason is a spam filter's verdict rather than a machine's own mail."""
    return reason.startswith(_SPAM)


def _spam_verdict(message: EmailMessage) -> str | None:
    # SpamAssassin writes "X-Spam-Flag: YES" and "X-Spam-Status: Yes, score=…" (Postmark passes both on);
    # Mailgun writes "X-Mailgun-Sflag: Yes". A sender forging them only silences their own message.
    for name in ("X-Spam-Flag", "X-Mailgun-Sflag", "X-Spam-Status"):
        if any(value.split(",")[0].strip().lower() == "yes" for value in _values(message, name)):
            return spam_reason(f"{name}: Yes")
    return None


def _header_reason(message: EmailMessage) -> str | None:
    for value in _values(message, "Auto-Submitted"):
        kind = value.partition(";")[0].partition("(")[0].strip().lower()
        if kind not in ("", "no"):
            return f"Auto-Submitted: {kind}"
    for value in _values(message, "Precedence"):
        if value.strip().lower() in _AUTOMATIC_PRECEDENCE:
            return f"Precedence: {value.strip().lower()}"
    list_headers = sorted({name for name in message if name.lower().startswith("list-")})
    if list_headers:
        return f"mailing list ({list_headers[0]})"
    for name in _AUTOMATIC_PRESENCE:
        if name in message:
            return f"{name} header"
    suppressed = {
        token.strip().lower()
        for value in _values(message, "X-Auto-Response-Suppress")
        for token in value.split(",")
    }
    if suppressed & _SUPPRESSED_RESPONSES:
        return "X-Auto-Response-Suppress: " + ", ".join(sorted(suppressed & _SUPPRESSED_RESPONSES))
    if any(value.replace(" ", "") == "<>" for value in _values(message, "Return-Path")):
        return "null Return-Path"
    return None


def _sender_reason(sender: str, own_addresses: Iterable[str]) -> str | None:
    local_part = sender.rpartition("@")[0] if "@" in sender else sender
    local_part = re.sub(r"[-_.]", "", local_part.partition("+")[0].lower())
    # The reason names the local part only: it is logged, and a full address may name a person.
    if local_part in _SYSTEM_SENDERS or local_part in ("", "<>"):
        return f"system sender {sender.partition('@')[0] or '<>'}"
    if local_part.startswith(_NO_REPLY_PREFIXES):
        return f"no-reply sender {sender.partition('@')[0]}"
    if sender.casefold() in {address.strip().casefold() for address in own_addresses}:
        return "one of our own addresses"
    return None


def content_reason(message: EmailMessage) -> str | None:
    """A delivery report or read receipt, by the message's Content-Type."""
    try:
        content_type = message.get_content_type()
        report_type = str(message.get_param("report-type", "") or "").lower()
    except _HEADER_ERRORS:
        return None
    if content_type == "multipart/report":
        if report_type == "delivery-status":
            return "delivery status notification (RFC 3464)"
        if report_type == "disposition-notification":
            return "read receipt (RFC 8098)"
        return f"report ({report_type or 'multipart/report'})"
    if content_type in ("message/delivery-status", "message/disposition-notification"):
        return f"report ({content_type})"
    return None


def _subject_reason(subject: str) -> str | None:
    for reason, pattern in _SUBJECT_RULES:
        if pattern.search(subject):
            return reason
    return "challenge-response subject" if _CHALLENGE.search(subject) else None


def _body_reason(text: str) -> str | None:
    head = " ".join(text.split())  # a phrase may be wrapped across lines
    if _CHALLENGE.search(head):
        return "challenge-response text"
    if "?" not in head and _ABSENCE_TEXT.search(head) and _RESPONDER_TEXT.search(head):
        return "out-of-office text"
    return None


def _values(message: EmailMessage, name: str) -> list[str]:
    """Every value of a header, unfolded; one the parser chokes on counts as absent. A subject sent as raw
    UTF-8 (no RFC 2047 encoding, as some responders do) is kept by the parser as surrogate escapes."""
    try:
        values = message.get_all(name) or []
        texts = (str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace") for value in values)
        return [" ".join(text.split()) for text in texts]
    except (*_HEADER_ERRORS, UnicodeEncodeError):
        return []
