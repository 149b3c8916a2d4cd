"""Provider messages accepted durably and answered exactly once.

A webhook stores its messages (:meth:`Intake.accept`) before it tells the provider they arrived, and
refuses them when it cannot, so the provider delivers them again. Each stored message is leased to the
worker answering it; if that worker stops, the lease runs out and any worker's loop answers it. Only the
newest lease settles a message, in the same transaction that puts its replies in the outbox, so a
message's replies go out once: inline (Twilio's TwiML) or through the outbox, never both, never twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.messages import Reply
from lumen_bot.ports import Accepted, Inbox, Lease, Outgoing
from lumen_bot.services.background import repeat
from lumen_bot.services.conversation import ConversationHandler
from lumen_bot.services.outbox import Outbox

log = logging.getLogger(__name__)

Renderer = Callable[[Sequence[Reply]], str]
# A message whose every worker failed (or crashed) on it this many times is not taken again.
_MAX_TAKES = 5


class Intake:
    def __init__(
        self,
        inbox: Inbox,
        handler: ConversationHandler,
        outbox: Outbox,
        renderers: Mapping[str, Renderer],
        # keyed by ReplyRoute.form
        *,
        lease: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._inbox = inbox
        self._handler = handler
        self._outbox = outbox
        self._renderers = renderers
        self._lease = lease
        self._clock = clock

    async def accept(self, messages: Sequence[Accepted]) -> list[Lease | None]:
        """Store ``messages`` leased to this worker; ``None`` for a redelivery, which its first
        delivery answers. Raises ``StoreUnavailable`` with nothing stored: refuse the delivery then."""
        now = self._clock()
        return await self._inbox.accept(messages, now, now + self._lease)

    async def keep_unanswered(self, accepted: Accepted, reason: str) -> bool:
        """Store a message that must never be answered (mail a machine sent), so the shop keeps a record
        of it; ``False`` for a redelivery. Raises ``StoreUnavailable`` with nothing stored."""
        return await self._inbox.keep_unanswered(accepted, reason, self._clock())

    async def replies(self, lease: Lease) -> list[Reply]:
        """The replies to a leased message (those of its first handling, if it was handled before)."""
        return await self._handler.handle_accepted(lease.accepted.message)

    async def settle_inline(self, lease: Lease) -> bool:
        """Claim the right to answer in the provider's response; ``False`` when the lease was lost and
        another worker answers (or answered) instead."""
        return await self._inbox.settle(lease, [], self._clock()) is not None

    async def settle_by_outbox(self, lease: Lease, replies: Sequence[Reply]) -> None:
        """Send ``replies`` through the outbox, unless another worker took the message over."""
        route = lease.accepted.route
        outgoing = (
            [Outgoing(route.via, route.sender, route.recipient, self._renderers[route.form](replies))]
            if replies
            else []
        )
        ids = await self._inbox.settle(lease, outgoing, self._clock())
        if ids is None:
            log.info("accepted message answered by another worker", extra={"entry": lease.id})
            return
        await self._outbox.deliver(ids)

    async def answer(self, leases: Sequence[Lease | None]) -> None:
        """Answer leased messages one after the other, through the outbox."""
        for lease in leases:
            if lease is not None:
                await self._answer(lease)

    async def answer_later(self, lease: Lease, replies: asyncio.Future[list[Reply]]) -> None:
        """Send replies that were not ready for the provider's response once they are."""
        try:
            ready = await replies
        except Exception:
            # Left pending: the lease runs out and the loop answers it.
            log.exception("accepted message not answered; it will be taken again")
            return
        await self.settle_by_outbox(lease, ready)

    async def answer_due(self, limit: int = 50) -> int:
        """Answer the messages whose worker stopped before answering; how many were taken."""
        taken = 0
        for entry_id in await self._inbox.due(self._clock(), limit):
            now = self._clock()
            lease = await self._inbox.take(entry_id, now, now + self._lease)
            if lease is None:
                continue
            taken += 1
            if lease.attempts >= _MAX_TAKES:
                log.error("accepted message given up", extra={"entry": entry_id, "takes": lease.attempts})
                await self._inbox.give_up(lease, self._clock())
                continue
            log.warning("accepted message taken over", extra={"entry": entry_id, "takes": lease.attempts})
            await self._answer(lease)
        return taken

    async def run(self, interval: float = 2.0) -> None:
        """The loop that answers what stopped workers left: runs until cancelled."""
        await repeat(self.answer_due, every=interval, name="inbox")

    async def _answer(self, lease: Lease) -> None:
        try:
            replies = await self.replies(lease)
            await self.settle_by_outbox(lease, replies)
        except Exception:
            # One message failing must not keep the others from their answers; its lease runs out.
            log.exception("accepted message not answered; it will be taken again")
