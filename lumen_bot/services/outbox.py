"""Outgoing messages through provider APIs: stored first, then sent, retried with backoff until sent.

A provider outage therefore loses nothing: the message waits in the store, and any worker's delivery
loop picks it up when it is due. The store claims a message atomically for one attempt, so two workers
never send the same one.

A worker killed in the middle of a send leaves its claim until the lease ends; then the message is sent
again, because nothing says whether the provider took it. Where the provider deduplicates, the repeat is
harmless: the ticket webhook and Zendesk get an ``Idempotency-Key`` (the ticket reference), an email keeps
the Message-ID it was stored with (by which a mailbox can tell a copy). Twilio's Messages API and the
Graph API's messages endpoint take no idempotency key, so for them the lease is kept short (the longest a
send may take, and a margin) and the provider's message id is recorded the moment it answers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.tickets import DeliveryStatus
from lumen_bot.ports import (
    Claimed,
    OutboxMonitor,
    OutboxStore,
    Outgoing,
    ReplySender,
    SendFailed,
    StoreUnavailable,
)
from lumen_bot.services.background import repeat

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 20.0
"""The longest one send may take: the outbox stops waiting then. The senders' own timeouts are shorter
(10 s for each step of an HTTP request or an SMTP session), so only a provider that answers very slowly,
or a stuck connection, gets here. A send running in a thread (Twilio's SDK) cannot be stopped; it needs
its own timeout within this, or it may still reach the provider after the lease has ended."""
# The claim outlives the send by this much, for the store's write after it (and a send in a thread that
# cannot be stopped at once); then another worker may take the message.
_LEASE_MARGIN = timedelta(seconds=10)
_RECORD_AGAIN_SECONDS = 1.0
TICKET_RETRY_WINDOW = timedelta(hours=24)
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
        ticket_retry_window: timedelta = TICKET_RETRY_WINDOW,
        send_timeout: float = SEND_TIMEOUT_SECONDS,
        monitor: OutboxMonitor | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """``max_attempts`` bounds a reply to a shopper, who has moved on if it is late; a ticket for
        the team is retried for ``ticket_retry_window`` from when it was stored, however many attempts
        that takes."""
        self._store = store
        self._senders = senders
        self._max_attempts = max_attempts
        self._ticket_retry_window = ticket_retry_window
        self._send_timeout = send_timeout
        self._monitor = monitor
        self._clock = clock

    @property
    def lease(self) -> timedelta:
        """How long a claimed message is kept from other workers: longer than any send may take."""
        return timedelta(seconds=self._send_timeout) + _LEASE_MARGIN

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
        lease_until = now + self.lease
        lease_ends = asyncio.get_running_loop().time() + self.lease.total_seconds()
        claimed = await self._store.claim(message_id, now, lease_until)
        if claimed is None:
            return 0
        attempts = claimed.attempts + 1
        sender = self._senders.get(claimed.via)
        try:
            if sender is None:
                raise SendFailed(f"no sender configured for {claimed.via}")
            async with asyncio.timeout(self._send_timeout):
                provider_id = await sender.send(claimed.sender, claimed.recipient, claimed.body)
        except SendFailed as failure:
            await self._failed(claimed, attempts, failure)
            return 1
        except TimeoutError:
            # The provider may still take it: not tried again before the claim would have ended.
            failure = SendFailed(f"no answer within {self._send_timeout:g} s")
            await self._failed(claimed, attempts, failure, not_before=lease_until)
            return 1
        await self._record_sent(message_id, attempts, provider_id, lease_ends)
        return 1

    async def _record_sent(
        self, message_id: int, attempts: int, provider_id: str | None, lease_ends: float
    ) -> None:
        """Record at once that the message went (and the provider's id for it): until then it would be
        sent again when its lease ends (``lease_ends``, in the event loop's time)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._store.sent(message_id, attempts, provider_id, self._clock())
                return
            except StoreUnavailable:
                # A stalled database must not make a sent message look unsent: try again while the
                # claim still keeps other workers away (the store's own waits fit in the margin).
                if loop.time() + _RECORD_AGAIN_SECONDS >= lease_ends - _LEASE_MARGIN.total_seconds():
                    raise
                log.warning("a sent message could not be recorded yet; trying again")
                await asyncio.sleep(_RECORD_AGAIN_SECONDS)

    async def _failed(
        self, claimed: Claimed, attempts: int, failure: SendFailed, *, not_before: datetime | None = None
    ) -> None:
        reason = str(failure)[:_MAX_ERROR_LENGTH]
        if failure.permanent or self._out_of_tries(claimed, attempts):
            status = DeliveryStatus.DROPPED if failure.permanent else DeliveryStatus.FAILED
            log.warning(
                "outgoing message given up",
                extra={"via": claimed.via, "status": status.value, "attempts": attempts},
            )
            await self._store.give_up(claimed.id, status, attempts, reason)
            if self._monitor is not None:
                self._monitor.given_up(claimed.via, status)
            return
        wait = retry_delay(attempts, failure.retry_after)
        log.info("outgoing message will be retried", extra={"attempts": attempts, "in_seconds": round(wait)})
        at = self._clock() + timedelta(seconds=wait)
        await self._store.retry_at(claimed.id, attempts, reason, max(at, not_before or at))

    def _out_of_tries(self, claimed: Claimed, attempts: int) -> bool:
        if claimed.ticket_reference is not None:
            # The team must get every ticket: a sink down for hours (or being fixed) still gets it.
            return self._clock() >= claimed.created_at + self._ticket_retry_window
        return attempts >= self._max_attempts
