"""The small interfaces the conversation core depends on; adapters live elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from lumen_bot.engine import ConversationState, Effect
from lumen_bot.messages import InboundMessage, Reply
from lumen_bot.orders.model import Order
from lumen_bot.understanding.model import Understanding

if TYPE_CHECKING:
    from lumen_bot.tickets import Ticket


class Understander(Protocol):
    async def understand(self, text: str, *, last_question: str | None = None) -> Understanding: ...


class OrderSourceUnavailable(Exception):
    """The order source could not answer (down, timed out): not the same as "no such order"."""


class StoreUnavailable(Exception):
    """Lumen's own database could not be reached; nothing was written."""


class OrderSource(Protocol):
    async def find(self, order_number: str) -> Order | None:
        """The order with this normalized number, ``None`` when there is none.

        Raises :class:`OrderSourceUnavailable` when it cannot tell.
        """
        ...


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
class Snapshot:
    """A conversation as loaded: its state and the version a save must match."""

    conversation_id: int | None
    state: ConversationState
    version: int


class ConcurrentUpdate(Exception):
    """Another message of the same conversation was saved first; handle this one again."""


class DuplicateMessage(Exception):
    """This provider message was already processed."""


class ConversationStore(Protocol):
    async def load(self, channel: str, key: str) -> Snapshot: ...

    async def commit(
        self,
        snapshot: Snapshot,
        message: InboundMessage,
        understanding: Understanding,
        state: ConversationState,
        replies: Sequence[Reply],
        effects: Sequence[Effect],
        now: datetime,
    ) -> None:
        """Atomically save the new state, log the message, apply effects (stamped ``now``).

        Raises :class:`ConcurrentUpdate` or :class:`DuplicateMessage`, in which case nothing was written.
        """
        ...

    async def open_ticket(self, conversation_id: int, category: str) -> str | None:
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


class FailureLog(Protocol):
    async def count_failures(
        self, conversation_id: int | None, order_number: str, email_digest: str, since: datetime
    ) -> FailureCounts:
        """Failed verifications since ``since``."""
        ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for the outbox: what a :class:`TicketSink` makes of a ticket."""

    sender: str
    recipient: str
    body: str


class TicketSink(Protocol):
    """A place tickets go to (a webhook, the support inbox, a help desk).

    A sink renders a ticket into one outgoing message; the outbox sender registered under its ``via``
    delivers it, with the outbox's retries, so a sink is only ever a renderer plus a sender."""

    @property
    def name(self) -> str:
        """How the sink is called in delivery states and logs ("webhook", "email", "zendesk")."""
        ...

    @property
    def via(self) -> str:
        """The outbox sender that delivers what :meth:`render` makes."""
        ...

    def render(self, ticket: Ticket) -> Outgoing: ...
