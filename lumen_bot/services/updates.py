"""Proactive shipping updates: turns the moves of subscribed orders into messages through the outbox.

For each active subscription the notifier reads the order, works out which milestones it has reached
(:func:`lumen_bot.domain.updates.reached`, and an estimated delivery moved later than every one recorded
for the shipment: :func:`~lumen_bot.domain.updates.moved_later`) that were never recorded for the
subscription, and records
each of them in one transaction with its update's outbox message — or as skipped, with why. What was
recorded is never told again, so a webhook, an import and the poll finding the same change send one
update; two workers finding it at once send one too (the store records nothing for the second).

Several milestones of one shipment found at once (it shipped and was delivered between two polls): only
the latest meaningful one is sent ("delivered"), the others are recorded as skipped, ``superseded``. A
shopper who opted out of the channel (SMS or WhatsApp STOP) gets nothing: the news is recorded as skipped
(``opted out``) and the subscription stops. An SMS found in the quiet hours is stored held until they
end. A subscription ends when the order settles (every shipment delivered or cancelled) or when its time
is up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo

from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.orders import Order
from lumen_bot.domain.quiet_hours import QuietHours
from lumen_bot.domain.speech import Speech
from lumen_bot.domain.update_messages import update_reply
from lumen_bot.domain.updates import Milestone, Reached, estimates, is_settled, moved_later, reached
from lumen_bot.ports import (
    NewNotice,
    NoticeStatus,
    OptOuts,
    OrderSource,
    OrderSourceUnavailable,
    Outgoing,
    StoreUnavailable,
    Subscription,
    SubscriptionStatus,
    UpdateMonitor,
    UpdateNote,
    UpdateRenderer,
    UpdateStore,
)
from lumen_bot.services.background import repeat

log = logging.getLogger(__name__)

SESSION_WINDOW = timedelta(hours=24)
"""WhatsApp's customer-service window: free text may go this long after the shopper last wrote."""
SUPERSEDED = "superseded"
OPTED_OUT = "opted out"
# The channels whose STOP (kept in OptOuts) covers updates too.
_OPT_OUT_CHANNELS = frozenset({"sms", "whatsapp"})
# Of several milestones of one shipment found at once, the one told: the furthest along.
_RANK = {
    Milestone.SHIPPED: 1,
    Milestone.RUNNING_LATE: 2,
    Milestone.OUT_FOR_DELIVERY: 3,
    Milestone.EXCEPTION: 4,
    Milestone.DELIVERED: 5,
    Milestone.CANCELLED: 5,
}


class UpdateNotifier:
    def __init__(
        self,
        store: UpdateStore,
        orders: OrderSource,
        opt_outs: OptOuts,
        renderers: Mapping[str, UpdateRenderer],
        # keyed by the subscription's channel ("sms", "whatsapp", "email")
        voices: Mapping[str, Speech],
        *,
        default_language: str,
        timezone: tzinfo,
        quiet_hours: QuietHours | None = None,
        monitor: UpdateMonitor | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """``voices`` say the updates in each subscription's language (``default_language`` for one not
        enabled any more); ``timezone`` is the shop's, for "today" and the quiet hours."""
        self._store = store
        self._orders = orders
        self._opt_outs = opt_outs
        self._renderers = renderers
        self._voices = voices
        self._default_language = default_language
        self._timezone = timezone
        self._quiet_hours = quiet_hours
        self._monitor = monitor
        self._clock = clock

    async def orders_changed(self, order_numbers: Sequence[str]) -> int:
        """Check the active subscriptions to these orders now (a webhook, an import); the number of
        updates queued."""
        return await self._check_all(await self._store.active(order_numbers))

    async def poll(self) -> int:
        """Check every active subscription (a webhook missed only delays an update); updates queued."""
        return await self._check_all(await self._store.active())

    async def run(self, interval: float) -> None:
        """The poll loop: runs until cancelled."""
        await repeat(self.poll, every=interval, name="update poll")

    async def _check_all(self, subscriptions: Sequence[Subscription]) -> int:
        queued = 0
        for subscription in subscriptions:
            try:
                queued += await self._check(subscription)
            except OrderSourceUnavailable:
                # Asked again at the next poll (or the next change).
                log.warning(
                    "order source unavailable: update check put off", extra={"subscription": subscription.id}
                )
            except StoreUnavailable:
                log.warning(
                    "store unavailable: update check put off", extra={"subscription": subscription.id}
                )
            except Exception:
                # One subscription that cannot be checked (a bug, a malformed order) holds up no other.
                log.exception("update check failed", extra={"subscription": subscription.id})
        return queued

    async def _check(self, subscription: Subscription) -> int:
        now = self._clock()
        if now >= subscription.ends_at:
            await self._store.end(subscription.id, SubscriptionStatus.EXPIRED, now)
            return 0
        order = await self._orders.find(subscription.order_number)
        if order is None:
            return 0  # gone from the source for now: nothing to tell, and nothing settled
        today = now.astimezone(self._timezone).date()
        told = await self._store.recorded(subscription.id)
        found = {m.key: m for m in (*reached(order, today), *moved_later(order, told, today))}
        news = [milestone for key, milestone in found.items() if key not in told]
        # The estimates from now on known: a later one is news (the first one seen is the baseline).
        estimated = [
            NewNotice(shipment, event, NoticeStatus.KNOWN)
            for shipment, event in estimates(order)
            if (shipment, event) not in told
        ]
        opted_out = subscription.channel in _OPT_OUT_CHANNELS and await self._opt_outs.is_opted_out(
            subscription.channel, subscription.address
        )
        queued = 0
        if news or estimated:
            notices = await self._notices(subscription, order, news, now, opted_out=opted_out)
            if await self._store.record(subscription.id, [*notices, *estimated], now) is None:
                return 0  # recorded by another worker first, or the subscription ended meanwhile
            queued = self._count(subscription, notices)
        if opted_out:
            await self._store.end(subscription.id, SubscriptionStatus.STOPPED, now)
        elif is_settled(order):
            await self._store.end(subscription.id, SubscriptionStatus.SETTLED, now)
        return queued

    async def _notices(
        self,
        subscription: Subscription,
        order: Order,
        news: Sequence[Reached],
        now: datetime,
        *,
        opted_out: bool,
    ) -> list[NewNotice]:
        """What to record for ``news``: the latest of each shipment's to send, unless ``opted_out``."""
        latest: dict[str, Reached] = {}
        for milestone in news:
            current = latest.get(milestone.shipment_key)
            if current is None or _RANK[milestone.milestone] >= _RANK[current.milestone]:
                latest[milestone.shipment_key] = milestone
        notices = []
        for milestone in news:
            shipment, event = milestone.key
            if milestone is not latest[milestone.shipment_key]:
                notices.append(NewNotice(shipment, event, NoticeStatus.SKIPPED, SUPERSEDED))
            elif opted_out:
                notices.append(NewNotice(shipment, event, NoticeStatus.SKIPPED, OPTED_OUT))
            else:
                notices.append(await self._notice(subscription, order, milestone, now))
        return notices

    async def _notice(
        self, subscription: Subscription, order: Order, milestone: Reached, now: datetime
    ) -> NewNotice:
        shipment, event = milestone.key
        renderer = self._renderers.get(subscription.channel)
        if renderer is None:
            reason = f"no {subscription.channel} updates configured"
            return NewNotice(shipment, event, NoticeStatus.SKIPPED, reason)
        say = self._voices.get(subscription.language) or self._voices[self._default_language]
        contact = await self._store.contact(subscription.conversation_id)
        last = contact.last_inbound_at
        note = UpdateNote(
            subscription_id=subscription.id,
            channel=subscription.channel,
            address=subscription.address,
            shop_address=subscription.shop_address,
            language=say.language,
            reply=update_reply(
                say,
                order,
                milestone,
                now.astimezone(self._timezone).date(),
                reply_to_stop=subscription.channel != "email",
            ),
            milestone=milestone.milestone.value,
            order_number=order.number,
            in_session_window=last is not None and now - last < SESSION_WINDOW,
            thread_message_id=contact.last_email_message_id,
            unsubscribe_token=subscription.unsubscribe_token,
        )
        rendered = renderer.render(note)
        if not isinstance(rendered, Outgoing):
            return NewNotice(shipment, event, NoticeStatus.SKIPPED, rendered)
        not_before = None
        if subscription.channel == "sms" and self._quiet_hours is not None:
            not_before = self._quiet_hours.end_after(now, self._timezone)
        return NewNotice(shipment, event, NoticeStatus.QUEUED, message=rendered, not_before=not_before)

    def _count(self, subscription: Subscription, notices: Sequence[NewNotice]) -> int:
        queued = 0
        for notice in notices:
            if notice.status is NoticeStatus.QUEUED:
                queued += 1
                milestone = notice.event.partition(":")[0]
                log.info("update queued", extra={"channel": subscription.channel, "milestone": milestone})
                if self._monitor is not None:
                    self._monitor.queued(subscription.channel, milestone)
            elif notice.status is NoticeStatus.SKIPPED and self._monitor is not None:
                self._monitor.skipped(subscription.channel, notice.detail or "")
        return queued
