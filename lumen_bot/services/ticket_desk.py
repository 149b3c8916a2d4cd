"""The ticket desk: every new ticket handed to the outbox once per sink, so it reaches the shop's team.

A ticket is written in the same transaction as the conversation turn that asked for it. The desk then
takes it and stores one outgoing message per configured sink (webhook, support inbox, Zendesk …) in one
transaction, so a crash or a sink outage never loses one: the outbox retries with backoff, and each
delivery's state is kept beside the ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.tickets import Ticket
from lumen_bot.ports import Outgoing, Requeued, TicketSink, TicketStore
from lumen_bot.services.background import repeat
from lumen_bot.services.outbox import Outbox

log = logging.getLogger(__name__)


class TicketDesk:
    """Hands new tickets to the outbox, once per sink; the outbox delivers and retries."""

    def __init__(
        self, tickets: TicketStore, outbox: Outbox, sinks: Sequence[TicketSink], *, clock: Clock = utc_now
    ) -> None:
        self._tickets = tickets
        self._outbox = outbox
        self._sinks = tuple(sinks)
        self._clock = clock

    @property
    def sinks(self) -> tuple[str, ...]:
        return tuple(sink.name for sink in self._sinks)

    async def dispatch_pending(self, limit: int = 100) -> int:
        """Hand every undispatched ticket to the outbox and try its deliveries at once; how many."""
        dispatched = 0
        for ticket_id in await self._tickets.undispatched(limit):
            message_ids = await self._tickets.dispatch(ticket_id, self._clock(), self._render)
            if message_ids is None:
                continue  # another worker took it
            dispatched += 1
            await self._outbox.deliver(message_ids)
        return dispatched

    async def redeliver(self, reference: str | None) -> list[Requeued] | None:
        """Send again what the outbox gave up on: the ticket ``reference``'s failed and dropped deliveries,
        or every ticket's (``None``), each with no attempt counted and a new retry window. They are tried
        at once; what fails again is retried as any delivery is. ``None`` when there is no such ticket."""
        requeued = await self._tickets.requeue(reference, self._clock())
        if requeued:
            log.info("ticket deliveries requeued", extra={"deliveries": len(requeued)})
            await self._outbox.deliver([delivery.message_id for delivery in requeued])
        return requeued

    async def run(self, interval: float = 1.0) -> None:
        """The dispatch loop: runs until cancelled."""
        await repeat(self.dispatch_pending, every=interval, name="ticket dispatch")

    def _render(self, ticket: Ticket) -> list[Outgoing]:
        log.info("ticket dispatched", extra={"reference": ticket.reference, "sinks": list(self.sinks)})
        return [replace(sink.render(ticket), ticket_reference=ticket.reference) for sink in self._sinks]
