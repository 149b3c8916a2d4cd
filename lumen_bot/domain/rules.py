"""Rule-based understanding: offline, pure and fast enough to run on every message.

A message is read in three passes over normalized copies of the text:

1. the email address, anywhere (email-validator decides what is one);
2. the order number: a token in the shop's order-number shape, kept when a marker ("order", "#",
   "order no.") or the context says it is one, dropped when it reads as a quantity, price, date,
   year, time, phone number or postal code;
3. the intent, from keyword patterns in order of precedence (see :meth:`RuleUnderstander._intent`),
   after common typos are corrected word by word.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from typing import Literal

from lumen_bot.domain.identifiers import DEFAULT_ORDER_NUMBER_PATTERN, normalize_order_number
from lumen_bot.domain.orders import MaxLength
from lumen_bot.domain.text import EMAIL_LIKE, SPACES, emails_in, normalize_text
from lumen_bot.domain.understanding import (
    UPDATE_REQUESTS,
    Explanation,
    Intent,
    Question,
    Reading,
    Topic,
    Understanding,
)


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


# --- Normalization ------------------------------------------------------------------------------------

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_URL = re.compile(r"(?:https?://|www\.)\S+|(?<![\w.-])[\w-]+(?:\.[\w-]+)+/\S*", re.IGNORECASE)


# --- Typos --------------------------------------------------------------------------------------------

# Words the intent patterns rely on. A word one edit away from one of them (a letter dropped, added or
# changed, or two letters swapped) is read as that word. Keywords have six letters or more: among
# shorter words too many real ones are one edit apart ("order"/"older", "where"/"were").
# fmt: off
_KEYWORDS = frozenset({
    "account", "address", "arrival", "arrive", "arrived", "arriving", "assistance", "assistant", "broken",
    "cancel", "canceling", "cancellation", "cancelling", "change", "changing", "compensation", "complain",
    "complaint", "contact", "customer", "damaged", "defective", "delivered", "delivery", "dispatched",
    "estimate", "estimated", "exchange", "expect", "expected", "invoice", "missing", "modify", "newsletter",
    "operator", "package", "parcel", "password", "payment", "person", "problem", "problems", "purchase",
    "rebate", "receive", "received", "reclamation", "refund", "refunds", "reimburse", "reimbursement",
    "reimbursements", "representative", "restitution", "return", "service", "shipment", "shipped",
    "shipping", "somebody", "someone", "status", "subscription", "support", "thanks", "tracking", "trouble",
    "troubles", "update"
})
# fmt: on
# Real words one edit away from a keyword: they are meant as written.
# fmt: off
_NOT_TYPOS = frozenset({
    "arrives", "broker", "cancer", "chance", "changed", "charge", "charging", "chipped", "chipping",
    "clipping", "contract", "cracking", "debate", "deceive", "deceived", "deliver", "detective", "expects",
    "expended", "expert", "hissing", "kissing", "messing", "mussing", "parson", "persona", "persons",
    "pissing", "purchased", "racking", "rebase", "receiver", "relate", "returned", "shopped", "shopping",
    "sipping", "skipped", "skipping", "slipped", "slipping", "states", "stats", "statue", "supports",
    "tacking", "thinks", "tracing", "tricking", "trucking", "updated", "updates", "whipped", "whipping"
})
# fmt: on


def _one_edit_variants(word: str) -> Iterator[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(len(word) + 1):
        left, right = word[:i], word[i:]
        yield from (left + ch + right for ch in letters)
        if right:
            yield left + right[1:]
            yield from (left + ch + right[1:] for ch in letters)
        if len(right) > 1:
            yield left + right[1] + right[0] + right[2:]


def _build_corrections() -> dict[str, str]:
    corrections: dict[str, str] = {}
    for keyword in sorted(_KEYWORDS):  # sorted: a variant of two keywords goes to the same one every run
        for variant in _one_edit_variants(keyword):
            corrections.setdefault(variant, keyword)
    for word in (*_KEYWORDS, *_NOT_TYPOS):
        corrections.pop(word, None)
    return corrections


_CORRECTIONS = _build_corrections()
_LONG_WORD = re.compile(r"\b[a-z]{5,}\b")


def _correct_typos(text: str) -> str:
    return _LONG_WORD.sub(lambda match: _CORRECTIONS.get(match.group(), match.group()), text)


# --- Intent patterns, on lower-case text without apostrophes ("hasnt", "wheres") ----------------------

_GAP = r"(?:\W+\w+){0,4}?\W+"  # up to four words in between
_PARCEL = r"(?:orders?|ordr|oder|packages?|parcels?|shipments?|deliver(?:y|ies)|purchases?|stuff)"
_ORDER = rf"(?:{_PARCEL}|items?|box|goods)"
# Numbers that the words before them say are something else: "invoice #12588", "apt 302".
# fmt: off
_OTHER_IDENTIFIERS = (
    "invoice", "bill", "receipt", "ticket", "case", "account", "item", "sku", "product", "model", "room",
    "apt", "apartment", "suite", "unit", "flat", "house", "zip", "postcode", "phone",
    # travel, customers, taxes and lines, in the five languages
    "flight", "flug", "vol", "vuelo", "voo", "bus", "autocarro", "onibus", "linie", "linea", "ligne", "train",
    "zug", "tren", "client", "cliente", "kunde", "kundennummer", "kundennr", "customer", "vat", "tva", "iva",
    "nif", "cif", "cpf", "cnpj", "piso", "factura", "facture", "rechnung", "fatura",
    # where someone lives: a street, a flat, a post office box
    "apto", "depto", "dpto", "appart", "appartement", "wohnung", "top", "tur", "zimmer", "raum", "etage",
    "interphone", "packstation", "postfach", "av", "avenida", "calle", "rua", "rue", "strasse", "str",
    "br", "ruta", "route",
)
# fmt: on
_A_NUMBER = "".join(rf"(?<!{word} )" for word in _OTHER_IDENTIFIERS) + r"\#?\d{3,}"
_PERSON = (
    r"(?<!delivery )(?<!courier )(?<!postal )(?<!post )"
    r"(?:someone|somebody|some one|anyone|a person|real person|live person|person|human|humans"
    r"|agents?|representatives?|reps?|operators?|staff|manager|supervisor|assistant|employee|real people"
    r"|customer (?:service|support|care|assistance)|support (?:team|staff))"
)

_HUMAN_REQUEST = _any(
    rf"\b(?:talk|talking|speak|speaking|chat|chatting|contact|contacting|reach|reaching|call|calling"
    rf"|connect|transfer|put me through|get me|get in touch|need|want|give me)\b{_GAP}{_PERSON}\b",
    r"\b(?:contact|reach|call|email|phone)\s+(?:the\s+|your\s+)?(?:support|help ?desk|you guys|your team)\b",
    r"\b(?:real|live|actual) (?:person|human|agent|people)\b",
    r"\byour (?:phone|telephone|hotline|contact) ?(?:number|line|details|info)?\b|\bhotline\b",
)
_HUMAN_MENTION = re.compile(
    r"\b(?:humans?|agents?|representatives?|operators?|call cent(?:er|re)|support team"
    r"|(?:customer|client) (?:service|support|care|assistance))\b"
)

# Asking for a refund, a return, a cancellation … is a request the bot cannot serve: it wins over
# status words ("a refund for order 1042, which hasn't arrived").
_TOPICS: tuple[tuple[Topic, re.Pattern[str]], ...] = (
    (
        Topic.REFUND,
        _any(
            r"\b(?:refund\w*|reimburs\w*|rebates?|restitutions?|compensat\w*|chargebacks?|charge back"
            r"|money back)\b"
        ),
    ),
    (
        Topic.RETURN,
        _any(
            r"\b(?:return|returns|returning|exchange|exchanging|rma)\b",
            r"\bsend(?:ing)? (?:it |this |them |these |the \w+ )?back\b",
            r"\b(?:wrong|different|bigger|smaller|another) (?:size|colou?r)\b",
        ),
    ),
    (
        # Accounts and subscriptions are cancelled too; that is not the order.
        Topic.CANCEL,
        _any(
            r"\bcancel(?:l?ing|lation|ation)?\b"
            r"(?!(?:\W+\w+){0,3}?\W+(?:account|subscription|newsletter|membership|updates?|notifications?"
            r"|alerts?|messages?|texts?|e-?mails?))",
            r"\b(?:dont|do not|no longer) (?:want|need)\b"
            r"(?!(?:\W+\w+){0,2}?\W+(?:updates?|notifications?|alerts?|messages?|texts?|e-?mails?)\b)"
            r"(?:\W+\w+){0,2}?\W+(?:order|purchase|it)\b",
        ),
    ),
    (
        Topic.ADDRESS_CHANGE,
        _any(
            r"\b(?:change|changing|changed|update|updating|edit|editing|correct|correcting|modify|modifying"
            r"|fix|fixing|set|setting|enter|entering|add|adding|submit|submitting|new|different"
            r"|another|secondary|alternate|wrong|incorrect|invalid)\b"
            r"(?:\W+\w+){0,3}?\W+(?<!email )(?<!e-mail )address(?:es)?\b",
            r"(?<!email )(?<!e-mail )\baddress (?:change|update|correction|modification"
            r"|(?:has |have )?changed|is (?:not |in)?(?:valid|wrong|correct)|isnt (?:valid|right|correct))",
            r"\bi (?:have |just )?moved\b|\b(?:redirect|reroute)\b",
            r"\b(?:deliver|ship|send)\w*\b(?:\W+\w+){0,4}?\W+instead\b",
        ),
    ),
    (
        Topic.DAMAGED,
        _any(
            r"\b(?:damaged?|broken|broke|cracked|smashed|crushed|shattered|defective|faulty|dented|torn"
            r"|ripped|leak(?:ing|ed|s)|scratched|stained)\b"
            r"(?!\W+(?:tracking\W+)?(?:link|url|page|site|website))",
            # A tracking link that "doesn't work" is not a faulty product.
            r"^(?!.*\b(?:link|url|website|site|page|app|code|coupon|button|tracking|checkout|login|card"
            r"|payment)\b).*\b(?:doesnt|does not|dont|do not|isnt|is not|wont|will not|stopped|not)\s+"
            r"(?:work|working|turn on)\b",
        ),
    ),
    (
        # "My package is missing" is a package that has not arrived; here something is missing from it.
        Topic.MISSING_ITEM,
        _any(
            r"\bmissing (?:(?:an?|one|two|some|several|the|my|\d+) )?(?:items?|parts?|pieces?|products?"
            r"|articles?|accessor\w+|components?)\b",
            r"\b(?:items?|parts?|pieces?|products?|something|one|some|half|articles?)\s+"
            r"(?:is |are |was |were )?missing\b",
            r"\bmissing (?:from|in) (?:my |the )?(?:order|package|parcel|box|delivery|shipment)\b",
            r"\bonly (?:got|received|came with|contained|had)\s+(?:one|two|part|half|some|\d)\b",
            r"\b(?:box|package|parcel)\s+(?:was|is|came|arrived)\s+empty\b",
            r"\bincomplete (?:order|delivery|shipment|package)\b",
            r"\bwrong (?:items?|products?|thing)\b|\bnot what i ordered\b|\bsomeone elses\b",
        ),
    ),
    (
        Topic.PAYMENT,
        _any(
            rf"\bpayments?\b{_GAP}(?:fail\w*|declined|errors?|issues?|problems?|rejected|pending|stuck|wrong)\b",
            rf"\b(?:issues?|problems?|errors?|troubles?|difficult\w*)\b{_GAP}(?:payments?|paying|pay|checkout"
            r"|billing)\b",
            r"\b(?:help|question|questions)\s+(?:with|regarding|about|on)\s+(?:my\s+|the\s+|an?\s+)?(?:online\s+)?"
            r"payments?\b",
            r"\bpayments? (?:methods?|options?)\b",
            r"\b(?:cant|cannot|can not|unable to|couldnt|could not)\s+(?:\w+\s+)?(?:pay|make (?:a |the )?"
            r"(?:payment|transfer)s?|checkout|check out)\b",
            r"\b(?:charged|billed)\s+(?:me\s+)?(?:twice|double|two times|wrong|too much|incorrectly|again)\b",
            r"\bdouble[- ]?(?:charged|billed)\b|\bovercharged\b",
            r"\bcard (?:was |got |is )?(?:declined|rejected)\b",
        ),
    ),
    (
        Topic.COMPLAINT,
        _any(
            r"\b(?:complain\w*|grievance|reclamation)\b",
            r"\b(?:file|filing|make|making|lodge|lodging|submit|submitting|open|opening|raise|raising|place"
            r"|placing)\b(?:\W+\w+){0,3}?\W+claims?\b",
            r"\bclaims? against\b",
        ),
    ),
    (
        # Changing what was ordered, or ordering something new.
        Topic.OTHER,
        _any(
            r"\b(?:change|changing|modify|modifying|edit|editing|amend|amending|alter|altering|adjust"
            r"|adjusting|correct|correcting|update|updating)\s+(?:(?:my|the|this|an?|that|your)\s+)?"
            r"(?:order|purchase)\b",
            r"\b(?:add|adding|remove|removing|delete|deleting|swap|swapping|switch|switching|replace"
            r"|replacing)\b(?:\W+\w+){0,3}?\W+(?:items?|products?|articles?|something|size|colou?r)\b",
            r"\b(?:change|changing|modify|modifying|edit|editing|swap|swapping|switch|switching|replace|replacing"
            r"|add|adding|remove|removing|delete|deleting)\b(?:\W+\w+){0,4}?\W+(?:of|in|on|to|from)\s+"
            r"(?:my |the |this |that |an? )?(?:order|purchase)\b",
            # Pre-sale questions about shipping are not about an order that exists.
            r"\b(?:shipping|shipment|delivery) (?:options?|methods?|costs?|fees?|rates?|prices?|charges?)\b",
            r"\b(?:options?|methods?) (?:for|of) (?:shipping|shipment|delivery)\b",
            r"\bdo (?:you|u) (?:ship|deliver)\b|\bfree (?:shipping|delivery)\b",
            r"\bhow much (?:is|does|for|will|to)\b(?:\W+\w+){0,3}?\W+(?:shipping|delivery|postage)\b",
            r"\b(?:change|reschedule|move)\b(?:\W+\w+){0,2}?\W+delivery (?:date|day|time|slot)\b",
            r"\b(?:need|want|get|send|download|request|copy of|wheres|where is)\b(?:\W+\w+){0,3}?\W+"
            r"(?:invoice|receipt|bill)s?\b",
            r"\b(?:place|placing|make|making)\s+(?:an?\s+|another\s+|new\s+)*(?:order|purchase)\b",
            r"\b(?:buy|buying)\b|\b(?:(?:want|like|need|how|going|wish|plan) to|wanna|can i|could i|can we)"
            r" (?:order|purchase)\b(?!\s+(?:number|no|status|id|#))",
        ),
    ),
)

_PARCEL_WORD = re.compile(rf"\b{_PARCEL}\b")
_ACCOUNT_SUBJECTS = re.compile(
    r"\b(?:accounts?|passwords?|pwd|log ?in|login|sign ?in|sign ?up|signup|registration|newsletters?"
    r"|subscriptions?|invoices?|receipts?|bills?)\b"
)

_TRACKING_EXPLICIT = re.compile(
    r"\b(?:tracking|track)\s*(?:numbers?|nos?|links?|codes?|ids?|info|information|details|urls?|page)\b"
    r"|\bwaybill\b"
)
# "Tracking?", "send tracking pls", "no tracking" ask for it; "the tracking says …" is about the status.
_TRACKING_BARE = _any(
    r"^\W*tracking\W*(?:please|pls|plz)?\W*$",
    r"\b(?:send|give|get|share|have|need|want|provide|no|any|wheres|where is)\b(?:\W+\w+){0,2}?\W+tracking\b"
    rf"(?!\s+(?:(?:my|the|an?|this|that|our|of|for)\s+)?(?:{_PARCEL}|it)\b)",
)

# "I didn't get a tracking number" is not a parcel that has not arrived.
_NOT_A_PARCEL = (
    r"(?!\s+(?:for\s+|on\s+)?(?:(?:an?|the|my|any|your)\s+)?(?:tracking|confirmation|email|e-mail|invoice"
    r"|receipt|refund|code|reply|response|answer|updates?|notifications?|messages?|text|link|call))"
)
_NOT_ARRIVED = _any(
    r"\b(?:hasnt|has not|havent|have not|hadnt|had not|didnt|did not|never|not yet|yet to|still not"
    r"|isnt|is not|wasnt|was not|arent|are not)\s+(?:\w+\s+){0,2}?"
    r"(?:arrived?|arriving|come|came|received?|receiving|got|gotten|get|shown up|showed up|show up"
    r"|turned up|turn up|delivered|here|reached)\b" + _NOT_A_PARCEL,
    r"\bnot (?:here|arrived|delivered|received)\b" + _NOT_A_PARCEL,
    r"\b(?:still|yet) (?:dont|do not|havent) have\b|\b(?:dont|do not) have\b(?:\W+\w+){0,3}?\W+yet\b",
    r"\btaking (?:so long|too long|this long|that long|forever|ages)\b",
    r"\b(?:would|should|supposed to|meant to|due to)\s+(?:arrive|come|be here|be delivered|get here)\b"
    r"(?:\W+\w+){0,5}?\W+(?:didnt|did not|hasnt|has not|but|still)\b",
    r"\b(?:was|were) (?:supposed|meant|due|expected) to (?:arrive|come|be here|be delivered|get here)\b",
    r"\bstill waiting\b" + _NOT_A_PARCEL,
    r"\bno sign of\b|\bstill nothing\b|\bnothing (?:yet|came|arrived)\b",
    r"\b(?:says|said|shows?|showing|marked|claims?)(?: as| it was| it has been| that it was| its| it s)?"
    r" delivered\b|\b(?:supposedly|apparently) delivered\b|\bdelivered\W+but\b",
    rf"\b{_ORDER}\s+(?:is |was |has been |went |got |seems |seems to be |s )?(?:missing|lost|stolen)\b",
    rf"\b(?:lost|stolen|stole|took|cant find|cannot find)\s+(?:my |the |our )?{_PARCEL}\b",
    rf"\b(?:{_ORDER}|it|its)\s+(?:is |was |seems |s )?(?:\w+\s+)?(?:late|overdue)\b",
)

_DELIVERY_ESTIMATE = _any(
    r"\bwhen\s+(?:will|would|is|are|should|can|could|do|does|am|might|its|it|my|the|im|shall)\b"
    r"(?:\W+\w+){0,5}?\W+(?:arriv\w*|come|coming|get here|be here|deliver\w*|expect|ship|shipping|dispatch\w*"
    rf"|reach\w*|show up|turn up|(?:get|getting|receive|receiving) (?:it|them|my|the|this|{_PARCEL}))\b",
    r"\b(?:delivery|arrival|shipping|ship|dispatch)\s+(?:dates?|times?|periods?|estimates?|windows?|eta"
    r"|time ?frames?|days?)\b",
    r"\beta\b",
    r"\b(?:estimated|expected|projected|scheduled)\s+(?:delivery|arrival|ship\w*|date|time)\b",
    r"\bhow (?:long|soon|many (?:more )?(?:days|weeks))\b(?:\W+\w+){0,6}?\W+(?:arriv\w*|come|get|deliver\w*"
    r"|take|takes|ship\w*|until|till|before|expect|receive|here)\b",
    r"\b(?:arrive|arriving|be here|get here|be delivered|come|coming|reach me)\s+(?:by|before|on time"
    r"|in time|tomorrow|today|this|next|soon)\b",
    r"\bwhat (?:day|date|time)\b(?:\W+\w+){0,4}?\W+(?:arriv\w*|come|coming|deliver\w*|get)\b",
    r"\b(?:need|want|get|have|receive|make it)\b(?:\W+\w+){0,3}?\W+(?:by|before) (?:monday|tuesday"
    r"|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight|the weekend|christmas|next week"
    r"|the \d+(?:st|nd|rd|th)?)\b",
)

_ORDER_STATUS = _any(
    # "Where can I order …" is about buying.
    rf"\b(?:where|wher|whr)(?:s|abouts)?\b{_GAP}(?<!\bi )(?<!\bto )(?<!\bwe )"
    rf"(?:{_ORDER}|it|they|them|things?|{_A_NUMBER})\b",
    r"(?<!account )(?<!subscription )\bstatus\b"
    r"(?!\W+(?:of|on|for)\W+(?:\w+\W+){0,3}?(?:accounts?|subscriptions?|membership|ticket|application|claim)\b)",
    r"\b(?:has|have|did|was|were|is|are)\b(?:\W+\w+){0,4}?\W+(?:shipped|dispatched|been sent|sent out"
    r"|gone out|went out|been processed|processed|out for delivery|posted|mailed|ship|cancell?ed|delivered"
    r"|arrived)\b",
    r"\b(?:shipped|dispatched|sent)\s+(?:it\s+|out\s+)?yet\b",
    r"\b(?:on (?:its|the) way|out for delivery|in transit)\b",
    rf"\b(?:track|tracking|trace|tracing|locate|locating|find|finding|check|checking|follow|following|see"
    rf"|seeing)\b(?:\W+\w+){{0,3}}?\W+(?:{_PARCEL}|{_A_NUMBER})\b",
    r"\btrack\b",
    rf"\b(?:updates?|news|info|information|progress)\s+(?:on|about|regarding|for|of)\s+(?:\w+\s+)?{_ORDER}\b",
    rf"\bwhat\s+(?:happened|is happening|s happening|s going on|is going on)\b"
    rf"(?:\W+\w+){{0,3}}?\W+{_ORDER}\b",
    r"\bany (?:updates?|news)\b",
    r"\breturned to sender\b",
    r"\b(?:shipped|dispatched|went out|gone out|sent out)\b",
    r"\b(?:is|still)\b(?:\W+\w+){0,3}?\W+(?:processing|pending|being processed|on hold)\b",
    r"\btracking (?:says|said|shows|showed|hasnt|has not|isnt|is not|stopped|stuck)\b",
    r"\b(?:stuck|held) (?:in|at)\b|\bcustoms\b",
)

# --- Shipping updates: asking for them and stopping them, in the five languages (read without accents) -----

# What the updates are called. "STOP UPDATES" is what the confirmation tells shoppers to send; a bare
# "STOP" on SMS and WhatsApp never gets here: the channel takes it as the carrier's opt-out from everything.
_UPDATES = (
    r"(?:updates?|notifications?|notifs?|alerts?|messages?|texts?|e-?mails?|sms|whatsapps?"
    r"|actualizaciones?|avisos?|notificaciones?|mensajes?|correos?"
    r"|benachrichtigungen?|nachrichten?|mitteilungen?|infos?|statusmeldungen?|meldungen?"
    r"|mises? a jour|alertes?|nouvelles?|courriels?"
    r"|atualizacoes?|atualizacao|notificacoes?|notificacao|mensagens?|alertas?)"
)
# "Let me know when it will arrive", "tell me when it's expected", "tell me if it has left" ask a question;
# "let me know when it ships" is a wish.
_UNTIL = (
    r"(?:\W+(?!(?:will|would|should|might|could|can|was|were|did|does|do|has|have|had|expected|supposed|due"
    r"|going|gonna|likely|scheduled|estimated)\b)\w+){0,4}?\W+"
)
_MOVES = (
    r"(?:ships?|shipped|arrives|arrived|is out|its out|out for delivery|is delivered|gets delivered"
    r"|been delivered|delivered|on its way|leaves|left|moves|changes|dispatched|comes|gets here|is here|lands"
    r"|updates|there is news|theres news|anything changes)"
)
_STOP_UPDATES = _any(
    # en
    rf"\b(?:stop|stopp|cancel|pause|disable|turn off|switch off|mute|unsubscribe(?: me)? from"
    rf"|opt out of)\b(?:\W+\w+){{0,2}}?\W+{_UPDATES}\b",
    rf"^\W*(?:please\W+)?no more {_UPDATES}\b|\bi want no more {_UPDATES}\b",
    r"\b(?:dont|do not|stop|quit) (?:send|sending|text|texting|message|messaging|email|emailing|notify"
    r"|notifying|writing to) me\b",
    rf"\b(?:dont|do not|no longer) (?:want|need)\b(?:\W+\w+){{0,2}}?\W+{_UPDATES}\b",
    r"^\W*(?:unsubscribe|unsub|opt ?out)\W*(?:please|pls|thanks|thank you)?\W*$",
    r"\bunsubscribe me\b",
    # es
    rf"\b(?:parar|pare|paren|detener|deten|detengan|cancelar|cancela|cancelen|desactivar|desactiva|quitar"
    rf"|quita)\b(?:\W+\w+){{0,2}}?\W+{_UPDATES}\b",
    rf"\bno (?:quiero|deseo|necesito)\b(?:\W+\w+){{0,2}}?\W+{_UPDATES}\b",
    rf"^\W*no mas {_UPDATES}\b",
    r"\bno (?:me )?(?:envies|envien|mandes|manden|escribas|escriban) mas\b",
    r"\b(?:deja|dejen|dejad) de (?:enviar|mandar|escribir)(?:me)?\b",
    rf"^\W*(?:quiero )?darme de baja\W*$|\bdarme de baja de (?:\w+ )?{_UPDATES}\b",
    r"\bdesuscribir\w*|\bdesuscribe\w*",
    # de
    rf"^\W*(?:bitte\W+)?keine\b(?:\W+\w+){{0,2}}?\W+{_UPDATES}\W+mehr\b|^\W*(?:bitte\W+)?keine weiteren"
    rf" {_UPDATES}\b|\b(?:mochte|will|brauche) keine\b(?:\W+\w+){{0,1}}?\W+{_UPDATES}\b",
    rf"\b{_UPDATES}\W+(?:\w+\W+)?(?:stoppen|beenden|abbestellen|abmelden|deaktivieren|ausschalten|abstellen)\b",
    r"\b(?:abmelden|abbestellen)\b",
    r"\b(?:hor|horen sie|hort) auf\b(?:\W+\w+){0,3}?\W+(?:zu )?(?:schreiben|schicken|senden"
    r"|benachrichtigen)\b",
    r"\bnicht mehr (?:schreiben|anschreiben|benachrichtigen|informieren)\b",
    # fr
    rf"\b(?:arret\w*|stoppe\w*|desactiv\w*|annul\w*|suspend\w*|coupe\w*)\b(?:\W+\w+){{0,2}}?\W+{_UPDATES}\b",
    rf"^\W*(?:non\W+)?(?:merci\W+)?plus de {_UPDATES}\b|\bne veux plus de {_UPDATES}\b",
    r"\bne (?:m|me )?(?:envoye[zr]?|envoie|ecrive[zr]?|ecris) plus\b|\bnenvoye[zr]? plus\b",
    r"\barret\w* de m(?:envoyer|ecrire|e (?:contacter|notifier|prevenir))\b",
    r"\bdesabonn\w*|\bdesinscri\w*",
    # pt
    rf"\b(?:parar|pare|parem|cancelar|cancele|desativar|desative|desligar|desligue|suspender)\b"
    rf"(?:\W+\w+){{0,2}}?\W+{_UPDATES}\b",
    rf"\bnao (?:quero|desejo|preciso)\b(?:\W+\w+){{0,2}}?\W+{_UPDATES}\b",
    rf"^\W*(?:chega de|sem mais) {_UPDATES}\b",
    r"\bnao (?:me )?(?:envie|enviem|mande|mandem|escreva|escrevam) mais\b",
    r"\b(?:pare|parem|parar) de (?:me )?(?:enviar|mandar|escrever)\b",
    r"\bdescadastr\w*|\bsair da lista\b",
)
# "Unsubscribe" from a newsletter or an account is not about the updates (another subject, see below).
_OTHER_LISTS = re.compile(
    r"\b(?:newsletters?|marketing|promo\w*|mailing ?lists?|accounts?|membership|konto|cuenta|compte|conta"
    r"|boletin|lettre d ?information|werbung|publicidad|publicite)\b"
)
# Told when something is back in stock or on sale: not the order moving (another subject).
_NOT_THE_ORDER = re.compile(
    r"\b(?:stock|restock\w*|back in|available|availability|disponib\w*|hay|haya|sale|sales|precio|price|prix"
    r"|preco|preis|verfugbar|lager|rebajas|soldes|promo\w*|oferta\w*|angebot\w*)\b"
)
_SUBSCRIBE_UPDATES = _any(
    # en
    r"\b(?:notify|alert|ping) me\b",
    r"\bkeep me (?:posted|updated|informed|in the loop|up to date|up-to-date|in touch)\b",
    rf"\b(?:let me know|tell me|text me|message me|msg me|email me|e-mail me|whatsapp me|update me|inform me"
    rf"|drop me a (?:line|message|text|note)|send me a (?:message|text|note|email))\b(?:\W+\w+){{0,1}}?\W+"
    rf"(?:when|once|as soon as|if)\b{_UNTIL}{_MOVES}\b",
    r"\b(?:sign me up|subscribe|opt in|turn on|switch on|activate|enable)\b(?:\W+\w+){0,3}?\W+"
    r"(?:updates|notifications?|alerts?)\b",
    r"\b(?:send me|i want|i would like|id like|i need|please send|can you send|could you send|can i get"
    r"|could i get|can i have|can i receive|i want to (?:get|receive))\b(?:\W+(?!any\b)\w+){0,2}?\W+"
    r"(?:notifications?|alerts?|updates)\b(?!\W+(?:on|about|regarding|for|of)\W+(?:my|the|this|that)?\W*"
    r"(?:refund|return|claim|complaint|ticket|case))",
    r"^\W*(?:subscribe|updates please|yes,? (?:updates|notify me|keep me posted))\W*$",
    # es
    r"\b(?:avisame|avisenme|avisadme|avisarme|me avisas|me avisan|me avisais|me avises|me avisen"
    r"|notificame|notifiquenme|notificarme|me notificas|me notifican"
    r"|mantenme informad[oa]|mantenganme informad[oa]|me mantienes informad[oa]|me mantengan informad[oa]"
    r"|escribeme cuando|escribame cuando|mandame un mensaje cuando|enviame un mensaje cuando)\b",
    r"\b(?:enviame|mandame|envienme|mandenme)\b(?:\W+\w+){0,1}?\W+(?:actualizaciones|avisos|aviso"
    r"|notificaciones|alertas)\b",
    r"\b(?:quiero|me gustaria|deseo|puedo)\b(?:\W+\w+){0,2}?\W+(?:actualizaciones|avisos|notificaciones"
    r"|alertas)\b",
    # de
    r"\b(?:benachrichtige|benachrichtigen sie|benachrichtigt) mich\b|\bmich benachrichtigen\b",
    r"\b(?:halte|halten sie|haltet) mich (?:auf dem laufenden|informiert|up to date)\b"
    r"|\bmich (?:bitte |doch |weiter |weiterhin )?(?:auf dem laufenden|informiert)\b",
    r"\bbescheid\b(?:\W+\w+){0,4}?\W+(?:wenn|sobald)\b|\b(?:wenn|sobald)\b.*\bbescheid\b",
    r"\b(?:schreib|schreiben sie|schick|schicken sie|melde dich|melden sie sich)\b(?:\W+\w+){0,2}?\W+"
    r"(?:wenn|sobald)\b",
    r"\b(?:mochte|will|hatte gerne?|wurde gerne?|kann ich)\b(?:\W+\w+){0,3}?\W+(?:benachrichtigungen"
    r"|updates|benachrichtigt werden|informiert werden|auf dem laufenden)\b",
    r"\b(?:updates|benachrichtigungen)\b(?:\W+\w+){0,2}?\W+(?:aktivieren|einschalten|abonnieren)\b",
    # fr
    r"\b(?:previens|prevenez|tiens|tenez|informe|informez|avertis|avertissez|notifie|notifiez|ecris"
    r"|ecrivez)(?:\W+|-)moi\b",
    r"\bme (?:prevenir|tenir au courant|tenir informe|notifier|informer|avertir)\b",
    r"\b(?:envoyez|envoie|envoyer)(?:\W+|-)moi (?:des |les )?(?:mises a jour|notifications|alertes"
    r"|nouvelles)\b",
    r"\bje (?:veux|voudrais|souhaite|souhaiterais|aimerais)\b(?:\W+\w+){0,2}?\W+(?:mises a jour|notifications"
    r"|alertes|prevenu|prevenue|informe|informee|notifie|notifiee)\b",
    # pt
    r"\b(?:me avisa|me avise|me avisem|avisa-me|avise-me|avisem-me|me notifica|me notifique|me notifiquem"
    r"|notifique-me|me mantenha informad[oa]|me mantem informad[oa]|me mantenham informad[oa]"
    r"|me manda (?:uma )?mensagem quando|me mande (?:uma )?mensagem quando|me informe quando"
    r"|me informa quando)\b",
    r"\b(?:quero|gostaria de|desejo|posso)\b(?:\W+\w+){0,2}?\W+(?:atualizacoes|notificacoes|avisos"
    r"|alertas)\b",
)

_ARE_YOU_A_BOT = re.compile(r"\bare (?:you|u) (?:an? )?(?:bot|robot|human|real|ai|person|machine)\b")
# Strong feelings with no request in them are a complaint, but only when nothing else was asked.
_DISCONTENT = re.compile(
    r"\b(?:unacceptable|ridiculous|disgrace\w*|outrageous|furious|fed up|scam|rip ?off|worst"
    r"|(?:terrible|awful|horrible|bad|poor|lousy) (?:service|experience|company|shop|store))\b"
)
# Subjects the bot can only point elsewhere for.
_OTHER_SUBJECTS = re.compile(
    r"\b(?:accounts?|passwords?|pwd|pin|log ?in|login|sign ?in|sign ?up|signup|register\w*|registration"
    r"|newsletters?|subscri\w+|unsubscri\w+|invoices?|receipts?|bills?|discounts?|coupons?|promo|vouchers?"
    r"|gift ?cards?|prices?|pricing|costs?|fees?|penalt\w+|charges?|in stock|restock\w*|warranty|guarantee"
    r"|reviews?|feedback|opinions?|sizes?|sizing|payments?|pay|shipping options|delivery options|ship to"
    r"|deliver to|shipping methods|delivery methods)\b"
)
_THANKS = re.compile(
    r"\b(?:thanks|thank (?:you|u)|thank|thx|thnx|thanx|tysm|ty|cheers|appreciate(?:d| it)|much appreciated"
    r"|merci|gracias|danke)\b"
)
_HELP = _any(
    r"\bwhat (?:can|do|else can) (?:you|u) (?:do|help with|offer)\b",
    r"\bhow (?:does this|do you|can you|do i use this|does it) (?:work|help)\b",
    r"\bwhat (?:can|should) i (?:ask|do|say|type)\b",
    r"\b(?:who|what) are (?:you|u)\b",
    r"\b(?:help|menu|options|commands)\b",
)
_GREETING = re.compile(
    r"^\W*(?:hi|hii+|hello|helo|hey|heya|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day)"
    r"|hola|bonjour|hallo|salut|ciao|morning|evening)\b"
)

# --- Order-number context, on upper-case text ----------------------------------------------------------

# A marker right before the number, in the five languages shoppers write: "order 1042", "#1042", "order
# no. 1042", "my order number is 1042", "pedido nº 40219", "número de pedido: 40219", "Bestellnr. 55810",
# "commande n°7731", "cmd 7731", "encomenda 3390", "o número do pedido é 3390". Read without accents.
_ORDER_WORDS = (
    r"ORDERS?|PURCHASES?|CONFIRMATION|REFERENCE|REF|PEDIDOS?|ORDEN|COMPRAS?|REFERENCIA|BESTELLUNG(?:EN)?"
    r"|BESTELLNR|BESTELLNUMMER|BEST\.?-?NR|AUFTRAGS?|AUFTRAGSNR|AUFTRAGSNUMMER|COMMANDES?|CMD|CDE"
    r"|ENCOMENDAS?"
)
_NUMBER_WORDS = r"NO|NR|NRO|NUM|NUMBER|NUMERO|NUMMER|N\.?O|N\s?°|ID|CODE|REF|REFERENCE|REFERENCIA"
_MARKER = re.compile(
    rf"(?:\b(?:{_ORDER_WORDS})\b\.?(?:\s*(?:{_NUMBER_WORDS})\b\.?)?"
    rf"|\b(?:NR|NRO|NUM|NUMERO|NUMMER|N\.O|N\s?°)\.?"
    rf"(?:\s*(?:DE|DO|DA|DU|DEL|OF|DER|MEINER)?\s*(?:MY|MI|MEU|MA|MON|LA|EL|THE|O)?\s*(?:{_ORDER_WORDS})\b\.?)?"
    r"|#)"
    r"(?:\s*(?:IS|WAS|=|ES|IST|LAUTET|EST|C ?EST|E|SERIA))?(?:\s*(?:THE|EL|LA|LE|O|A|DIE))?\s*[:#-]?\s*$"
)
# A number right after "ordered", "bought", or "order" as a verb, is a quantity: "I want to order 300
# shirts", "I bought 100" (but "add it to order 1042" is the noun).
_QUANTITY_BEFORE = re.compile(
    # "When will order 1042 arrive?": after a modal alone, "order" is still the noun.
    r"(?:(?:\b(?:I|WE|YOU|THEY)(?:\s+(?:WILL|WOULD|CAN|COULD|SHOULD|DID|JUST|ALSO|MIGHT|MAY))?"
    r"|\b(?:PLEASE|LETS|WANNA)|\b(?:WANT|LIKE|NEED|HOW|GOING|ABLE|TRYING|WISH|PLAN|PLANNING)\s+TO)\s+ORDER"
    r"|\b(?:ORDERED|BOUGHT|PURCHASED|GOT|GET|BUY|BUYING))\s+$"
)
_OTHER_IDENTIFIER_BEFORE = re.compile(
    rf"\b(?:{'|'.join(_OTHER_IDENTIFIERS).upper()})\b(?:\s*(?:NO|NR|NRO|NUM|NUMBER|NUMERO|NUMMER|N\.O|ID|CODE)\b"
    r"|\s*N\s?°)?\.?"
    r"(?:\s*(?:IS|ES|EST|CEST|IST|E))?\s*[:#]?\s*$"
)
# Without a marker, a number is an order number when the words around it ask about one.
_ASKS_ABOUT = re.compile(r"\b(?:TRACK|TRACKING|TRACE|LOCATE|STATUS OF|WHERE IS|WHERES|WHAT ABOUT|CHECK)\s*$")
_THEN_STATUS = re.compile(
    r"\s*(?:STATUS|HASNT|HAS NOT|HAS IT|SHIPPED|ARRIVED|DELIVERED|IS (?:MY|THE|YOUR) ORDER)\b"
)
# What a price, postal code or phone number looks like from the words around the number.
_AMOUNT_OR_CODE_BEFORE = re.compile(
    r"(?:[$€£¥]|\b(?:USD|EUR|GBP|CAD|AUD|INR|RS)"
    r"|\b(?:ZIP|ZIPCODE|POSTCODE|POST CODE|POSTAL CODE|ZIP CODE|PLZ|POSTLEITZAHL|PIN ?CODE|CP|CEP"
    r"|CODIGO POSTAL|CODE POSTAL|R\$)(?:\s*(?:IS|ES|IST|EST|E|:))?"
    r"|\b(?:CALL|TEXT|PHONE|TEL|TELEPHONE|MOBILE|CELL|FAX|WHATSAPP|TELEFONO|TELEFON|HANDY|TELEFONE"
    r"|CELULAR|PORTABLE)\b(?:\W+\w+){0,3}"
    # a house number: "Av. Corrientes 1234", "Rua Augusta 1540"
    r"|\b(?:CALLE|AV|AVDA|AVENIDA|RUA|RUE|STRASSE|STREET|ROAD|AVENUE|BOULEVARD|BD|PLAZA|PRACA)\b"
    rf"(?:\W+(?!(?:{_ORDER_WORDS})\b)\w+){{0,2}})\s*$"
)
_UNIT_AFTER = re.compile(
    r"\s*(?:DOLLARS?|BUCKS|EUROS?|POUNDS?|USD|EUR|GBP|CAD|AUD|CENTS?|RUPEES?|YEN|KGS?|LBS?|GRAMS?|ML|CM|MM"
    r"|AM|PM|DAYS?|HOURS?|HRS?|WEEKS?|MONTHS?|YEARS?|MINUTES?|MINS?|ITEMS?|PCS|PIECES?|UNITS?|PAIRS?|BOXES"
    r"|X|REAIS|REAL|STUCK|STK|UNIDADES?|UNITES?|PIEZAS?|PECAS?|DIAS?|TAGE?N?|WOCHEN?|JOURS?|SEMAINES?"
    r"|SEMANAS?|HORAS?|STUNDEN?|HEURES?|MESES|MONATE?|MOIS|ANOS?|JAHRE?|ANS)\b|\s*[€$£]"
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_YEAR_BEFORE = re.compile(
    r"\b(?:IN|SINCE|YEAR|FROM|UNTIL|TILL|OF|JAN(?:UARY)?|FEB(?:RUARY)?|MAR(?:CH)?|APR(?:IL)?|MAY|JUNE?"
    r"|JULY?|AUG(?:UST)?|SEPT?(?:EMBER)?|OCT(?:OBER)?|NOV(?:EMBER)?|DEC(?:EMBER)?)\.?"
    r"(?:\s+\d{1,2}(?:ST|ND|RD|TH)?,?)?\s*$"
)
_PHONE = re.compile(
    r"\+\d[\d\s().-]{6,}\d|\(\d{2,4}\)\s*\d{3,4}[\s.-]?\d{3,5}|\b\d{3}[\s.-]\d{3}[\s.-]\d{4}\b"
    # Europe: 600 123 456, 06 12 34 56 78
    r"|\b\d{3}[\s.]\d{3}[\s.]\d{3}\b|\b\d{2}(?:[\s.]\d{2}){4}\b"
)
# Words a bare reply may carry around the number: "it's 1042", "sure, 1042 thanks".
# fmt: off
_FILLER = frozenset({
    "AND", "AT", "COURSE", "EMAIL", "GO", "HELLO", "HERE", "HERES", "HEY", "HI", "I", "IS", "IT", "ITS",
    "MY", "OF", "OK", "OKAY", "ORDER", "PLEASE", "PLS", "SURE", "THANK", "THANKS", "THAT", "THATS", "THE",
    "THINK", "THIS", "TY", "YEAH", "YEP", "YES", "YOU",
    # es, de, fr, pt: "es el 40219", "das ist 55810", "c'est 7731", "é o 3390"
    "AQUI", "CEST", "CLARO", "DAS", "DIE", "E", "EL", "ES", "EST", "HIER", "IST", "JA", "LA", "LE", "MEINE",
    "MEU", "MI", "MINHA", "MON", "NUMERO", "NUMMER", "O", "OUI", "SI", "SIM", "VOICI", "VOILA",
    # "44219 und die Mail ist …", "pedido 40219 y correo …"
    "UND", "Y", "ET", "MAIL", "CORREO", "COURRIEL", "MEIN", "MA", "PEDIDO", "BESTELLUNG", "COMMANDE",
    "ENCOMENDA",
})
# fmt: on
_UPPER_WORD = re.compile(r"[A-Z]+")
_STARTS_WITH_LETTER = re.compile(r"[A-Z]")
_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|ya|y|sure|ok|okay|k|please do|please|go ahead|do it|pass it on|of course"
    r"|absolutely|definitely|correct|right)\b"
)
_NO = re.compile(
    r"^\W*(?:no|nope|nah|n|no thanks|not now|dont|do not|never mind|nevermind|forget it)\b(?! idea| clue)"
)
# In the other four languages the words are short and common ("ja" is also Portuguese "already"): a yes or
# no there is the whole message, give or take a polite word.
_POLITE = r"(?:\W+(?:por favor|porfa|bitte|gerne|gern|danke|merci|svp|stp|obrigad[oa]|gracias|claro))*\W*$"
_YES_ELSEWHERE = re.compile(
    r"^\W*(?:si|claro|vale|dale|por supuesto|ja|jawohl|gerne|genau|klar|naturlich|oui|ouais|dacc|d accord"
    r"|bien sur|sim|pode|pode ser|com certeza)" + _POLITE
)
_NO_ELSEWHERE = re.compile(
    r"^\W*(?:nein|ne|nee|non|nao|ahora no|jetzt nicht|pas maintenant|agora nao|nada|no gracias"
    r"|nein danke|non merci|nao obrigad[oa])" + _POLITE
)

# --- How sure the rules are -----------------------------------------------------------------------------

_SHORT_MESSAGE_WORDS = 8  # "hi", "thanks a lot!": longer ones say more than politeness
_LONG_MESSAGE_WORDS = 40  # beyond this a message says several things, and the first pattern may not win
# Common words of Spanish, German, French and Portuguese that English does not use.
# fmt: off
_FOREIGN_WORDS = re.compile(r"\b(?:" + "|".join((
    "mi", "mis", "pedido", "pedidos", "donde", "esta", "cuando", "llegado", "llega", "envio", "por favor",
    "quiero", "necesito", "gracias", "hola", "compra", "paquete", "todavia", "aun", "ich", "meine", "mein",
    "bestellung", "wo", "ist", "nicht", "wann", "noch", "sendung", "paket", "bitte", "habe", "danke",
    "lieferung", "je", "mes", "commande", "colis", "ou est", "quand", "pas", "recu", "livraison",
    "merci", "bonjour", "est-ce", "suivi", "meu", "minha", "encomenda", "onde", "nao", "ainda", "chegou",
    "entrega", "obrigado", "obrigada", "rastreio", "quero", "preciso", "ola",
)) + r")\b")
# fmt: on


class RuleUnderstander:
    """Understands shopper messages with patterns: no network, no model, no I/O."""

    def __init__(self, order_number_pattern: str = DEFAULT_ORDER_NUMBER_PATTERN) -> None:
        # The shop's order-number shape as a whole token: not a piece of a longer word, decimal (25.99),
        # date (2026-11-24, 11/24/2026), time (10:30), phone number (555-123-4567) or price ($25, 120€).
        # "ORDER1042" and "ORDER-1042" are a marker glued to the number.
        self._candidate = re.compile(
            rf"(?<![\w\-/+$€£¥])(?<!\d[.,:])(?P<glued>ORDER-?)?(?P<number>(?:{order_number_pattern}))"
            r"(?![\w/@$€£¥%]|[-.,:/]\d)"
        )

    async def understand(self, text: str, *, last_question: Question | None = None) -> Understanding:
        return self.read(text, last_question=last_question).understanding

    async def explain(self, text: str, *, last_question: Question | None = None) -> Explanation:
        """The rules' understanding, and whether hybrid mode would ask an LLM about the message."""
        started = time.perf_counter()
        reading = self.read(text, last_question=last_question)
        reason = "rules sure" if reading.sure else "rules unsure (no LLM configured)"
        return Explanation(reading.understanding, "rules", reason, time.perf_counter() - started)

    def understand_text(self, text: str, *, last_question: Question | None = None) -> Understanding:
        """What ``text`` asks for. ``last_question`` is what the bot has just asked, if anything."""
        return self.read(text, last_question=last_question).understanding

    def order_number_in(self, text: str, *, about_an_order: bool = False) -> str | None:
        """The order number ``text`` names, read as in a shopper's message (an email's subject, say).

        ``about_an_order``: the message is known to ask about an order, so a lone number without a marker
        ("¿ya salió el 40219?") is its number too — unless it reads as a price, date, quantity …"""
        _, _, words = _prepared(text)
        return self._find_order_number(without_accents(words).upper(), expecting_one=about_an_order)

    def read(self, text: str, *, last_question: Question | None = None) -> Reading:
        """What ``text`` asks for, and whether the rules are sure of it."""
        text, email, words = _prepared(text)
        order_number = self._find_order_number(
            without_accents(words).upper(), expecting_one=last_question == Question.ORDER_NUMBER
        )
        intent, topic, not_arrived, strong = self._intent(words, order_number=order_number, email=email)
        # "Sure! 1042" gives the number; a yes or no is a message with nothing else in it.
        answer = None if order_number or email else _answer(words)
        understanding = Understanding(
            intent=intent,
            topic=topic,
            order_number=order_number,
            email=email,
            not_arrived=not_arrived,
            answer=answer,
        )
        # The updates' patterns are written for each of the five languages: sure in any of them.
        sure = (strong and intent in UPDATE_REQUESTS) or (
            (strong or answer is not None) and _plain_english(text, words)
        )
        return Reading(understanding, sure=sure)

    def _find_order_number(self, text: str, *, expecting_one: bool) -> str | None:
        """The first order number that is marked as one; else a bare number that can only be one."""
        text = _PHONE.sub(" ", text)
        first_bare: str | None = None
        for match in self._candidate.finditer(text):
            number, (start, end) = match.group("number"), match.span()
            if len(normalize_order_number(number)) > MaxLength.ORDER_NUMBER or self._is_something_else(
                text, start, end, number
            ):
                continue
            if (
                match.group("glued")
                or _STARTS_WITH_LETTER.match(number)  # "LUM-1042" cannot be a quantity, price or date
                or self._is_marked(text, start)
                or _ASKS_ABOUT.search(text, max(0, start - 20), start)
                or _THEN_STATUS.match(text, end)
            ):
                return number
            first_bare = first_bare or number
        if first_bare and (expecting_one or self._is_whole_message(text, first_bare)):
            return first_bare
        return None

    @staticmethod
    def _is_something_else(text: str, start: int, end: int, number: str) -> bool:
        """A quantity, price, postal code, phone number, time, year or another kind of number (an
        invoice's, an apartment's) rather than an order number."""
        window = max(0, start - 40)
        return bool(
            _UNIT_AFTER.match(text, end)
            or _AMOUNT_OR_CODE_BEFORE.search(text, window, start)
            or _OTHER_IDENTIFIER_BEFORE.search(text, window, start)
            or _QUANTITY_BEFORE.search(text, window, start)
            or (_YEAR.fullmatch(number) and _YEAR_BEFORE.search(text, window, start))
        )

    @staticmethod
    def _is_marked(text: str, start: int) -> bool:
        return _MARKER.search(text, max(0, start - 32), start) is not None

    @staticmethod
    def _is_whole_message(text: str, number: str) -> bool:
        rest = text.replace(number, " ", 1)
        return all(word in _FILLER for word in _UPPER_WORD.findall(rest))

    @staticmethod
    def _intent(
        words: str, *, order_number: str | None, email: str | None
    ) -> tuple[Intent, Topic | None, bool, bool]:
        """The intent, its topic, whether the shopper says the order has not arrived, and whether a
        strong signal decided it.

        By precedence: a request for a person; out-of-scope requests; stopping or asking for shipping
        updates; order questions; a mention of a person; the details alone; weaker signals (discontent,
        other subjects, politeness)."""
        not_arrived = bool(_NOT_ARRIVED.search(words))
        if _HUMAN_REQUEST.search(words):
            return Intent.HUMAN, None, not_arrived, True
        for topic, pattern in _TOPICS:
            if pattern.search(words):
                return Intent.OUT_OF_SCOPE, topic, not_arrived, True
        plain = without_accents(words)
        if _STOP_UPDATES.search(plain) and not _OTHER_LISTS.search(plain):
            return Intent.STOP_UPDATES, None, False, True
        if _SUBSCRIBE_UPDATES.search(plain) and not _NOT_THE_ORDER.search(plain):
            return Intent.SUBSCRIBE_UPDATES, None, False, True
        # An account, an invoice, a newsletter … and no order in sight: "where is it?" is about that.
        if not order_number and not _PARCEL_WORD.search(words) and _ACCOUNT_SUBJECTS.search(words):
            return Intent.OUT_OF_SCOPE, Topic.OTHER, False, False
        if _TRACKING_EXPLICIT.search(words):
            return Intent.TRACKING, None, not_arrived, True
        if not_arrived:
            return Intent.ORDER_STATUS, None, True, True
        if _TRACKING_BARE.search(words):
            return Intent.TRACKING, None, False, True
        if _DELIVERY_ESTIMATE.search(words):
            return Intent.DELIVERY_ESTIMATE, None, False, True
        if _ORDER_STATUS.search(words):
            return Intent.ORDER_STATUS, None, False, True
        short = len(words.split()) <= _SHORT_MESSAGE_WORDS
        if _ARE_YOU_A_BOT.search(words):
            return Intent.HELP, None, False, short
        if _HUMAN_MENTION.search(words):
            return Intent.HUMAN, None, False, False
        if order_number or email:
            # "Order 1042 came without the charger" gives a number but asks something the rules missed.
            rest = words.upper().replace(order_number or "", " ", 1)
            return Intent.PROVIDE_DETAILS, None, False, all(w in _FILLER for w in _UPPER_WORD.findall(rest))
        if _DISCONTENT.search(words):
            return Intent.OUT_OF_SCOPE, Topic.COMPLAINT, False, False
        if _OTHER_SUBJECTS.search(words):
            return Intent.OUT_OF_SCOPE, Topic.OTHER, False, False
        if _THANKS.search(words):
            return Intent.THANKS, None, False, short
        if _HELP.search(words):
            return Intent.HELP, None, False, short
        if _GREETING.search(words):
            return Intent.GREETING, None, False, short
        return Intent.UNKNOWN, None, False, False


def _prepared(text: str) -> tuple[str, str | None, str]:
    """The normalized text, its first email address, and its words as the patterns read them."""
    text = normalize_text(text)
    email = next(emails_in(text), None)
    # Digits in addresses and links are not order numbers, and "track" in a URL is not a request.
    plain = SPACES.sub(" ", _APOSTROPHES.sub("", _URL.sub(" ", EMAIL_LIKE.sub(" ", text))))
    # Typos are corrected first, so that "purhcase 1042" is a marked number too.
    return text, email, _correct_typos(plain.lower())


def _answer(words: str) -> Literal["yes", "no"] | None:
    """Yes or no, when a short message is one: "yes please", "sure, go ahead", "no thanks", "nope"."""
    if len(words.split()) > _SHORT_MESSAGE_WORDS:
        return None
    if _NO.match(words):
        return "no"
    if _YES.match(words):
        return "yes"
    plain = without_accents(words)
    if _NO_ELSEWHERE.match(plain):
        return "no"
    if _YES_ELSEWHERE.match(plain):
        return "yes"
    return None


def without_accents(text: str) -> str:
    """``"número"`` → ``"numero"``: shoppers type either."""
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _plain_english(text: str, words: str) -> bool:
    """Short enough for patterns, and English: no other script, few accents, no foreign function words."""
    if len(words.split()) > _LONG_MESSAGE_WORDS:
        return False
    letters = [ch for ch in text if ch.isalpha()]
    if sum(1 for ch in letters if not ch.isascii()) > max(1, len(letters) // 50):
        return False
    return not _FOREIGN_WORDS.search(words)
