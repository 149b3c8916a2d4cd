"""Every sentence Lumen says, rendered from templates and the order's own fields — nothing invented.

Each template is said through a :class:`~lumen_bot.domain.speech.Speech`: in the shopper's language,
with dates the way that language writes them.
"""

from __future__ import annotations

from datetime import date

from lumen_bot.domain.messages import Part, Reply, ReplyKind
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.domain.speech import N_, Speech
from lumen_bot.domain.tickets import TicketCategory
from lumen_bot.domain.understanding import Intent

TRACK = N_("Where's my order?")
WHEN = N_("When will it arrive?")
PERSON = N_("Talk to a person")
YES_PASS_IT_ON = N_("Yes, pass it on")
NO_THANKS = N_("No, thanks")
YES = N_("Yes")
NO = N_("No")

_EXAMPLE = N_('For example: "Where is order 1042?"')

_ORDER_STATUS_SENTENCE = {
    OrderStatus.PROCESSING: N_("Order #{number} is being prepared and hasn't shipped yet."),
    OrderStatus.PARTIALLY_SHIPPED: N_("Order #{number} has partly shipped."),
    OrderStatus.SHIPPED: N_("Order #{number} has shipped."),
    OrderStatus.OUT_FOR_DELIVERY: N_("Order #{number} is out for delivery."),
    OrderStatus.DELIVERED: N_("Order #{number} has been delivered."),
    OrderStatus.EXCEPTION: N_(
        "Order #{number} has a delivery problem: the carrier couldn't deliver it, or is returning it to us."
    ),
    OrderStatus.CANCELLED: N_("Order #{number} was cancelled."),
}
_SHIPMENT_STATUS = {
    OrderStatus.PROCESSING: N_("being prepared"),
    OrderStatus.PARTIALLY_SHIPPED: N_("on its way"),
    OrderStatus.SHIPPED: N_("on its way"),
    OrderStatus.OUT_FOR_DELIVERY: N_("out for delivery"),
    OrderStatus.DELIVERED: N_("delivered"),
    OrderStatus.EXCEPTION: N_("delivery problem"),
    OrderStatus.CANCELLED: N_("cancelled"),
}
# Translators: the short forms are for SMS, where every character counts: keep them as short.
_STATUS_SHORT = {
    OrderStatus.PROCESSING: N_("Order #{number}: not shipped yet."),
    OrderStatus.PARTIALLY_SHIPPED: N_("Order #{number}: partly shipped."),
    OrderStatus.SHIPPED: N_("Order #{number}: shipped."),
    OrderStatus.OUT_FOR_DELIVERY: N_("Order #{number}: out for delivery."),
    OrderStatus.DELIVERED: N_("Order #{number}: delivered."),
    OrderStatus.EXCEPTION: N_("Order #{number}: delivery problem."),
    OrderStatus.CANCELLED: N_("Order #{number}: cancelled."),
}
_ARRIVING_SHORT = {
    OrderStatus.PROCESSING: N_("Order #{number}: not shipped yet, arriving by {date}."),
    OrderStatus.PARTIALLY_SHIPPED: N_("Order #{number}: partly shipped, arriving by {date}."),
    OrderStatus.SHIPPED: N_("Order #{number}: shipped, arriving by {date}."),
    OrderStatus.OUT_FOR_DELIVERY: N_("Order #{number}: out for delivery, arriving by {date}."),
    OrderStatus.EXCEPTION: N_("Order #{number}: delivery problem, was due by {date}."),
}
_NO_TRACKING_YET = {
    OrderStatus.PROCESSING: N_(
        "Order #{number} is being prepared and hasn't shipped yet, and there's no tracking number for it yet."
    ),
    OrderStatus.PARTIALLY_SHIPPED: N_(
        "Order #{number} has partly shipped, and there's no tracking number for it yet."
    ),
    OrderStatus.SHIPPED: N_("Order #{number} has shipped, and there's no tracking number for it yet."),
    OrderStatus.OUT_FOR_DELIVERY: N_(
        "Order #{number} is out for delivery, and there's no tracking number for it yet."
    ),
    OrderStatus.DELIVERED: N_("Order #{number} has been delivered, and there's no tracking number for it."),
    OrderStatus.EXCEPTION: N_(
        "Order #{number} has a delivery problem, and there's no tracking number for it yet."
    ),
    OrderStatus.CANCELLED: N_("Order #{number} was cancelled, and there's no tracking number for it."),
}
_NO_ESTIMATE_YET = {
    OrderStatus.PROCESSING: N_(
        "I don't have an estimated delivery date for order #{number} yet; it is being prepared and hasn't "
        "shipped yet."
    ),
    OrderStatus.PARTIALLY_SHIPPED: N_(
        "I don't have an estimated delivery date for order #{number} yet; it has partly shipped."
    ),
    OrderStatus.SHIPPED: N_(
        "I don't have an estimated delivery date for order #{number} yet; it has shipped."
    ),
    OrderStatus.OUT_FOR_DELIVERY: N_(
        "I don't have an estimated delivery date for order #{number} yet; it is out for delivery."
    ),
    OrderStatus.EXCEPTION: N_(
        "I don't have an estimated delivery date for order #{number}; the carrier reported a delivery "
        "problem."
    ),
}
_IN_TRANSIT = frozenset({OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.OUT_FOR_DELIVERY})

# What the shopper asked for, without and with the order number they named.
_REQUESTS = {
    TicketCategory.REFUND: (
        N_("I understand you'd like a refund."),
        N_("I understand you'd like a refund for order #{number}."),
    ),
    TicketCategory.RETURN: (
        N_("I understand you'd like to return an item."),
        N_("I understand you'd like to return an item from order #{number}."),
    ),
    TicketCategory.CANCEL: (
        N_("I understand you'd like to cancel your order."),
        N_("I understand you'd like to cancel order #{number}."),
    ),
    TicketCategory.ADDRESS_CHANGE: (
        N_("I understand you'd like to change the delivery address."),
        N_("I understand you'd like to change the delivery address of order #{number}."),
    ),
    TicketCategory.DAMAGED: (
        N_("I understand you'd like help with a damaged item."),
        N_("I understand you'd like help with a damaged item from order #{number}."),
    ),
    TicketCategory.MISSING_ITEM: (
        N_("I understand you'd like help with a missing item."),
        N_("I understand you'd like help with a missing item from order #{number}."),
    ),
    TicketCategory.PAYMENT: (
        N_("I understand you'd like help with a payment."),
        N_("I understand you'd like help with a payment for order #{number}."),
    ),
    TicketCategory.COMPLAINT: (
        N_("I understand you'd like to make a complaint."),
        N_("I understand you'd like to make a complaint about order #{number}."),
    ),
    TicketCategory.OTHER: (
        N_("I understand you'd like help with something I can't do myself."),
        N_("I understand you'd like help with something I can't do myself for order #{number}."),
    ),
}
# How the team gets back to a shopper on each channel that can be reached later.
_BY_CHANNEL = {
    "sms": N_("They'll get back to you by text message."),
    "whatsapp": N_("They'll get back to you on WhatsApp."),
    "email": N_("They'll get back to you by email."),
}
_BY_THIS_CHANNEL = N_("They'll get back to you here.")


def _quick(say: Speech, *labels: str) -> tuple[str, ...]:
    return tuple(say(label) for label in labels)


def _plain(say: Speech, kind: ReplyKind, text: str, quick_replies: tuple[str, ...] = ()) -> Reply:
    return Reply.plain(kind, text, quick_replies, language=say.language)


def greeting(say: Speech, shop_name: str) -> Reply:
    text = say(
        "Hi! I'm the order assistant for {shop}. I can tell you where your order is, with tracking and "
        "delivery dates.",
        shop=shop_name,
    )
    return _plain(say, ReplyKind.GREETING, f"{text} {say(_EXAMPLE)}", _quick(say, TRACK, PERSON))


def help_text(say: Speech, shop_name: str) -> Reply:
    text = say(
        "I can look up any {shop} order: its status, the carrier and tracking number, the tracking link "
        "and the estimated delivery. Send your order number, then the email address you used for the "
        "order.",
        shop=shop_name,
    )
    return _plain(say, ReplyKind.HELP, f"{text} {say(_EXAMPLE)}", _quick(say, TRACK, PERSON))


def thanks(say: Speech, _shop_name: str) -> Reply:
    text = say("You're welcome! Anything else about your order, just ask.")
    return _plain(say, ReplyKind.THANKS, text, _quick(say, TRACK))


def unknown(say: Speech, _shop_name: str) -> Reply:
    text = say(
        "Sorry, I didn't catch that. I can tell you where your order is, with tracking and delivery dates."
    )
    return _plain(say, ReplyKind.UNKNOWN, f"{text} {say(_EXAMPLE)}", _quick(say, TRACK, PERSON))


def ask_order_number(say: Speech, question: Intent, *, again: bool, support_contact: str) -> Reply:
    if again:
        text = say(
            "I need the order number to find your order. It's in the order confirmation email, e.g. #1042. "
            "If you can't find it, {support} can help.",
            support=support_contact,
        )
        return _plain(say, ReplyKind.ASK_ORDER_NUMBER, text, _quick(say, PERSON))
    lead = {
        Intent.TRACKING: N_("I can get you the tracking details."),
        Intent.DELIVERY_ESTIMATE: N_("I can check when it should arrive."),
        Intent.SUBSCRIBE_UPDATES: N_("I can keep you posted on your order."),
    }.get(question, N_("I can check that for you."))
    question_text = say("What's your order number? It's in your order confirmation email, e.g. #1042.")
    return _plain(say, ReplyKind.ASK_ORDER_NUMBER, f"{say(lead)} {question_text}")


def ask_email(say: Speech, order_number: str, *, again: bool, support_contact: str) -> Reply:
    if again:
        text = say(
            "I need the email address used for order #{number} — the one the order confirmation was sent "
            "to. If you're not sure, {support} can help.",
            number=order_number,
            support=support_contact,
        )
        return _plain(say, ReplyKind.ASK_EMAIL, text, _quick(say, PERSON))
    text = say(
        "Thanks. To keep your details safe, what's the email address you used for order #{number}?",
        number=order_number,
    )
    return _plain(say, ReplyKind.ASK_EMAIL, text)


def not_verified(say: Speech, order_number: str, support_contact: str) -> Reply:
    text = say(
        "I couldn't find an order #{number} with that email address. Please check the order number and "
        "the email on your confirmation and try again (you can send both in one message), or contact "
        "{support}.",
        number=order_number,
        support=support_contact,
    )
    return _plain(say, ReplyKind.NOT_VERIFIED, text, _quick(say, PERSON))


def locked(say: Speech, support_contact: str) -> Reply:
    text = say(
        "I couldn't verify those details, and for your security I can't check again for a while. Please "
        "contact {support} and they'll help you with your order.",
        support=support_contact,
    )
    return _plain(say, ReplyKind.LOCKED, text, _quick(say, PERSON))


def text_only(say: Speech) -> Reply:
    text = say(
        'Sorry, I can only read text messages. Please type your question, for example: "Where is order 1042?"'
    )
    return _plain(say, ReplyKind.TEXT_ONLY, text, _quick(say, TRACK, PERSON))


def unavailable(say: Speech, support_contact: str) -> Reply:
    text = say(
        "I can't look orders up right now. Please try again in a few minutes, or I can pass this to our "
        "team (you can also reach them at {support}).",
        support=support_contact,
    )
    return _plain(say, ReplyKind.UNAVAILABLE, text, _quick(say, PERSON))


def escalated(
    say: Speech,
    category: TicketCategory,
    order_number: str | None,
    *,
    reference: str,
    again: bool,
    channel: str | None,
    order_email_of: str | None,
    support_contact: str,
) -> Reply:
    """The request named, the ticket's reference, and how the team will reach the shopper.

    ``channel`` is set when the team can answer on the shopper's channel; ``order_email_of`` names the
    verified order whose email they will write to otherwise."""
    if category is TicketCategory.HUMAN:
        if order_number:
            opening = say(
                "Of course — I'll get a person from our team to help you with order #{number}.",
                number=order_number,
            )
        else:
            opening = say("Of course — I'll get a person from our team to help you.")
    else:
        without, with_number = _REQUESTS[category]
        request = say(with_number, number=order_number) if order_number else say(without)
        passed = say("I can't do that myself, so I've passed it to our team.")
        opening = f"{request} {passed}"
    short_ticket = say("Ref {reference}.", reference=reference)
    if again:
        ticket = Part(
            say("I've added this to your request {reference}, so the team sees it.", reference=reference),
            short_ticket,
        )
    else:
        ticket = Part(say("Your reference is {reference}.", reference=reference), short_ticket)
    if channel is not None:
        how = say(_BY_CHANNEL.get(channel, _BY_THIS_CHANNEL))
    elif order_email_of is not None:
        how = say(
            "They'll get back to you by email at the address on order #{number}.", number=order_email_of
        )
    else:
        how = say(
            "To be sure they can reach you, please write to {support} and quote {reference}.",
            support=support_contact,
            reference=reference,
        )
    meanwhile = Part(
        say("Meanwhile I can tell you where your order is and share tracking details."), optional=True
    )
    parts = (Part(opening), ticket, Part(how), meanwhile)
    return Reply(ReplyKind.ESCALATED, parts, _quick(say, TRACK), language=say.language)


def confirm_ticket(say: Speech) -> Reply:
    text = say(
        "That's something I can't help with myself: I can tell you where your order is and share tracking "
        "details. Shall I pass your request to our team?"
    )
    return _plain(say, ReplyKind.CONFIRM_TICKET, text, _quick(say, YES_PASS_IT_ON, NO_THANKS))


def ticket_declined(say: Speech) -> Reply:
    text = say("All right, I won't pass it on. I can still tell you where your order is.")
    return _plain(say, ReplyKind.TICKET_DECLINED, text, _quick(say, TRACK))


def order_answer(say: Speech, order: Order, question: Intent, not_arrived: bool, today: date) -> Reply:
    """The verified answer: the specific question first, then every shipment's facts.

    Each line has a short form (status, carrier, tracking number, date) for channels with little room;
    tracking links are optional there.
    """
    number = order.number
    # "When will it arrive?" about a parcel past its date or held up: a date gone by is no answer.
    overdue = question is Intent.DELIVERY_ESTIMATE and (
        order.status is OrderStatus.EXCEPTION or any(_is_late(s, today) for s in order.shipments)
    )
    not_arrived = not_arrived or overdue
    if not_arrived:
        lead = Part(_not_arrived_lead(say, order, today), _not_arrived_short(say, order, today))
    elif question is Intent.TRACKING:
        lead = Part(_tracking_lead(say, order), say(_STATUS_SHORT[order.status], number=number))
    elif question is Intent.DELIVERY_ESTIMATE:
        lead = Part(_estimate_lead(say, order), _estimate_short(say, order))
    else:
        lead = Part(
            say(_ORDER_STATUS_SENTENCE[order.status], number=number),
            say(_STATUS_SHORT[order.status], number=number),
        )
    # When the lead already gave the one delivery date, the shipment line need not repeat it.
    dated_lead = question is Intent.DELIVERY_ESTIMATE and len(order.shipments) == 1 and not not_arrived
    parts = (lead, *_shipment_parts(say, order, with_estimates=not dated_lead))
    links = tuple(s.tracking_url for s in order.shipments if s.tracking_url)
    quick = [
        label
        for label, wanted in (
            (WHEN, _awaiting_delivery(order) and question is not Intent.DELIVERY_ESTIMATE),
            (PERSON, True),
        )
        if wanted
    ]
    return Reply(ReplyKind.ORDER_ANSWER, parts, _quick(say, *quick), links, language=say.language)


def _estimate_short(say: Speech, order: Order) -> str:
    dates = sorted({s.estimated_delivery for s in order.shipments if s.estimated_delivery})
    if not dates or not _awaiting_delivery(order):
        return say(_STATUS_SHORT[order.status], number=order.number)
    return say(_ARRIVING_SHORT[order.status], number=order.number, date=say.short_date(dates[-1]))


def _not_arrived_short(say: Speech, order: Order, today: date) -> str:
    late = [s.estimated_delivery for s in order.shipments if _is_late(s, today) and s.estimated_delivery]
    if order.status is OrderStatus.DELIVERED:
        return say("Order #{number}: shown as delivered. Our team can look into it.", number=order.number)
    if late:
        return say(
            "Order #{number}: running late (expected {date}).",
            number=order.number,
            date=say.short_date(min(late)),
        )
    return say(_STATUS_SHORT[order.status], number=order.number)


def _tracking_lead(say: Speech, order: Order) -> str:
    if any(s.tracking_number for s in order.shipments):
        return say("Here's the tracking for order #{number}:", number=order.number)
    return say(_NO_TRACKING_YET[order.status], number=order.number)


def _estimate_lead(say: Speech, order: Order) -> str:
    number = order.number
    if order.status is OrderStatus.DELIVERED:
        return say("Order #{number} has already been delivered.", number=number)
    if order.status is OrderStatus.CANCELLED:
        return say("Order #{number} was cancelled, so it won't be delivered.", number=number)
    dates = sorted({s.estimated_delivery for s in order.shipments if s.estimated_delivery})
    if not dates:
        return say(_NO_ESTIMATE_YET[order.status], number=number)
    if len(dates) == 1:
        return say("Order #{number} should arrive by {date}.", number=number, date=say.long_date(dates[0]))
    return say(
        "Order #{number} comes in several packages; the last should arrive by {date}.",
        number=number,
        date=say.long_date(dates[-1]),
    )


def _not_arrived_lead(say: Speech, order: Order, today: date) -> str:
    number = order.number
    if order.status is OrderStatus.DELIVERED:
        return say(
            "I'm sorry it isn't with you. Our records show order #{number} as delivered. It's worth checking "
            "with neighbours or a safe place; if it's still missing, our team can look into it with the "
            "carrier.",
            number=number,
        )
    late = [s.estimated_delivery for s in order.shipments if _is_late(s, today) and s.estimated_delivery]
    if late:
        return say(
            "I'm sorry — order #{number} is running late: it was expected by {date} and hasn't been "
            "delivered yet. Our team can look into it with the carrier.",
            number=number,
            date=say.long_date(min(late)),
        )
    return say(_ORDER_STATUS_SENTENCE[order.status], number=number)


def _is_late(shipment: Shipment, today: date) -> bool:
    return (
        shipment.status in _IN_TRANSIT
        and shipment.estimated_delivery is not None
        and shipment.estimated_delivery < today
    )


def _awaiting_delivery(order: Order) -> bool:
    return order.status not in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)


def _shipment_parts(say: Speech, order: Order, *, with_estimates: bool) -> list[Part]:
    shipments = order.shipments
    if len(shipments) == 1:
        return _shipment_facts(say, shipments[0], None, with_estimates)
    parts: list[Part] = []
    for index, shipment in enumerate(shipments, start=1):
        label = (
            say("Package {index} of {count}", index=index, count=len(shipments)),
            f"{index}/{len(shipments)}",
        )
        parts.extend(_shipment_facts(say, shipment, label, with_estimates))
    return parts


def _shipment_facts(
    say: Speech, shipment: Shipment, label: tuple[str, str] | None, with_estimate: bool
) -> list[Part]:
    status = say(_SHIPMENT_STATUS[shipment.status])
    long: list[str] = [f"{label[0]}: {status}"] if label else []
    short: list[str] = []
    carrier, tracking = shipment.carrier, shipment.tracking_number
    if carrier and tracking:
        long.append(say("{carrier} tracking number {tracking}", carrier=carrier, tracking=tracking))
        short.append(f"{carrier} {tracking}")
    elif carrier:
        long.append(say("with {carrier}", carrier=carrier))
        short.append(carrier)
    elif tracking:
        long.append(say("tracking number {tracking}", tracking=tracking))
        short.append(tracking)
    if with_estimate and shipment.estimated_delivery and shipment.status is not OrderStatus.DELIVERED:
        long.append(say("estimated delivery {date}", date=say.long_date(shipment.estimated_delivery)))
        short.append(say("ETA {date}", date=say.short_date(shipment.estimated_delivery)))
    parts = []
    if long:
        brief = ", ".join(short)
        if label:
            brief = f"{label[1]} {status}" + (f": {brief}" if brief else "")
        parts.append(Part(f"{', '.join(long)}.", brief))
    if shipment.tracking_url:
        url = shipment.tracking_url
        parts.append(Part(say("Track it: {url}", url=url), url, optional=True))
    if shipment.last_update and shipment.status is not OrderStatus.DELIVERED:
        day = say.day_of(shipment.last_update)
        parts.append(Part(say("Last carrier update: {date}.", date=day), optional=True))
    return parts


# --- Shipping updates: the offer after an order answer, and the answers to yes, no and stop ------------

# Translators: keep STOP UPDATES and STOP as they are: the shopper sends these words back.
_STOP_UPDATES_HINT = N_("To stop them, reply STOP UPDATES.")
_STOP_ALL_HINT = N_("Replying STOP stops all our messages.")


def offer_updates(say: Speech, *, email: str | None) -> Reply:
    """Offer to message the shopper when the order moves: here, or (from a web chat) by email to the
    verified order's address, shown masked."""
    if email is None:
        text = say("Want me to message you here when it's out for delivery or delivered?")
        short = say("Want updates here when it moves? Reply YES or NO.")
    else:
        text = say("Want me to email you at {email} when it's out for delivery or delivered?", email=email)
        short = text
    return Reply(ReplyKind.OFFER_UPDATES, (Part(text, short),), _quick(say, YES, NO), language=say.language)


def updates_subscribed(say: Speech, order_number: str, *, channel: str, email: str | None) -> Reply:
    """The yes confirmed: what will come, where, and how to stop it (STOP on SMS and WhatsApp stops
    everything, as the carriers want)."""
    if email is None:
        promise = say(
            "Done: I'll message you here when order #{number} is out for delivery, when it's delivered, and "
            "if anything holds it up.",
            number=order_number,
        )
        short = say("Done: updates on order #{number} will come here.", number=order_number)
        stop = say(_STOP_UPDATES_HINT)
    else:
        promise = say(
            "Done: I'll email you at {email} when order #{number} is out for delivery, when it's delivered, "
            "and if anything holds it up.",
            email=email,
            number=order_number,
        )
        short = promise
        stop = say("Each email has a link to stop them.")
    parts = [Part(promise, short), Part(stop)]
    if channel in ("sms", "whatsapp"):
        parts.append(Part(say(_STOP_ALL_HINT)))
    return Reply(ReplyKind.UPDATES_SUBSCRIBED, tuple(parts), language=say.language)


def updates_declined(say: Speech) -> Reply:
    text = say("No problem, I won't send updates. Ask me here any time to check on your order.")
    return _plain(say, ReplyKind.UPDATES_DECLINED, text)


def updates_stopped(say: Speech, order_number: str | None) -> Reply:
    if order_number is None:
        text = say("Done: I won't send you any more updates.")
    else:
        text = say("Done: no more updates from me about order #{number}.", number=order_number)
    return _plain(say, ReplyKind.UPDATES_STOPPED, text, _quick(say, TRACK))


def updates_settled(say: Speech, order_number: str) -> Reply:
    """Updates asked for an order that has nothing left to tell: delivered or cancelled."""
    text = say(
        "Order #{number} has been delivered or cancelled, so there's nothing left to update you on.",
        number=order_number,
    )
    return _plain(say, ReplyKind.UPDATES_NOT_POSSIBLE, text, _quick(say, TRACK))


def updates_not_here(say: Speech) -> Reply:
    """Updates asked for on a channel that cannot carry them."""
    text = say("Sorry, I can't send updates on this channel. Ask me here any time to check on your order.")
    return _plain(say, ReplyKind.UPDATES_NOT_POSSIBLE, text, _quick(say, TRACK))
