"""The conversation as an explicit state table: (state, understanding, facts) → (state, replies, effects).

Pure: no database, network or clock. The caller (:mod:`lumen_bot.services.conversation`) loads the state, asks
:func:`plan` which order to look up, fetches it, calls :func:`step` and stores the outcome.

States (``Phase``) and transitions::

    IDLE ──order question, no number──────────► AWAITING_ORDER_NUMBER
    IDLE / AWAITING_* ──number, no email──────► AWAITING_EMAIL          (asked the same way, order or not)
    AWAITING_EMAIL ──email matches────────────► IDLE + order verified   (answer the question asked)
    AWAITING_EMAIL ──no match─────────────────► AWAITING_EMAIL          (failure recorded; same reply
                                                                          for unknown order and wrong email)
    any ──attempt limit reached───────────────► IDLE                    (point to support, no check)
    any ──out of scope / wants a person───────► unchanged + ticket (opened, or added to)
    any ──a vague request for the team────────► CONFIRMING_TICKET       (one question: pass it on?)
    CONFIRMING_TICKET ──yes / no / other──────► IDLE + ticket / IDLE / as from IDLE
    AWAITING_EMAIL ──email matches, order not ► OFFERING_UPDATES        (answer, then: message you when it
                     settled, updates possible                            moves? once per order)
    OFFERING_UPDATES ──yes / no / other───────► IDLE + Subscribe / IDLE / as from IDLE
    any ──"notify me", an order verified──────► IDLE + Subscribe        (the current or the named order)
    any ──"notify me", none verified──────────► the order flow          (subscribed right after the answer)
    any ──"stop updates"──────────────────────► IDLE + Unsubscribe      (the named order, else all of them)

Updates go out on the conversation's channel when it can carry them (``Policy.update_channels``); from a
web chat, which cannot reach a closed browser, by email to the verified order's address.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from lumen_bot.domain import replies, tickets, updates
from lumen_bot.domain.identifiers import email_digest
from lumen_bot.domain.messages import Reply
from lumen_bot.domain.orders import Order
from lumen_bot.domain.redaction import redact
from lumen_bot.domain.speech import Speech
from lumen_bot.domain.tickets import TicketCategory
from lumen_bot.domain.understanding import ORDER_QUESTIONS, SMALL_TALK, Intent, Question, Topic, Understanding


class Phase(StrEnum):
    IDLE = "idle"
    AWAITING_ORDER_NUMBER = "awaiting_order_number"
    AWAITING_EMAIL = "awaiting_email"
    CONFIRMING_TICKET = "confirming_ticket"
    OFFERING_UPDATES = "offering_updates"


class ConversationState(BaseModel):
    """Everything a conversation remembers between messages. Emails are kept only as digests."""

    model_config = ConfigDict(frozen=True)

    phase: Phase = Phase.IDLE
    question: Intent = Intent.ORDER_STATUS
    """The order question to answer once the order is verified."""
    not_arrived: bool = False
    pending_order: str | None = None
    pending_email: str | None = None
    verified_orders: tuple[str, ...] = ()
    verified_emails: tuple[str, ...] = ()
    current_order: str | None = None
    """The verified order the conversation is about, for follow-ups without a number."""
    pending_category: TicketCategory | None = None
    """The request the bot offered to pass to the team, while it waits for a yes or no."""
    offered_order: str | None = None
    """The verified order the bot offered updates about, while it waits for a yes or no."""
    offered_orders: tuple[str, ...] = ()
    """Orders offered updates already: the offer is made once per order and conversation."""
    subscribed_orders: tuple[str, ...] = ()
    """Orders this conversation asked updates about (and has not stopped)."""
    subscribe_after: bool = False
    """The shopper asked for updates before verifying an order: subscribe once it is verified."""
    last_activity: datetime | None = None
    language: str | None = None
    """The language the conversation is held in (ISO 639-1); ``None`` before the first message."""

    @property
    def last_question(self) -> Question | None:
        """What the bot is waiting for, as the understanders read it."""
        return _QUESTIONS.get(self.phase)


_QUESTIONS = {
    Phase.AWAITING_ORDER_NUMBER: Question.ORDER_NUMBER,
    Phase.AWAITING_EMAIL: Question.EMAIL,
    Phase.CONFIRMING_TICKET: Question.CONFIRM_TICKET,
    Phase.OFFERING_UPDATES: Question.OFFER_UPDATES,
}


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """A verification attempt failed (stored, so the limits outlive the session)."""

    order_number: str
    email_digest: str


@dataclass(frozen=True, slots=True)
class Escalate:
    """The shopper asked for something only the team can do: open the ticket, or add to it."""

    reference: str
    category: TicketCategory
    order_number: str | None
    """Only an order verified in this conversation, never one the shopper merely named."""
    contact: str | None
    """Where the team reaches the shopper: the channel's address, else the verified order's email."""
    summary: str
    """One line for the team, in the shop's language."""
    language: str
    """The language the shopper writes in."""


@dataclass(frozen=True, slots=True)
class Subscribe:
    """The shopper said yes to updates: message them when the order moves (see ``domain.updates``)."""

    order_number: str
    """Always an order verified in this conversation."""
    channel: str
    """The channel the updates go out on: the conversation's, or ``email`` for a web chat."""
    address: str
    """Where on that channel: the shopper's phone number or WhatsApp id, or an email address."""
    language: str
    told: tuple[tuple[str, str], ...]
    """The milestones the shopper already knows (``updates.Reached.key``): never sent as news."""


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """The shopper asked to stop updates about one order, or (``None``) every order of the conversation."""

    order_number: str | None = None


@dataclass(frozen=True, slots=True)
class Told:
    """An order answer told a subscribed shopper what an update would: it is not news any more."""

    order_number: str
    told: tuple[tuple[str, str], ...]
    """As :attr:`Subscribe.told`."""


Effect = RecordFailure | Escalate | Subscribe | Unsubscribe | Told


@dataclass(frozen=True, slots=True)
class Policy:
    shop_name: str
    support_contact: str
    idle_after: timedelta
    voices: Mapping[str, Speech]
    """The languages Lumen answers in, each with its voice."""
    default_language: str
    """For a first message that says too little to tell, and for any language not enabled."""
    timezone: tzinfo
    """The shop's: "today" (is a parcel late?) and dates are the shop's."""
    update_channels: frozenset[str] = frozenset()
    """The channels proactive updates can go out on (``sms``, ``whatsapp``, ``email``): offered there,
    and from a web chat by email when ``email`` is one. Empty: updates are never offered."""

    def voice(self, language: str | None) -> Speech:
        return self.voices.get(language or self.default_language) or self.voices[self.default_language]


@dataclass(frozen=True, slots=True)
class Plan:
    """What the caller must fetch before :func:`step`."""

    look_up: str | None = None
    count_failures_for: str | None = None
    """The digest of the email about to be checked: count recent failures before checking it."""
    open_ticket_for: TicketCategory | None = None
    """A ticket category: find the conversation's open ticket of it, to add to rather than repeat."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What the caller fetched, as :class:`Plan` asked."""

    now: datetime
    order: Order | None = None
    source_unavailable: bool = False
    attempts_left: int = 1
    """Verification attempts left in the window: the least of the conversation's, the order number's
    and the email address's."""
    channel: str = ""
    """The channel the message came on (always filled)."""
    contact_address: str | None = None
    """Where the channel can reach the shopper later (:attr:`InboundMessage.contact_address`)."""
    open_ticket: str | None = None
    """The reference of the conversation's open ticket of the planned category, if there is one."""
    new_reference: str = ""
    """A fresh reference for a ticket opened now (drawn by the caller: the engine has no randomness)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    state: ConversationState
    replies: tuple[Reply, ...]
    effects: tuple[Effect, ...] = ()


# A digest no address has, compared against when the order is unknown so both paths do the same work.
_NO_EMAIL = "0" * 64
_ORDER_FLOW = ORDER_QUESTIONS | {Intent.PROVIDE_DETAILS, Intent.SUBSCRIBE_UPDATES}
_YES_TO_UPDATES = SMALL_TALK | {Intent.SUBSCRIBE_UPDATES}
_NO_TO_UPDATES = SMALL_TALK | {Intent.STOP_UPDATES}
_ON_THE_CHANNEL = ("sms", "whatsapp", "email")
"""Channels whose address can receive updates itself; any other (a web chat) is offered email."""
_ESCALATIONS = frozenset({Intent.OUT_OF_SCOPE, Intent.HUMAN})


def resume(state: ConversationState, now: datetime, policy: Policy) -> ConversationState:
    """The state to continue from: a conversation idle for too long starts over and verifies again (in
    the language it was held in)."""
    if state.last_activity is not None and now - state.last_activity > policy.idle_after:
        return ConversationState(language=state.language)
    return state


def vouch_for(state: ConversationState, address: str) -> ConversationState:
    """The state with ``address`` verified, as proven by the channel (an authenticated email sender)."""
    return state.model_copy(update={"verified_emails": _with(state.verified_emails, email_digest(address))})


def plan(state: ConversationState, understanding: Understanding) -> Plan:
    subscribing = _subscription_target(state, understanding)
    if subscribing is not None:
        # Updates need the order: what the shopper knows already, and its email for a web chat.
        return Plan(look_up=subscribing)
    category = _ticket_category(state, understanding)
    if category is not None:
        # The verified order's email is where a web shopper can be reached.
        current = state.current_order if state.current_order in state.verified_orders else None
        return Plan(look_up=current, open_ticket_for=category)
    if not _is_order_flow(state, understanding):
        return Plan()
    number = _target_order(state, understanding)
    if number is None:
        return Plan()
    if number in state.verified_orders:
        return Plan(look_up=number)
    offered = _offered_email(state, understanding)
    if offered:
        return Plan(look_up=number, count_failures_for=offered)
    # Without an email the order is only needed when an address verified earlier may vouch for it.
    return Plan(look_up=number if state.verified_emails else None)


def step(state: ConversationState, understanding: Understanding, facts: Facts, policy: Policy) -> Outcome:
    state = state.model_copy(update={"last_activity": facts.now})
    say = policy.voice(state.language)
    subscribing = _subscription_target(state, understanding)
    if subscribing is not None:
        return _subscribe(_cleared(state), subscribing, facts, policy)
    if state.phase is Phase.OFFERING_UPDATES:
        if understanding.answer == "no" and understanding.intent in _NO_TO_UPDATES:
            return Outcome(_cleared(state), (replies.updates_declined(say),))
        state = _cleared(state)  # the shopper moved on: the offer lapses
    if state.phase is Phase.CONFIRMING_TICKET:
        if understanding.answer == "no" and understanding.intent in SMALL_TALK:
            return Outcome(_cleared(state), (replies.ticket_declined(say),))
        if _ticket_category(state, understanding) is None:
            state = _cleared(state)  # the shopper moved on: the offer lapses
    category = _ticket_category(state, understanding)
    if category is not None:
        if state.phase is Phase.CONFIRMING_TICKET:
            state = _cleared(state)
        return _escalate(state, understanding, category, facts, policy)
    if understanding.intent in _ESCALATIONS:
        # Vague: one question first, so a stray word does not open a ticket.
        offer = state.model_copy(
            update={"phase": Phase.CONFIRMING_TICKET, "pending_category": TicketCategory.OTHER}
        )
        return Outcome(offer, (replies.confirm_ticket(say),))
    if understanding.intent is Intent.STOP_UPDATES:
        return _unsubscribe(_cleared(state), understanding, policy)
    if understanding.intent is Intent.SUBSCRIBE_UPDATES:
        # No verified order to subscribe to yet: find and verify it, then subscribe.
        state = state.model_copy(update={"subscribe_after": True})
    if _is_order_flow(state, understanding):
        return _order_flow(state, understanding, facts, policy)
    reply = {
        Intent.GREETING: replies.greeting,
        Intent.HELP: replies.help_text,
        Intent.THANKS: replies.thanks,
    }.get(understanding.intent, replies.unknown)(say, policy.shop_name)
    return Outcome(state, (reply,))


def unreadable(state: ConversationState, now: datetime, policy: Policy) -> Outcome:
    """A message with nothing to read (media only) changes nothing but the clock."""
    reply = replies.text_only(policy.voice(state.language))
    return Outcome(state.model_copy(update={"last_activity": now}), (reply,))


def _is_order_flow(state: ConversationState, u: Understanding) -> bool:
    if u.intent in _ORDER_FLOW:
        return True
    if u.intent in _ESCALATIONS:
        return False
    gives_details = u.order_number is not None or u.email is not None
    # While a detail is awaited, an unclear message is an attempt at giving it: ask again, precisely.
    return gives_details or (state.phase is not Phase.IDLE and u.intent is Intent.UNKNOWN)


def _target_order(state: ConversationState, u: Understanding) -> str | None:
    return u.order_number or state.pending_order or state.current_order


def _offered_email(state: ConversationState, u: Understanding) -> str | None:
    return email_digest(u.email) if u.email else state.pending_email


def _order_flow(state: ConversationState, u: Understanding, facts: Facts, policy: Policy) -> Outcome:
    say = policy.voice(state.language)
    continuing = state.phase is not Phase.IDLE
    question = u.intent if u.intent in ORDER_QUESTIONS else (state.question if continuing else u.intent)
    if question not in ORDER_QUESTIONS:
        question = Intent.ORDER_STATUS
    not_arrived = u.not_arrived or (continuing and state.not_arrived and u.intent not in ORDER_QUESTIONS)
    asking = state.model_copy(update={"question": question, "not_arrived": not_arrived})

    number = _target_order(state, u)
    offered = _offered_email(state, u)
    if number is None:
        waiting = asking.model_copy(update={"phase": Phase.AWAITING_ORDER_NUMBER, "pending_email": offered})
        again = state.phase is Phase.AWAITING_ORDER_NUMBER
        asked = Intent.SUBSCRIBE_UPDATES if state.subscribe_after and not continuing else question
        return Outcome(
            waiting,
            (replies.ask_order_number(say, asked, again=again, support_contact=policy.support_contact),),
        )

    if number in state.verified_orders:
        return _answer(asking, number, facts, policy)
    if facts.source_unavailable:
        waiting = asking.model_copy(
            update={"phase": Phase.AWAITING_EMAIL, "pending_order": number, "pending_email": offered}
        )
        return Outcome(waiting, (replies.unavailable(say, policy.support_contact),))

    # An address proven already (by the channel, as an authenticated email sender, or earlier in the
    # conversation) wins over one the message names: that one may be a colleague's in a signature or a
    # quote header, and checking it could only fail and count against the shopper.
    if facts.order is not None and email_digest(facts.order.email) in state.verified_emails:
        return _answer(asking, number, facts, policy)
    if offered is None:
        waiting = asking.model_copy(update={"phase": Phase.AWAITING_EMAIL, "pending_order": number})
        again = state.phase is Phase.AWAITING_EMAIL and state.pending_order == number
        return Outcome(
            waiting, (replies.ask_email(say, number, again=again, support_contact=policy.support_contact),)
        )

    if facts.attempts_left <= 0:
        return Outcome(_cleared(asking), (replies.locked(say, policy.support_contact),))

    on_file = email_digest(facts.order.email) if facts.order is not None else _NO_EMAIL
    if hmac.compare_digest(on_file, offered) and facts.order is not None:
        return _answer(asking, number, facts, policy)

    failed = (RecordFailure(number, offered),)
    if facts.attempts_left <= 1:
        return Outcome(_cleared(asking), (replies.locked(say, policy.support_contact),), failed)
    retry = asking.model_copy(
        update={"phase": Phase.AWAITING_EMAIL, "pending_order": number, "pending_email": None}
    )
    return Outcome(retry, (replies.not_verified(say, number, policy.support_contact),), failed)


def _answer(state: ConversationState, number: str, facts: Facts, policy: Policy) -> Outcome:
    order = facts.order
    say = policy.voice(state.language)
    if order is None:
        # Verified earlier but unreadable now: say so rather than guess.
        return Outcome(state, (replies.unavailable(say, policy.support_contact),))
    verified = _cleared(state).model_copy(
        update={
            "verified_orders": _with(state.verified_orders, number),
            "verified_emails": _with(state.verified_emails, email_digest(order.email)),
            "current_order": number,
        }
    )
    today = facts.now.astimezone(policy.timezone).date()
    reply = replies.order_answer(say, order, state.question, state.not_arrived, today)
    if state.subscribe_after:
        subscribed = _subscribe(verified, number, facts, policy)
        return Outcome(subscribed.state, (reply, *subscribed.replies), subscribed.effects)
    if number in state.subscribed_orders:
        return Outcome(verified, (reply,), (Told(number, _known(order, today)),))
    route = _update_route(order, facts, policy)
    if route is None or updates.is_settled(order) or number in state.offered_orders + state.subscribed_orders:
        return Outcome(verified, (reply,))
    offering = verified.model_copy(
        update={
            "phase": Phase.OFFERING_UPDATES,
            "offered_order": number,
            "offered_orders": _with(verified.offered_orders, number),
        }
    )
    offer = replies.offer_updates(say, email=_shown(route, facts))
    return Outcome(offering, (reply, offer))


def _subscription_target(state: ConversationState, u: Understanding) -> str | None:
    """The verified order this message subscribes to: yes to the offer, or "notify me" (about the
    current order, or one named that is verified)."""
    offered = state.offered_order if state.phase is Phase.OFFERING_UPDATES else None
    yes = (u.answer == "yes" and u.intent in _YES_TO_UPDATES) or u.intent is Intent.SUBSCRIBE_UPDATES
    if offered is not None and yes:
        return offered if u.order_number is None else _verified(state, u.order_number)
    if u.intent is Intent.SUBSCRIBE_UPDATES:
        return _verified(state, u.order_number or state.current_order)
    return None


def _verified(state: ConversationState, number: str | None) -> str | None:
    return number if number is not None and number in state.verified_orders else None


def _update_route(order: Order, facts: Facts, policy: Policy) -> tuple[str, str] | None:
    """Where updates about ``order`` can go: (channel, address), or ``None`` when nowhere."""
    if facts.contact_address and facts.channel in _ON_THE_CHANNEL:
        if facts.channel in policy.update_channels:
            return facts.channel, facts.contact_address
        return None
    if not facts.contact_address and "email" in policy.update_channels:
        return "email", order.email
    return None


def _shown(route: tuple[str, str], facts: Facts) -> str | None:
    """The address to name in the offer: the order's email, masked, when it is not this channel's."""
    channel, address = route
    return redact(address) if channel != facts.channel else None


def _subscribe(state: ConversationState, number: str, facts: Facts, policy: Policy) -> Outcome:
    say = policy.voice(state.language)
    state = state.model_copy(update={"subscribe_after": False})
    order = facts.order if facts.order is not None and facts.order.number == number else None
    if order is None:
        return Outcome(state, (replies.unavailable(say, policy.support_contact),))
    if updates.is_settled(order):
        return Outcome(state, (replies.updates_settled(say, number),))
    route = _update_route(order, facts, policy)
    if route is None:
        return Outcome(state, (replies.updates_not_here(say),))
    channel, address = route
    today = facts.now.astimezone(policy.timezone).date()
    told = _known(order, today)
    language = state.language or policy.default_language
    subscribed = state.model_copy(update={"subscribed_orders": _with(state.subscribed_orders, number)})
    confirmation = replies.updates_subscribed(say, number, channel=facts.channel, email=_shown(route, facts))
    return Outcome(subscribed, (confirmation,), (Subscribe(number, channel, address, language, told),))


def _known(order: Order, today: date) -> tuple[tuple[str, str], ...]:
    """What a shopper who was just answered knows of the order, as notice keys: its milestones, and its
    estimates (one that moves later afterwards is news, even before the notifier first looks)."""
    return (*(milestone.key for milestone in updates.reached(order, today)), *updates.estimates(order))


def _unsubscribe(state: ConversationState, u: Understanding, policy: Policy) -> Outcome:
    """Stop the updates of the order named, else of every order of the conversation."""
    number = u.order_number
    remaining = tuple(n for n in state.subscribed_orders if number is not None and n != number)
    stopped = state.model_copy(update={"subscribed_orders": remaining, "subscribe_after": False})
    reply = replies.updates_stopped(policy.voice(state.language), number)
    return Outcome(stopped, (reply,), (Unsubscribe(number),))


def _ticket_category(state: ConversationState, u: Understanding) -> TicketCategory | None:
    """The ticket this message asks for now: a clear request for the team, or yes to the bot's offer."""
    if state.phase is Phase.CONFIRMING_TICKET and (u.answer == "yes" or u.intent is Intent.HUMAN):
        return state.pending_category
    if u.intent is Intent.HUMAN:
        return TicketCategory.HUMAN
    if u.intent is Intent.OUT_OF_SCOPE and u.topic is not None and u.topic is not Topic.OTHER:
        return TicketCategory.for_topic(u.topic)
    return None


def _escalate(
    state: ConversationState, u: Understanding, category: TicketCategory, facts: Facts, policy: Policy
) -> Outcome:
    named = u.order_number
    if named is None:
        verified = state.current_order
    else:
        verified = named if named in state.verified_orders else None
    order_email = facts.order.email if facts.order is not None and facts.order.number == verified else None
    reference = facts.open_ticket or facts.new_reference
    reply = replies.escalated(
        policy.voice(state.language),
        category,
        named or verified,
        reference=reference,
        again=facts.open_ticket is not None,
        channel=facts.channel if facts.contact_address else None,
        order_email_of=verified if order_email and not facts.contact_address else None,
        support_contact=policy.support_contact,
    )
    contact = facts.contact_address or order_email
    line = tickets.summary(policy.voice(policy.default_language), category, verified)
    language = state.language or policy.default_language
    return Outcome(state, (reply,), (Escalate(reference, category, verified, contact, line, language),))


def _cleared(state: ConversationState) -> ConversationState:
    return state.model_copy(
        update={
            "phase": Phase.IDLE,
            "pending_order": None,
            "pending_email": None,
            "pending_category": None,
            "offered_order": None,
            "subscribe_after": False,
            "question": Intent.ORDER_STATUS,
            "not_arrived": False,
        }
    )


def _with(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return values if value in values else (*values, value)
