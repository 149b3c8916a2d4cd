"""One inbound email through the core and, when there is something to say, one threaded reply by SMTP.

Shared by every inbound route (raw, SendGrid, Mailgun, Postmark) and ``lumen email ingest``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from enum import StrEnum

from channels.email.automatic import is_spam
from channels.email.inbound import ParsedEmail
from channels.email.outbound import DEFAULT_SUBJECT, compose_reply
from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.messages import InboundMessage, Reply, clean_text
from lumen_bot.domain.speech import Speech
from lumen_bot.ports import Accepted, OrderNumberFinder, ReplyRoute
from lumen_bot.services.conversation import ConversationHandler
from lumen_bot.services.intake import Intake
from lumen_bot.services.outbox import Outbox
from lumen_bot.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "email"
VIA = "smtp"


class Skipped(StrEnum):
    """Why an inbound email got no reply."""

    AUTOMATIC = "automatic"
    """An auto-reply, bounce or list mail (RFC 3834): answering could start a loop."""
    SPAM = "spam"
    """Spam by the verdict of a filter on the way (SpamAssassin, the inbound provider)."""
    RATE_LIMITED = "rate_limited"
    """This address already got its replies for the hour."""
    REDELIVERY = "redelivery"
    """The same message again: it was answered the first time."""
    NOTHING_TO_SAY = "nothing_to_say"


@dataclass(frozen=True, slots=True)
class Received:
    replies: list[Reply]
    skipped: Skipped | None = None


class EmailChannel:
    def __init__(
        self,
        handler: ConversationHandler,
        intake: Intake,
        outbox: Outbox,
        settings: Settings,
        *,
        order_numbers: OrderNumberFinder,
        voices: Mapping[str, Speech],
        clock: Clock = utc_now,
    ) -> None:
        self._handler = handler
        self._intake = intake
        self._outbox = outbox
        self._settings = settings
        # Only to find an order number in the subject or the quoted confirmation, as the shopper's own
        # text is read by the core's understander.
        self._order_numbers = order_numbers
        self._voices = voices
        self._clock = clock

    def _subject_in(self, language: str) -> str:
        say = self._voices.get(language)  # a reply logged in a language since disabled stays English
        return say(DEFAULT_SUBJECT) if say else DEFAULT_SUBJECT

    @property
    def own_addresses(self) -> tuple[str, ...]:
        return (self._settings.email_from,) if self._settings.email_from else ()

    async def receive(self, email: ParsedEmail, *, provider_id: str | None, raw: bytes) -> Received:
        message = self._inbound(email, provider_id, raw)
        if email.automatic_reason is not None:
            return await self._keep_unanswered(message, email.automatic_reason)
        since = self._clock() - timedelta(hours=1)
        if await self._outbox.sent_since(VIA, email.sender, since) >= self._settings.email_replies_per_hour:
            log.warning("email replies to this address are over the hourly limit")
            return Received([], Skipped.RATE_LIMITED)
        replies = await self._handler.handle_new(message)
        if replies is None:
            return Received([], Skipped.REDELIVERY)
        if not replies:
            return Received([], Skipped.NOTHING_TO_SAY)
        await self._send(email, replies)
        return Received(replies)

    def _inbound(self, email: ParsedEmail, provider_id: str | None, raw: bytes) -> InboundMessage:
        text = clean_text(email.new_text)[: self._settings.max_text_length]
        return InboundMessage(
            channel=CHANNEL,
            conversation_key=email.sender.casefold(),
            text=text,
            received_at=self._clock(),
            # Without a Message-ID the bytes themselves identify a redelivery.
            provider_message_id=email.message_id or provider_id or hashlib.sha256(raw).hexdigest(),
            raw={"subject": email.subject, "message_id": email.message_id, "in_reply_to": email.in_reply_to},
            unreadable=not text,
            authenticated_sender=email.sender if email.authenticated else None,
            context_order_number=self._context_order_number(email),
            contact_address=email.sender,
        )

    async def _keep_unanswered(self, message: InboundMessage, reason: str) -> Received:
        """Stored in the inbox, so the shop can see what came in, but never answered: answering a machine
        starts mail loops and opens tickets about vacation notices."""
        route = ReplyRoute(VIA, self._settings.email_from or "", message.contact_address or "", "email")
        if await self._intake.keep_unanswered(Accepted(message, route), reason):
            log.info("automatic email stored, not answered: %s", reason)
        return Received([], Skipped.SPAM if is_spam(reason) else Skipped.AUTOMATIC)

    def _context_order_number(self, email: ParsedEmail) -> str | None:
        for place in (email.subject, email.quoted_text):
            number = self._order_numbers.order_number_in(place)
            if number:
                return number
        return None

    async def _send(self, email: ParsedEmail, replies: list[Reply]) -> None:
        from_address = self._settings.email_from
        if not from_address:
            log.warning("no reply sent: LUMEN_EMAIL_FROM is not set")
            return
        try:
            reply = compose_reply(
                replies,
                to=email.sender,
                subject=email.subject,
                message_id=email.message_id,
                references=email.references,
                from_address=from_address,
                shop_name=self._settings.shop_name,
                default_subject=self._subject_in(replies[0].language),
            )
        except ValueError:
            # An address SMTP cannot carry (LUMEN_EMAIL_FROM misconfigured, a non-ASCII local part).
            log.warning("no reply sent: an address cannot be written into the email", exc_info=True)
            return
        await self._outbox.send(VIA, from_address, email.sender, [reply.as_string(policy=policy.SMTP)])
