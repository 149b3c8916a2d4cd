"""The small interfaces the core depends on. Adapters (the SQL store, order sources, the LLM client,
provider senders) implement them; services and channels see only these.

This module imports nothing from the project but the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from lumen_bot.domain.conversation_log import ConversationSummary, ConversationTranscript, SearchTerms
from lumen_bot.domain.engine import ConversationState, Effect
from lumen_bot.domain.messages import InboundMessage, Reply
from lumen_bot.domain.order_file import ImportSummary
from lumen_bot.domain.orders import Order
from lumen_bot.domain.stats import Overview, Window
from lumen_bot.domain.tickets import DeliveryStatus, Ticket, TicketCategory, TicketStatus
from lumen_bot.domain.turn_record import TurnRecord
from lumen_bot.domain.understanding import Explanation, Question, Reading, Understanding

# --- Understanding -------------------------------------------------------------------------------------


class Understander(Protocol):
    async def understand(self, text: str, *, last_question: Question | None = None) -> Understanding: ...


class ExplainingUnderstander(Understander, Protocol):
    async def explain(self, text: str, *, last_question: Question | None = None) -> Explanation:
        """The understanding, which understander gave it and why (``lumen understand --explain``)."""
        ...


class RuleReader(Protocol):
    """Offline understanding that says how sure it is (what hybrid mode asks before calling an LLM)."""

    def read(self, text: str, *, last_question: Question | None = None) -> Reading: ...


class LanguageGuesser(Protocol):
    def guesses(self, text: str) -> list[tuple[str, float]]:
        """The likeliest languages of ``text``, best first, as ISO 639-1 codes with probabilities."""
        ...


class OrderNumberFinder(Protocol):
    def order_number_in(self, text: str) -> str | None:
        """The order number ``text`` names, if any (an email's subject, its quoted confirmation)."""
        ...


@dataclass(frozen=True, slots=True)
class LlmAnswer:
    """One call's understanding (grounded in the text), what it cost and what was dropped from it."""

    understanding: Understanding
    seconds: float
    tokens_in: int
    tokens_out: int
    dropped: tuple[str, ...]


class LlmFailed(Exception):
    """The model gave no valid answer in time. ``reason`` is short and holds no message content."""

    def __init__(self, reason: str, *, seconds: float, tokens_in: int = 0, tokens_out: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seconds = seconds
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out


class LlmExtractor(Protocol):
    @property
    def model(self) -> str: ...

    async def ask(self, text: str, *, last_question: Question | None = None) -> LlmAnswer:
        """The model's understanding of ``text``. Raises :class:`LlmFailed`."""
        ...


class UnderstandingMonitor(Protocol):
    def record(self, explanation: Explanation, *, called_llm: bool, outcome: str) -> None:
        """Count one understood message (and the LLM call's tokens and latency, when there was one)."""
        ...


# --- Orders --------------------------------------------------------------------------------------------


class OrderSourceUnavailable(Exception):
    """The order source could not answer (down, timed out): not the same as "no such order"."""


class OrderSource(Protocol):
    async def find(self, order_number: str) -> Order | None:
        """The order with this normalized number, ``None`` when there is none.

        Raises :class:`OrderSourceUnavailable` when it cannot tell.
        """
        ...


class OrderBook(Protocol):
    """The orders kept in Lumen's own database (imported from the shop's files)."""

    async def write(self, orders: Sequence[Order]) -> ImportSummary:
        """Insert new orders and replace known ones with their shipments, all at once."""
        ...

    async def is_empty(self) -> bool: ...


# --- Conversations -------------------------------------------------------------------------------------


class StoreUnavailable(Exception):
    """Lumen's own database could not be reached; nothing was written."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A conversation as loaded: its state and the version a save must match."""

    conversation_id: int | None
    state: ConversationState
    version: int
    answered: list[Reply] | None = None
    """The replies the delivery being handled already got (it is a redelivery), when ``load`` was given
    its provider id; ``None`` when it was never processed."""


class ConcurrentUpdate(Exception):
    """Another message of the same conversation was saved first; handle this one again."""


class DuplicateMessage(Exception):
    """This provider message was already processed."""


class ConversationStore(Protocol):
    async def load(self, channel: str, key: str, provider_message_id: str | None = None) -> Snapshot:
        """The conversation, and with ``provider_message_id`` whether that delivery was answered already
        (``Snapshot.answered``): one round trip for both, the first thing every turn needs."""
        ...

    async def commit(
        self,
        snapshot: Snapshot,
        message: InboundMessage,
        understanding: Understanding,
        state: ConversationState,
        replies: Sequence[Reply],
        effects: Sequence[Effect],
        now: datetime,
        check: AttemptCheck | None = None,
        record: TurnRecord | None = None,
    ) -> None:
        """Atomically save the new state, log the message (with ``record``: what the turn did, for the
        dashboard, and the orders it verified), apply effects (stamped ``now``).

        With ``check``, the failures it counted are counted again under a lock on its order number and
        email: if another turn recorded one since, this turn's answer rests on a stale count.

        Raises :class:`ConcurrentUpdate` (a lost race, or a stale count) or :class:`DuplicateMessage`, in
        which case nothing was written.
        """
        ...

    async def open_ticket(self, conversation_id: int, category: TicketCategory) -> str | None:
        """The reference of the conversation's open ticket of ``category``, if it has one."""
        ...


class MessageLog(Protocol):
    async def replies_for(self, channel: str, provider_message_id: str) -> list[Reply] | None:
        """The replies a message already got, ``None`` when it was never processed."""
        ...


@dataclass(frozen=True, slots=True)
class FailureCounts:
    in_conversation: int
    for_order: int
    for_email: int


@dataclass(frozen=True, slots=True)
class AttemptCheck:
    """This turn checked an email against an order, allowed by the failures counted before it. The commit
    holds only while those counts still stand, so no burst of checks — in one process or many — gets
    past the limits."""

    order_number: str
    email_digest: str
    since: datetime
    counted: FailureCounts


class FailureLog(Protocol):
    async def count_failures(
        self, conversation_id: int | None, order_number: str, email_digest: str, since: datetime
    ) -> FailureCounts:
        """Failed verifications since ``since``."""
        ...


# --- Outgoing messages ---------------------------------------------------------------------------------


class SendFailed(Exception):
    """A provider did not take an outgoing message."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.permanent = permanent
        """Retrying cannot help (the recipient opted out, the number is invalid)."""
        self.retry_after = retry_after
        """Seconds the provider asked us to wait (HTTP ``Retry-After``), when it said."""


class ReplySender(Protocol):
    async def send(self, sender: str, recipient: str, text: str) -> str | None:
        """Send ``text`` from the shop's ``sender`` address; the provider's message id when it gives one.

        Raises :class:`SendFailed`.
        """
        ...

    async def aclose(self) -> None:
        """Release connections; called once at shutdown."""
        ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send through a provider API (``via``): a reply, or a ticket for a sink."""

    via: str
    """The provider API it goes out through (``twilio``, ``whatsapp_cloud``, ``smtp``, a sink's)."""
    sender: str
    """The shop's address on that API (a phone number, a WhatsApp phone number id, an email address)."""
    recipient: str
    body: str
    ticket_reference: str | None = None
    """The ticket this message delivers to a sink, if it does."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A stored message taken for one delivery attempt."""

    id: int
    via: str
    sender: str
    recipient: str
    body: str
    attempts: int
    """Attempts made before this one."""
    created_at: datetime
    """When it was stored (or put back by a redelivery): a ticket's retry window starts here."""
    ticket_reference: str | None = None
    """The ticket it delivers to a sink, if it does: such a message is retried for hours, not attempts."""


class OutboxStore(Protocol):
    """Where outgoing messages wait until a provider takes them."""

    async def store(self, messages: Sequence[Outgoing], now: datetime) -> list[int]: ...

    async def due(self, now: datetime, limit: int) -> list[int]:
        """Messages waiting to be sent whose time has come, oldest first."""
        ...

    async def claim(self, message_id: int, now: datetime, lease_until: datetime) -> Claimed | None:
        """Take a due message for one attempt, so no other worker sends it before ``lease_until``;
        ``None`` when it is not due any more (sent, or taken by another worker)."""
        ...

    async def sent(
        self, message_id: int, attempts: int, provider_message_id: str | None, now: datetime
    ) -> None: ...

    async def retry_at(self, message_id: int, attempts: int, error: str, at: datetime) -> None: ...

    async def give_up(self, message_id: int, status: DeliveryStatus, attempts: int, error: str) -> None: ...

    async def sent_since(self, via: str, recipient: str, since: datetime) -> int:
        """How many messages went (or are going) to ``recipient`` through ``via`` since ``since``."""
        ...


class OutboxMonitor(Protocol):
    def given_up(self, via: str, status: DeliveryStatus) -> None:
        """Count one outgoing message the outbox stopped trying to send (``failed`` or ``dropped``)."""
        ...


# --- Accepted inbound messages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyRoute:
    """Where the replies to an accepted message go, and in which form."""

    via: str
    """The provider API they go out through (a key of the outbox's senders)."""
    sender: str
    """The shop's address on that API."""
    recipient: str
    form: str
    """How the replies are rendered into one text (a key of the intake's renderers: ``sms`` …)."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """An inbound message stored before its provider was told it arrived, with where its replies go."""

    message: InboundMessage
    route: ReplyRoute


@dataclass(frozen=True, slots=True)
class Lease:
    """An accepted message taken by one worker to answer; only the holder of the newest lease may
    settle it, so however many workers take it over, its replies go out once."""

    id: int
    token: str
    accepted: Accepted
    attempts: int
    """Times it was taken before this one."""


class Inbox(Protocol):
    """Inbound messages a provider was told arrived, kept until they are answered."""

    async def accept(
        self, messages: Sequence[Accepted], now: datetime, lease_until: datetime
    ) -> list[Lease | None]:
        """Store each message, leased to the caller; ``None`` for one stored before (a redelivery).
        All or nothing: raises :class:`StoreUnavailable` with nothing stored."""
        ...

    async def due(self, now: datetime, limit: int) -> list[int]:
        """Unanswered messages whose lease ran out (their worker stopped), oldest first."""
        ...

    async def take(self, entry_id: int, now: datetime, lease_until: datetime) -> Lease | None:
        """A new lease on a due message; ``None`` when it was answered or another worker took it."""
        ...

    async def settle(self, lease: Lease, replies: Sequence[Outgoing], now: datetime) -> list[int] | None:
        """Mark the message answered and store ``replies`` in the outbox, in one transaction; the outbox
        ids, or ``None`` (and nothing stored) when the lease is not the newest any more."""
        ...

    async def give_up(self, lease: Lease, now: datetime) -> None:
        """Stop taking a message that failed every time it was taken."""
        ...

    async def keep_unanswered(self, accepted: Accepted, reason: str, now: datetime) -> bool:
        """Store a message that is never to be answered (mail a machine sent), with why; ``False`` when it
        was stored before. Raises :class:`StoreUnavailable` when it cannot be stored."""
        ...


# --- Tickets -------------------------------------------------------------------------------------------


class TicketSink(Protocol):
    """A place tickets go to (a webhook, the support inbox, a help desk).

    A sink renders a ticket into one outgoing message; the outbox sender registered under its ``via``
    delivers it, with the outbox's retries, so a sink is only ever a renderer plus a sender."""

    @property
    def name(self) -> str:
        """How the sink is called in delivery states and logs ("webhook", "email", "zendesk")."""
        ...

    def render(self, ticket: Ticket) -> Outgoing: ...


class TicketStore(Protocol):
    async def newest(
        self, *, status: TicketStatus | None = None, category: TicketCategory | None = None, limit: int = 100
    ) -> list[Ticket]:
        """Tickets, newest first (without their deliveries)."""
        ...

    async def get(self, reference: str) -> Ticket | None:
        """One ticket with the state of its deliveries."""
        ...

    async def close(self, reference: str, now: datetime) -> Ticket | None:
        """Close an open ticket (a closed one stays as it is); ``None`` when there is no such ticket."""
        ...

    async def undispatched(self, limit: int) -> list[int]:
        """Tickets not yet handed to the outbox, oldest first."""
        ...

    async def dispatch(
        self, ticket_id: int, now: datetime, render: Callable[[Ticket], Sequence[Outgoing]]
    ) -> list[int] | None:
        """Take the ticket for dispatch and store what ``render`` makes of it in the outbox, in one
        transaction; the outbox ids, or ``None`` when another worker took it first."""
        ...

    async def requeue(self, reference: str | None, now: datetime) -> list[Requeued] | None:
        """Put deliveries the outbox gave up on (failed or dropped) back in it, due at ``now`` with no
        attempt counted and their retry window starting again: the ticket ``reference``'s, or every
        ticket's when ``reference`` is ``None``. ``None`` when there is no ticket ``reference``."""
        ...


@dataclass(frozen=True, slots=True)
class Requeued:
    """A ticket's delivery to one sink, put back in the outbox."""

    message_id: int
    reference: str
    sink: str
    """The sink's ``via``, as the ticket's deliveries name it."""


# --- What channels keep --------------------------------------------------------------------------------


class OptOuts(Protocol):
    """Who asked for no more messages on a channel (SMS STOP), until they opt back in."""

    async def is_opted_out(self, channel: str, address: str) -> bool: ...

    async def opt_out(self, channel: str, address: str, now: datetime) -> None: ...

    async def opt_in(self, channel: str, address: str) -> None: ...


class SeenTokens(Protocol):
    """Webhook tokens already accepted: a provider's replay protection (Mailgun's signed token)."""

    async def first_use(self, provider: str, token: str, now: datetime) -> bool:
        """Record ``token``; ``False`` when it was used before."""
        ...


# --- Proactive updates ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpdateNote:
    """One update to send, as the notifier decided it."""

    subscription_id: int
    channel: str
    """``sms``, ``whatsapp`` or ``email``: the subscription's channel."""
    address: str
    """The shopper's phone number, WhatsApp id or email address."""
    shop_address: str | None
    """``InboundMessage.reply_from`` of the subscribing conversation; ``None``: the channel's default."""
    language: str
    reply: Reply
    """The update's text, channel-neutral, in ``language``."""
    milestone: str
    """A ``domain.updates.Milestone`` value."""
    order_number: str
    in_session_window: bool
    """WhatsApp: the shopper wrote within the last 24 hours, so free text may be sent."""
    thread_message_id: str | None
    """Email: the Message-ID of the shopper's last email, for In-Reply-To."""
    unsubscribe_token: str


class UpdateRenderer(Protocol):
    def render(self, note: UpdateNote) -> Outgoing | str:
        """The message that carries ``note`` on its channel, or why it cannot be sent (a ``str``, e.g.
        "outside the 24-hour window and no template")."""
        ...


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"
    """The shopper said stop (STOP UPDATES, the email's unsubscribe link, an SMS/WhatsApp STOP)."""
    SETTLED = "settled"
    """Every shipment delivered or cancelled."""
    EXPIRED = "expired"
    """``LUMEN_UPDATES_MAX_DAYS`` passed."""


class NoticeStatus(StrEnum):
    KNOWN = "known"
    """The shopper knew it when they subscribed."""
    QUEUED = "queued"
    """In the outbox."""
    SKIPPED = "skipped"
    """Deliberately not sent (the detail says why)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A shopper's yes to updates about one order on one channel."""

    id: int
    conversation_id: int
    order_number: str
    channel: str
    address: str
    shop_address: str | None
    language: str
    status: SubscriptionStatus
    unsubscribe_token: str
    created_at: datetime
    ends_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewNotice:
    """A milestone to record for a subscription: queued with its message, or skipped with why."""

    shipment_key: str
    event: str
    """``updates.Reached.key``'s second half."""
    status: NoticeStatus
    detail: str | None = None
    message: Outgoing | None = None
    """The update to store in the outbox (``queued`` only)."""
    not_before: datetime | None = None
    """Held in the outbox until then (quiet hours); ``None``: due at once."""


@dataclass(frozen=True, slots=True)
class Notice:
    """A milestone recorded for a subscription, with its message's delivery state when it was queued."""

    shipment_key: str
    event: str
    status: NoticeStatus
    detail: str | None
    created_at: datetime
    delivery: DeliveryStatus | None = None
    """The outbox's state of the update (``pending``, ``sent``, ``failed``, ``dropped``)."""


@dataclass(frozen=True, slots=True)
class SubscriptionReport:
    """A subscription and what it was told, for the shop (``lumen updates list``, ``GET /api/updates``)."""

    subscription: Subscription
    notices: tuple[Notice, ...]


@dataclass(frozen=True, slots=True)
class ConversationContact:
    """What an update needs from the conversation that subscribed."""

    last_inbound_at: datetime | None
    """When the shopper last wrote (WhatsApp's 24-hour window)."""
    last_email_message_id: str | None
    """The Message-ID of the shopper's last email, to reply in its thread."""


class UpdateStore(Protocol):
    """Subscriptions to updates and the milestones told to each."""

    async def active(self, order_numbers: Sequence[str] | None = None) -> list[Subscription]:
        """Active subscriptions to ``order_numbers`` (every order's when ``None``), oldest first."""
        ...

    async def recorded(self, subscription_id: int) -> set[tuple[str, str]]:
        """The ``(shipment_key, event)`` of every milestone recorded for the subscription (known, queued
        or skipped): none of them is ever told again."""
        ...

    async def record(
        self, subscription_id: int, notices: Sequence[NewNotice], now: datetime
    ) -> list[int] | None:
        """Record ``notices`` and store their messages in the outbox, in one transaction; the outbox ids.

        ``None``, and nothing written, when the subscription is no longer active or any of the notices
        was recorded before (another worker got there first): so racing workers send an update once."""
        ...

    async def end(self, subscription_id: int, status: SubscriptionStatus, now: datetime) -> None:
        """End an active subscription (``settled``, ``expired``, ``stopped``); an ended one stays as is."""
        ...

    async def stop_by_token(self, token: str, now: datetime) -> bool:
        """Stop the subscription of an unsubscribe link; ``True`` also when it had ended already,
        ``False`` when no subscription has that token."""
        ...

    async def contact(self, conversation_id: int) -> ConversationContact:
        """When the shopper last wrote in the conversation, and their last email's Message-ID."""
        ...

    async def reports(self, order_number: str | None = None, limit: int = 100) -> list[SubscriptionReport]:
        """Subscriptions (to ``order_number``, or to any order) with their notices, newest first."""
        ...


class UpdateMonitor(Protocol):
    def queued(self, channel: str, milestone: str) -> None:
        """Count one update stored in the outbox."""
        ...

    def skipped(self, channel: str, reason: str) -> None:
        """Count one milestone deliberately not told (superseded, opted out, no template …)."""
        ...


# --- The dashboard ---------------------------------------------------------------------------------------


class DashboardStats(Protocol):
    async def overview(self, window: Window) -> Overview:
        """The period's figures (``domain.stats``), counted from what the store holds."""
        ...


class ConversationLog(Protocol):
    async def search(self, terms: SearchTerms, limit: int) -> list[ConversationSummary]:
        """Conversations matching ``terms``, most recently active first."""
        ...

    async def newest(self, limit: int) -> list[ConversationSummary]:
        """The conversations started last, newest first."""
        ...

    async def transcript(self, conversation_id: int, limit: int) -> ConversationTranscript | None:
        """The conversation and its last ``limit`` messages, oldest first; ``None`` for an unknown id."""
        ...
