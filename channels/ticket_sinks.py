"""Ticket sinks: a signed webhook, the support inbox, Zendesk.

Each sink renders a ticket into one outbox message; the outbox delivers it through the sender registered
under the sink's ``via`` and retries with backoff for a day (``LUMEN_TICKET_DELIVERY_RETRY_HOURS``), so a
sink outage delays a ticket but never loses it; ``lumen tickets redeliver`` sends one it gave up on again.
The email sink reuses the email channel's SMTP sender.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import httpx

from channels.email import service as email_service
from channels.http_delivery import refusal, unreachable
from lumen_bot.domain.identifiers import normalize_email
from lumen_bot.domain.speech import Speech
from lumen_bot.domain.tickets import Ticket, ticket_text
from lumen_bot.ports import Outgoing

SIGNATURE_HEADER = "X-Lumen-Signature"
_TIMEOUT_SECONDS = 10.0


def signature(secret: str, body: bytes) -> str:
    """The ``X-Lumen-Signature`` of ``body``: ``sha256=`` and the hex HMAC-SHA256 with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink:
    """POSTs the ticket as JSON to the shop's URL, signed so the receiver can trust it."""

    name = "webhook"
    via = "ticket_webhook"

    def __init__(self, url: str, secret: str) -> None:
        self._url = url
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=_TIMEOUT_SECONDS, headers={"User-Agent": "Lumen"})

    def render(self, ticket: Ticket) -> Outgoing:
        body = json.dumps({"event": "ticket.created", "ticket": ticket.as_json()}, ensure_ascii=False)
        return Outgoing(self.via, sender=self.name, recipient=ticket.reference, body=body)

    async def send(self, sender: str, recipient: str, text: str) -> str | None:
        body = text.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self._secret, body),
            # The same on every retry and redelivery (the ticket reference): a receiver that took the
            # ticket already can ignore the repeat, by Lumen's own header or the usual Idempotency-Key.
            "X-Lumen-Delivery": recipient,
            "Idempotency-Key": recipient,
        }
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.RequestError as error:
            raise unreachable("ticket webhook", error) from error
        if not response.is_success:
            raise refusal("ticket webhook", response)
        return None

    async def aclose(self) -> None:
        await self._client.aclose()


class ZendeskSink:
    """Creates a Zendesk ticket (``POST /api/v2/tickets.json``) as an agent with an API token."""

    name = "zendesk"
    via = "zendesk"

    def __init__(self, base_url: str, email: str, api_token: str, say: Speech) -> None:
        self._say = say
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=(f"{email}/token", api_token),
            timeout=_TIMEOUT_SECONDS,
            headers={"User-Agent": "Lumen"},
        )

    def render(self, ticket: Ticket) -> Outgoing:
        fields: dict[str, object] = {
            "subject": f"[{ticket.reference}] {ticket.summary}",
            # Private: the transcript is for the team, not mailed to the requester.
            "comment": {"body": ticket_text(self._say, ticket), "public": False},
            "external_id": ticket.reference,
            "tags": ["lumen", f"lumen_{ticket.category}"],
        }
        contact = normalize_email(ticket.contact) if ticket.contact else None
        if contact is not None:
            fields["requester"] = {"name": contact, "email": contact}
        return Outgoing(self.via, self.name, ticket.reference, json.dumps({"ticket": fields}))

    async def send(self, sender: str, recipient: str, text: str) -> str | None:
        # Zendesk answers a repeated key with the ticket it made the first time, so a retry after a
        # lost response creates no second ticket.
        headers = {"Content-Type": "application/json", "Idempotency-Key": recipient}
        try:
            response = await self._client.post("/api/v2/tickets.json", content=text.encode(), headers=headers)
        except httpx.RequestError as error:
            raise unreachable("Zendesk", error) from error
        if not response.is_success:
            raise refusal("Zendesk", response)
        try:
            return str(response.json()["ticket"]["id"])
        except (ValueError, LookupError, TypeError):
            return None

    async def aclose(self) -> None:
        await self._client.aclose()


class SupportInboxSink:
    """Mails the ticket to the team's inbox through the email channel's SMTP sender; a reply to it goes
    to the shopper when their address is known."""

    name = "email"
    via = email_service.VIA

    def __init__(self, from_address: str, to_address: str, shop_name: str, say: Speech) -> None:
        self._say = say
        self._from = from_address
        self._to = to_address
        self._shop_name = shop_name

    def render(self, ticket: Ticket) -> Outgoing:
        message = EmailMessage(policy=policy.SMTP)
        shop = Address(f"Lumen for {self._shop_name}", addr_spec=self._from)
        message["From"] = shop
        message["To"] = self._to
        message["Subject"] = f"[{ticket.reference}] {ticket.summary}"
        message["Date"] = format_datetime(ticket.created_at)
        message["Message-ID"] = make_msgid(idstring=ticket.reference, domain=shop.domain)
        message["Auto-Submitted"] = "auto-generated"
        contact = normalize_email(ticket.contact) if ticket.contact else None
        if contact is not None:
            message["Reply-To"] = contact
        message.set_content(ticket_text(self._say, ticket), charset="utf-8", cte="quoted-printable")
        return Outgoing(self.via, self._from, self._to, message.as_string())
