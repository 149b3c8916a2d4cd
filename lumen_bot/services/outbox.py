"""Outgoing messages through provider APIs: stored first, then sent, retried with backoff until sent.

A provider outage therefore loses nothing: the message waits in the store, and any worker's delivery
loop picks it up when it is due. The store claims a message atomically for one attempt, so two workers
never send the same one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.tickets import DeliveryStatus
from lumen_bot.ports import Claimed, OutboxStore, Outgoing, ReplySender, SendFailed
from lumen_bot.services.background import repeat

log = logging.getLogger(__name__)

# A claimed message is not due again for this long: longer than any send may take.
_LEASE = timedelta(minutes=2)
_FIRST_RETRY_SECONDS = 2.0
_LONGEST_WAIT_SECONDS = 15 * 60.0
_MAX_ERROR_LENGTH = 500


def retry_delay(attempts: int, asked: float | None) -> float:
    """Seconds before the next attempt: what the provider asked for, else exponential backoff (2 s,
    4 s, 8 s … up to 15 min), plus up to a quarter more so a recovering provider isn't hit all at once."""
    wait = (
        asked if asked is not None else min(_LONGEST_WAIT_SECONDS, _FIRST_RETRY_SECONDS * 2 ** (attempts - 1))
    )
    return wait + random.uniform(0, wait / 4)


class Outbox:
    def __init__(
        self,
        store: OutboxStore,
        senders: Mapping[str, ReplySender],
        # keyed by the provider API a message goes out through ("twilio", "whatsapp_cloud", "smtp" …)
        *,
        max_attempts: int,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._senders = senders
        self._max_attempts = max_attempts
        self._clock = clock

    async def send(self, via: str, sender: str, recipient: str, texts: Sequence[str]) -> None:
        """Store the messages, then try to deliver them at once; what fails stays for the retry loop.

        ``via`` names the provider API (a key of ``senders``); ``sender`` is the shop's address on it.
        """
        ids = await self._store.store(
            [Outgoing(via, sender, recipient, text) for text in texts], self._clock()
        )
        await self.deliver(ids)

    async def deliver(self, message_ids: Sequence[int]) -> None:
        """Try stored messages now; what fails stays for the retry loop."""
        for message_id in message_ids:
            await self._deliver(message_id)

    async def sent_since(self, via: str, recipient: str, since: datetime) -> int:
        """How many messages went (or are going) to ``recipient`` through ``via`` since ``since``."""
        return await self._store.sent_since(via, recipient, since)

    async def deliver_due(self, limit: int = 100) -> int:
        """Deliver every message whose time has come; the number delivered or settled."""
        settled = 0
        for message_id in await self._store.due(self._clock(), limit):
            settled += await self._deliver(message_id)
        return settled

    async def run(self, interval: float = 1.0) -> None:
        """The retry loop: runs until cancelled."""
        await repeat(self.deliver_due, every=interval, name="outbox delivery")

    async def _deliver(self, message_id: int) -> int:
        now = self._clock()
        claimed = await self._store.claim(message_id, now, now + _LEASE)
        if claimed is None:
            return 0
        attempts = claimed.attempts + 1
        sender = self._senders.get(claimed.via)
        try:
            if sender is None:
                raise SendFailed(f"no sender configured for {claimed.via}")
            provider_id = await sender.send(claimed.sender, claimed.recipient, claimed.body)
        except SendFailed as failure:
            await self._failed(claimed, attempts, failure)
            return 1
        await self._store.sent(message_id, attempts, provider_id, self._clock())
        return 1

    async def _failed(self, claimed: Claimed, attempts: int, failure: SendFailed) -> None:
        reason = str(failure)[:_MAX_ERROR_LENGTH]
        if failure.permanent or attempts >= self._max_attempts:
            status = DeliveryStatus.DROPPED if failure.permanent else DeliveryStatus.FAILED
            log.warning("outgoing message given up", extra={"status": status.value, "attempts": attempts})
            await self._store.give_up(claimed.id, status, attempts, reason)
            return
        wait = retry_delay(attempts, failure.retry_after)
        log.info("outgoing message will be retried", extra={"attempts": attempts, "in_seconds": round(wait)})
        await self._store.retry_at(claimed.id, attempts, reason, self._clock() + timedelta(seconds=wait))
