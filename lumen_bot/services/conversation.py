"""Handling one inbound message: the I/O around the pure engine.

understand → load state → plan → look the order up / count failures → step → commit (atomically).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from lumen_bot.domain import engine, replies
from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.engine import ConversationState, Facts, Plan, Policy
from lumen_bot.domain.languages import spoken_language
from lumen_bot.domain.messages import InboundMessage, Reply
from lumen_bot.domain.tickets import TicketCategory, new_reference
from lumen_bot.domain.turn_record import newly_verified, record_turn
from lumen_bot.domain.understanding import ORDER_QUESTIONS, Intent, Understanding
from lumen_bot.ports import (
    AttemptCheck,
    ConcurrentUpdate,
    ConversationStore,
    DuplicateMessage,
    ExplainingUnderstander,
    FailureLog,
    MessageLog,
    OrderSource,
    OrderSourceUnavailable,
    Snapshot,
    StoreUnavailable,
)
from lumen_bot.services.keyed_locks import KeyedLocks

log = logging.getLogger(__name__)

_NOTHING_TO_READ = Understanding(intent=Intent.UNKNOWN)
# Messages of one conversation racing across workers: each lost save is tried again after a random pause
# that doubles (up to 0.64 s), so racing workers fall out of step; 20 tries span a few seconds.
_MAX_ATTEMPTS = 20
_FIRST_PAUSE_SECONDS = 0.005
_LONGEST_PAUSE_SECONDS = 0.64


@dataclass(frozen=True, slots=True)
class Limits:
    per_conversation: int
    per_order: int
    per_email: int
    window: timedelta


def _with_context(understanding: Understanding, order_number: str | None) -> Understanding:
    if order_number is None or understanding.order_number or understanding.intent not in ORDER_QUESTIONS:
        return understanding
    return understanding.model_copy(update={"order_number": order_number})


@dataclass(frozen=True, slots=True)
class _Turn:
    replies: list[Reply]
    redelivery: bool = False
    no_conversation: bool = False
    """Only an existing conversation was to be continued, and there was none: nothing was stored."""


_NO_CONVERSATION = _Turn([], no_conversation=True)
_NEW_CONVERSATION = Snapshot(conversation_id=None, state=ConversationState(), version=0)


class ConversationHandler:
    def __init__(
        self,
        *,
        understander: ExplainingUnderstander,
        orders: OrderSource,
        store: ConversationStore,
        messages: MessageLog,
        failures: FailureLog,
        policy: Policy,
        limits: Limits,
        max_text_length: int,
        clock: Clock = utc_now,
    ) -> None:
        self._understander = understander
        self._orders = orders
        self._store = store
        self._messages = messages
        self._failures = failures
        self._policy = policy
        self._limits = limits
        self._max_text_length = max_text_length
        self._clock = clock
        self._turns = KeyedLocks()

    async def handle(self, message: InboundMessage) -> list[Reply]:
        """The replies to ``message``; for a redelivery, the replies it got the first time."""
        return (await self._take_turn(message, existing_only=False)).replies

    async def start(self, message: InboundMessage) -> list[Reply]:
        """Like :meth:`handle`, for a conversation whose key was made for this message (a new chat
        session): there is nothing to load first."""
        return (await self._take_turn(message, existing_only=False, new=True)).replies

    async def handle_accepted(self, message: InboundMessage) -> list[Reply]:
        """Like :meth:`handle`, but raises :class:`StoreUnavailable` rather than answering "try again
        later": a message accepted for later is answered once the store is back."""
        return (await self._take_turn(message, existing_only=False, degrade=False)).replies

    async def handle_new(self, message: InboundMessage) -> list[Reply] | None:
        """Like :meth:`handle`, but ``None`` for a redelivery: its replies went out already."""
        turn = await self._take_turn(message, existing_only=False)
        return None if turn.redelivery else turn.replies

    async def continue_existing(self, message: InboundMessage) -> list[Reply] | None:
        """Like :meth:`handle`, but ``None`` (and nothing stored) when the conversation does not exist."""
        turn = await self._take_turn(message, existing_only=True)
        return None if turn.no_conversation else turn.replies

    async def _take_turn(
        self, message: InboundMessage, *, existing_only: bool, degrade: bool = True, new: bool = False
    ) -> _Turn:
        # Messages of one conversation take turns within this process; across processes the versioned
        # save in the store settles any race.
        async with self._turns.hold((message.channel, message.conversation_key)):
            try:
                return await self._handle(message, existing_only, new)
            except StoreUnavailable:
                if not degrade:
                    raise
                # Nothing was written, so the shopper loses nothing by trying again.
                log.warning("conversation store unavailable", exc_info=True)
                say = self._policy.voice(message.language_hint)
                return _Turn([replies.unavailable(say, self._policy.support_contact)])

    async def _handle(self, message: InboundMessage, existing_only: bool, new: bool) -> _Turn:
        started = time.perf_counter()
        pid = message.provider_message_id
        text = message.text[: self._max_text_length]
        understanding = explanation = None
        # A turn whose email check lost a race to another check starts over with the new count; each such
        # loss is a failure recorded toward a limit, so at most a limit's worth of them before a lockout.
        limits = self._limits
        for attempt in range(
            _MAX_ATTEMPTS + max(limits.per_conversation, limits.per_order, limits.per_email)
        ):
            # The load tells a redelivery too (by the provider id), in the same round trip. Asked on
            # every attempt: a delivery another worker answered meanwhile gets that worker's replies.
            # (A new key's first attempt has nothing to load; were the key taken after all, its save
            # would fail as a lost race, and the next attempt loads.)
            if new and attempt == 0:
                snapshot = _NEW_CONVERSATION
            else:
                snapshot = await self._store.load(message.channel, message.conversation_key, pid)
            if snapshot.answered is not None:
                log.info("redelivery answered from the log", extra={"channel": message.channel})
                return _Turn(snapshot.answered, redelivery=True)
            if existing_only and snapshot.conversation_id is None:
                return _NO_CONVERSATION
            now = self._clock()
            state = engine.resume(snapshot.state, now, self._policy)
            if message.authenticated_sender:
                state = engine.vouch_for(state, message.authenticated_sender)
            check = None
            verified = ()
            if message.unreadable:
                understanding = _NOTHING_TO_READ
                outcome = engine.unreadable(self._in_language(state, message, None, ""), now, self._policy)
            else:
                if understanding is None:
                    explanation = await self._understander.explain(text, last_question=state.last_question)
                    understanding = _with_context(explanation.understanding, message.context_order_number)
                state = self._in_language(state, message, understanding.language, text)
                plan = engine.plan(state, understanding)
                facts, check = await self._gather(plan, snapshot, message, now)
                outcome = engine.step(state, understanding, facts, self._policy)
                verified = newly_verified(state, outcome.state, facts.order)
            record = record_turn(
                explanation, outcome.replies, outcome.effects, verified, time.perf_counter() - started
            )
            try:
                await self._store.commit(
                    snapshot,
                    message,
                    understanding,
                    outcome.state,
                    outcome.replies,
                    outcome.effects,
                    now,
                    check,
                    record,
                )
            except ConcurrentUpdate:
                pause = min(_LONGEST_PAUSE_SECONDS, _FIRST_PAUSE_SECONDS * 2**attempt)
                await asyncio.sleep(random.uniform(0, pause))
                continue
            except DuplicateMessage:
                # Another worker handled the same delivery first.
                previous = await self._messages.replies_for(message.channel, pid or "")
                return _Turn(previous or [], redelivery=True)
            log.info(
                "message handled",
                extra={
                    "channel": message.channel,
                    "intent": understanding.intent.value,
                    "replies": [reply.kind.value for reply in outcome.replies],
                    "effects": [type(effect).__name__ for effect in outcome.effects],
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return _Turn(list(outcome.replies))
        raise ConcurrentUpdate(message.conversation_key)

    def _in_language(
        self, state: ConversationState, message: InboundMessage, detected: str | None, text: str
    ) -> ConversationState:
        language = spoken_language(
            state.language or message.language_hint,
            detected,
            text,
            enabled=self._policy.voices.keys(),
            default=self._policy.default_language,
        )
        return state if language == state.language else state.model_copy(update={"language": language})

    async def _gather(
        self, plan: Plan, snapshot: Snapshot, message: InboundMessage, now: datetime
    ) -> tuple[Facts, AttemptCheck | None]:
        """What the engine needs, and the failure counts an email check rests on (the commit holds them).
        Every turn knows its channel and how the channel reaches the shopper (tickets, updates)."""
        if plan.open_ticket_for is not None:
            return await self._ticket_facts(plan.open_ticket_for, plan.look_up, snapshot, message, now), None
        facts = Facts(now=now, channel=message.channel, contact_address=message.contact_address)
        if plan.look_up is None:
            return facts, None
        try:
            order = await self._orders.find(plan.look_up)
        except OrderSourceUnavailable:
            log.warning("order source unavailable", exc_info=True)
            return replace(facts, source_unavailable=True), None
        if plan.count_failures_for is None:
            return replace(facts, order=order), None
        since = now - self._limits.window
        failed = await self._failures.count_failures(
            snapshot.conversation_id, plan.look_up, plan.count_failures_for, since
        )
        attempts_left = min(
            self._limits.per_conversation - failed.in_conversation,
            self._limits.per_order - failed.for_order,
            self._limits.per_email - failed.for_email,
        )
        # Locked out, nothing is checked, so nothing rests on the count.
        check = (
            AttemptCheck(plan.look_up, plan.count_failures_for, since, failed) if attempts_left > 0 else None
        )
        return replace(facts, order=order, attempts_left=attempts_left), check

    async def _ticket_facts(
        self,
        category: TicketCategory,
        verified_order: str | None,
        snapshot: Snapshot,
        message: InboundMessage,
        now: datetime,
    ) -> Facts:
        """What a ticket needs: the open one to add to, a fresh reference, and how to reach the shopper."""
        existing = None
        if snapshot.conversation_id is not None:
            existing = await self._store.open_ticket(snapshot.conversation_id, category)
        order = None
        if verified_order is not None:
            try:
                order = await self._orders.find(verified_order)
            except OrderSourceUnavailable:
                # The ticket matters more than its contact address: open it without the order's email.
                log.warning("order source unavailable while opening a ticket", exc_info=True)
        return Facts(
            now=now,
            order=order,
            channel=message.channel,
            contact_address=message.contact_address,
            open_ticket=existing,
            new_reference=new_reference(),
        )
