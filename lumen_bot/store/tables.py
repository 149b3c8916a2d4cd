"""The database schema. Every table Lumen keeps, in one place."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Column, DateTime, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from lumen_bot.domain.orders import MaxLength


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc_column(**kwargs: object) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), **kwargs)  # type: ignore[arg-type]


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=MaxLength.ORDER_NUMBER, unique=True, index=True)
    email: str = Field(max_length=MaxLength.EMAIL)
    status: str = Field(max_length=32)
    placed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    customer_name: str | None = Field(default=None, max_length=MaxLength.CUSTOMER_NAME)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


class ShipmentRow(SQLModel, table=True):
    __tablename__ = "shipments"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True, ondelete="CASCADE")
    position: int
    status: str = Field(max_length=32)
    carrier: str | None = Field(default=None, max_length=MaxLength.CARRIER)
    tracking_number: str | None = Field(default=None, max_length=MaxLength.TRACKING_NUMBER)
    tracking_url: str | None = Field(default=None, max_length=MaxLength.TRACKING_URL)
    estimated_delivery: date | None = None


class ConversationRow(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "key", name="uq_conversation_channel_key"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    key: str = Field(max_length=320)
    state: str = Field(sa_column=Column(Text, nullable=False))
    # Optimistic concurrency: a save only succeeds against the version it loaded.
    version: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(nullable=False))


# The message log's columns the dashboard's counts read (``store/stats.py``), besides ``received_at``.
DASHBOARD_COLUMNS = (
    "channel",
    "conversation_id",
    "outcome",
    "understander",
    "verification",
    "reply_ms",
    "tokens_in",
    "tokens_out",
)


class MessageRow(SQLModel, table=True):
    """One inbound message and the replies it got: the audit log, the dedupe key and what the dashboard
    counts (``domain.turn_record.TurnRecord``)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id", name="uq_message_provider_id"),
        # On PostgreSQL the dashboard's counts over a period are index-only scans.
        Index("ix_messages_received", "received_at", postgresql_include=list(DASHBOARD_COLUMNS)),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    channel: str = Field(max_length=32)
    provider_message_id: str | None = Field(default=None, max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    intent: str = Field(max_length=32)
    replies: str = Field(sa_column=Column(Text, nullable=False))
    raw: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    received_at: datetime = Field(sa_column=_utc_column(nullable=False))
    understander: str | None = Field(default=None, max_length=8)
    """``rules``, ``model`` or ``llm``; null when nothing was read, and for messages from before 0007."""
    tokens_in: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    tokens_out: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    reply_ms: int | None = None
    """How long the answer took, from the start of the turn to its replies."""
    outcome: str | None = Field(default=None, max_length=32)
    """The headline reply's kind (``order_answer``, ``locked`` …)."""
    verification: str | None = Field(default=None, max_length=8)
    """``passed``, ``failed`` or ``locked`` when the turn verified (or tried to); else null."""


class ConversationOrderRow(SQLModel, table=True):
    """An order a conversation verified: what support finds a conversation by (its number, or the digest
    of its email)."""

    __tablename__ = "conversation_orders"
    __table_args__ = (
        Index("ix_conversation_orders_number", "order_number"),
        Index("ix_conversation_orders_email", "email_digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    order_number: str = Field(max_length=MaxLength.ORDER_NUMBER)
    email_digest: str | None = Field(default=None, max_length=64)
    verified_at: datetime = Field(sa_column=_utc_column(nullable=False))


class VerificationFailureRow(SQLModel, table=True):
    __tablename__ = "verification_failures"
    __table_args__ = (
        Index("ix_failure_conversation_at", "conversation_id", "created_at"),
        Index("ix_failure_order_at", "order_number", "created_at"),
        Index("ix_failure_email_at", "email_digest", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id")
    order_number: str = Field(max_length=MaxLength.ORDER_NUMBER)
    email_digest: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))


class OptOutRow(SQLModel, table=True):
    """An address that asked for no more messages (SMS STOP); removed when it opts back in."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_opt_out_channel_address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    address: str = Field(max_length=320)
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))


class OutboundRow(SQLModel, table=True):
    """A message to send through a provider's API: stored first, so an outage loses nothing."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_due", "status", "next_attempt_at"),
        Index("ix_outbound_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    """The provider API it goes out through (``twilio``, ``whatsapp_cloud``)."""
    sender: str = Field(max_length=320)
    """The shop's address the message goes out from (a phone number, a WhatsApp phone number id)."""
    recipient: str = Field(max_length=320)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16)
    """``pending`` (to send or retry), ``sent``, ``failed`` (gave up) or ``dropped`` (recipient refuses)."""
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=_utc_column(nullable=False))
    last_error: str | None = Field(default=None, max_length=500)
    provider_message_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    ticket_reference: str | None = Field(default=None, max_length=16, index=True)
    """The ticket this message delivers to a sink, if it does."""


class InboxRow(SQLModel, table=True):
    """An inbound message a provider was told arrived: stored before the acknowledgement, in the same
    transaction as its dedupe key, so a crash after the 200 loses nothing and a redelivery is no new one."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id", name="uq_inbox_message"),
        Index("ix_inbox_due", "status", "lease_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    provider_message_id: str = Field(max_length=200)
    message: str = Field(sa_column=Column(Text, nullable=False))
    """The normalized message as JSON."""
    reply_via: str = Field(max_length=32)
    reply_sender: str = Field(max_length=320)
    reply_recipient: str = Field(max_length=320)
    reply_form: str = Field(max_length=32)
    status: str = Field(default="pending", max_length=16)
    """``pending`` (to answer), ``answered``, ``failed`` (every worker that took it failed) or ``skipped``
    (never to be answered: mail a machine sent)."""
    skip_reason: str | None = Field(default=None, max_length=200)
    """Why a ``skipped`` message is not answered."""
    lease_token: str = Field(max_length=32)
    lease_until: datetime = Field(sa_column=_utc_column(nullable=False))
    attempts: int = 0
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    answered_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class UpdateSubscriptionRow(SQLModel, table=True):
    """A shopper's yes to updates about one order, on one channel, until the order settles or it ends."""

    __tablename__ = "update_subscriptions"
    __table_args__ = (
        Index("ix_update_subscriptions_order", "order_number", "status"),
        Index("ix_update_subscriptions_conversation", "conversation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id")
    order_number: str = Field(max_length=40)
    channel: str = Field(max_length=32)
    """The channel updates go out on (``sms``, ``whatsapp``, ``email`` …)."""
    address: str = Field(max_length=320)
    """The shopper's address on that channel."""
    shop_address: str | None = Field(default=None, max_length=320)
    """The shop's address the shopper wrote to (``InboundMessage.reply_from``); ``None``: the default."""
    language: str = Field(max_length=8)
    status: str = Field(default="active", max_length=16)
    """``active``, ``stopped`` (the shopper said stop), ``settled`` (every shipment delivered or
    cancelled) or ``expired`` (``UPDATES_MAX_DAYS`` passed)."""
    unsubscribe_token: str = Field(max_length=64, unique=True)
    """The secret in an email update's one-click unsubscribe link."""
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    ends_at: datetime = Field(sa_column=_utc_column(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class UpdateNoticeRow(SQLModel, table=True):
    """One milestone of one shipment, told (or deliberately not) to one subscription: at most once."""

    __tablename__ = "update_notices"
    __table_args__ = (UniqueConstraint("subscription_id", "shipment_key", "event", name="uq_update_notice"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="update_subscriptions.id", index=True)
    shipment_key: str = Field(max_length=120)
    event: str = Field(max_length=40)
    """``updates.Reached.key``'s second half: a milestone, with the late ETA for ``running_late``."""
    status: str = Field(max_length=16)
    """``known`` (the shopper knew it when they subscribed), ``queued`` (in the outbox) or ``skipped``."""
    detail: str | None = Field(default=None, max_length=200)
    """Why it was skipped (no WhatsApp template outside the 24-hour window …)."""
    outbound_id: int | None = Field(default=None, foreign_key="outbound_messages.id")
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))


class SeenTokenRow(SQLModel, table=True):
    """A webhook token already accepted (Mailgun's replay protection): a second use is a replay."""

    __tablename__ = "seen_webhook_tokens"
    __table_args__ = (UniqueConstraint("provider", "token", name="uq_seen_token"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    token: str = Field(max_length=200)
    seen_at: datetime = Field(sa_column=_utc_column(nullable=False))


class TicketRow(SQLModel, table=True):
    """A request Lumen cannot fulfil itself, for the shop's team. Stored first, then dispatched to the
    configured sinks through the outbox."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_undispatched", "dispatched_at"),
        Index("ix_tickets_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=16, unique=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    channel: str = Field(max_length=32)
    category: str = Field(max_length=32)
    order_number: str | None = Field(default=None, max_length=MaxLength.ORDER_NUMBER)
    """Only an order the shopper verified in the conversation."""
    contact: str | None = Field(default=None, max_length=320)
    """Where the team reaches the shopper: the channel's address, or the verified order's email."""
    summary: str = Field(sa_column=Column(Text, nullable=False))
    language: str | None = Field(default=None, max_length=8)
    """The shopper's language (ISO 639-1); unknown for tickets from before languages."""
    transcript: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    """The conversation's recent messages as JSON, without other orders' details."""
    requests: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    """How many times the shopper asked: a repeated request adds to the open ticket."""
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(sa_column=_utc_column(nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    dispatched_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    """When the ticket was handed to the outbox for every sink; null until then."""


# --- The dashboard's daily rollups ---------------------------------------------------------------------
# A local day's counts, written once the day is over (``store/stats.py``), so an overview reads a few
# thousand rows per month rather than every message. Keyed by the shop's timezone: a new timezone's days
# are rolled up afresh.


class StatsRolledDayRow(SQLModel, table=True):
    """A local day whose rollups are written: the rows below exist for it, and are not written again."""

    __tablename__ = "stats_rolled_days"
    __table_args__ = (UniqueConstraint("timezone", "day", name="uq_stats_rolled_day"),)

    id: int | None = Field(default=None, primary_key=True)
    timezone: str = Field(max_length=64)
    day: date
    rolled_at: datetime = Field(sa_column=_utc_column(nullable=False))


class StatsConversationDayRow(SQLModel, table=True):
    """One conversation's messages on one local day: the day's conversations, and the period's (a
    conversation counts once however many days it spans)."""

    __tablename__ = "stats_conversation_days"
    __table_args__ = (Index("ix_stats_conversation_days_day", "timezone", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    timezone: str = Field(max_length=64)
    day: date
    conversation_id: int
    channel: str = Field(max_length=32)
    messages: int
    answered: int
    """1 when the conversation got an order answer that day."""


class StatsTurnDayRow(SQLModel, table=True):
    """A local day's turns by understander and verification, with their LLM tokens."""

    __tablename__ = "stats_turn_days"
    __table_args__ = (Index("ix_stats_turn_days_day", "timezone", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    timezone: str = Field(max_length=64)
    day: date
    understander: str | None = Field(default=None, max_length=8)
    verification: str | None = Field(default=None, max_length=8)
    messages: int
    tokens_in: int
    tokens_out: int


class StatsReplyDayRow(SQLModel, table=True):
    """A local day's reply times per channel, as a histogram (times to two significant digits)."""

    __tablename__ = "stats_reply_days"
    __table_args__ = (Index("ix_stats_reply_days_day", "timezone", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    timezone: str = Field(max_length=64)
    day: date
    channel: str = Field(max_length=32)
    reply_ms: int
    messages: int
