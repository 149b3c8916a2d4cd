"""Every sentence Lumen says, rendered from templates and the order's own fields — nothing invented."""

from __future__ import annotations

from datetime import date

from lumen_bot.domain.messages import Part, Reply, ReplyKind
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.domain.tickets import TicketCategory
from lumen_bot.domain.understanding import Intent

TRACK = "Where's my order?"
WHEN = "When will it arrive?"
PERSON = "Talk to a person"

_EXAMPLE = 'For example: "Where is order 1042?"'

_ORDER_STATUS_SENTENCE = {
    OrderStatus.PROCESSING: "is being prepared and hasn't shipped yet",
    OrderStatus.PARTIALLY_SHIPPED: "has partly shipped",
    OrderStatus.SHIPPED: "has shipped",
    OrderStatus.OUT_FOR_DELIVERY: "is out for delivery",
    OrderStatus.DELIVERED: "has been delivered",
    OrderStatus.CANCELLED: "was cancelled",
}
_SHIPMENT_STATUS = {
    OrderStatus.PROCESSING: "being prepared",
    OrderStatus.PARTIALLY_SHIPPED: "on its way",
    OrderStatus.SHIPPED: "on its way",
    OrderStatus.OUT_FOR_DELIVERY: "out for delivery",
    OrderStatus.DELIVERED: "delivered",
    OrderStatus.CANCELLED: "cancelled",
}
_SHORT_STATUS = {
    OrderStatus.PROCESSING: "not shipped yet",
    OrderStatus.PARTIALLY_SHIPPED: "partly shipped",
    OrderStatus.SHIPPED: "shipped",
    OrderStatus.OUT_FOR_DELIVERY: "out for delivery",
    OrderStatus.DELIVERED: "delivered",
    OrderStatus.CANCELLED: "cancelled",
}
_IN_TRANSIT = frozenset({OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.OUT_FOR_DELIVERY})

# What the shopper asked for, and how an order number joins it: "a refund" + " for order #1042".
_REQUESTS = {
    TicketCategory.REFUND: ("a refund", "for"),
    TicketCategory.RETURN: ("to return an item", "from"),
    TicketCategory.CANCEL: ("to cancel your order", "#"),
    TicketCategory.ADDRESS_CHANGE: ("to change the delivery address", "of"),
    TicketCategory.DAMAGED: ("help with a damaged item", "from"),
    TicketCategory.MISSING_ITEM: ("help with a missing item", "from"),
    TicketCategory.PAYMENT: ("help with a payment", "for"),
    TicketCategory.COMPLAINT: ("to make a complaint", "about"),
    TicketCategory.OTHER: ("help with something I can't do myself", "for"),
}
# How the team gets back to a shopper on each channel that can be reached later.
_BY_CHANNEL = {"sms": "by text message", "whatsapp": "on WhatsApp", "email": "by email"}
YES_PASS_IT_ON = "Yes, pass it on"
NO_THANKS = "No, thanks"


def long_date(day: date) -> str:
    return f"{day:%A}, {day:%B} {day.day}"


def greeting(shop_name: str) -> Reply:
    text = (
        f"Hi! I'm the order assistant for {shop_name}. I can tell you where your order is, "
        f"with tracking and delivery dates. {_EXAMPLE}"
    )
    return Reply.plain(ReplyKind.GREETING, text, (TRACK, PERSON))


def help_text(shop_name: str) -> Reply:
    text = (
        f"I can look up any {shop_name} order: its status, the carrier and tracking number, the "
        "tracking link and the estimated delivery. Send your order number, then the email address you "
        f"used for the order. {_EXAMPLE}"
    )
    return Reply.plain(ReplyKind.HELP, text, (TRACK, PERSON))


def thanks(_shop_name: str) -> Reply:
    return Reply.plain(
        ReplyKind.THANKS, "You're welcome! Anything else about your order, just ask.", (TRACK,)
    )


def unknown(_shop_name: str) -> Reply:
    text = (
        "Sorry, I didn't catch that. I can tell you where your order is, with tracking and delivery "
        f"dates. {_EXAMPLE}"
    )
    return Reply.plain(ReplyKind.UNKNOWN, text, (TRACK, PERSON))


def ask_order_number(question: Intent, *, again: bool, support_contact: str) -> Reply:
    if again:
        text = (
            "I need the order number to find your order. It's in the order confirmation email, e.g. "
            f"#1042. If you can't find it, {support_contact} can help."
        )
        return Reply.plain(ReplyKind.ASK_ORDER_NUMBER, text, (PERSON,))
    lead = {
        Intent.TRACKING: "I can get you the tracking details.",
        Intent.DELIVERY_ESTIMATE: "I can check when it should arrive.",
    }.get(question, "I can check that for you.")
    text = f"{lead} What's your order number? It's in your order confirmation email, e.g. #1042."
    return Reply.plain(ReplyKind.ASK_ORDER_NUMBER, text)


def ask_email(order_number: str, *, again: bool, support_contact: str) -> Reply:
    if again:
        text = (
            f"I need the email address used for order #{order_number} — the one the order confirmation "
            f"was sent to. If you're not sure, {support_contact} can help."
        )
        return Reply.plain(ReplyKind.ASK_EMAIL, text, (PERSON,))
    text = f"Thanks. To keep your details safe, what's the email address you used for order #{order_number}?"
    return Reply.plain(ReplyKind.ASK_EMAIL, text)


def not_verified(order_number: str, support_contact: str) -> Reply:
    text = (
        f"I couldn't find an order #{order_number} with that email address. Please check the order "
        "number and the email on your confirmation and try again (you can send both in one message), "
        f"or contact {support_contact}."
    )
    return Reply.plain(ReplyKind.NOT_VERIFIED, text, (PERSON,))


def locked(support_contact: str) -> Reply:
    text = (
        "I couldn't verify those details, and for your security I can't check again for a while. "
        f"Please contact {support_contact} and they'll help you with your order."
    )
    return Reply.plain(ReplyKind.LOCKED, text, (PERSON,))


def text_only() -> Reply:
    text = (
        'Sorry, I can only read text messages. Please type your question, for example: "Where is order 1042?"'
    )
    return Reply.plain(ReplyKind.TEXT_ONLY, text, (TRACK, PERSON))


def unavailable(support_contact: str) -> Reply:
    text = (
        "I can't look orders up right now. Please try again in a few minutes, or I can pass this to our "
        f"team (you can also reach them at {support_contact})."
    )
    return Reply.plain(ReplyKind.UNAVAILABLE, text, (PERSON,))


def escalated(
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
        about = f" with order #{order_number}" if order_number else ""
        opening = f"Of course — I'll get a person from our team to help you{about}."
    else:
        request, joint = _REQUESTS[category]
        if order_number:
            request = (
                f"to cancel order #{order_number}"
                if joint == "#"
                else f"{request} {joint} order #{order_number}"
            )
        opening = f"I understand you'd like {request}. I can't do that myself, so I've passed it to our team."
    if again:
        ticket = Part(
            f"I've added this to your request {reference}, so the team sees it.", f"Ref {reference}."
        )
    else:
        ticket = Part(f"Your reference is {reference}.", f"Ref {reference}.")
    if channel is not None:
        how = f"They'll get back to you {_BY_CHANNEL.get(channel, 'here')}."
    elif order_email_of is not None:
        how = f"They'll get back to you by email at the address on order #{order_email_of}."
    else:
        how = f"To be sure they can reach you, please write to {support_contact} and quote {reference}."
    meanwhile = Part(
        "Meanwhile I can tell you where your order is and share tracking details.", optional=True
    )
    return Reply(ReplyKind.ESCALATED, (Part(opening), ticket, Part(how), meanwhile), (TRACK,))


def confirm_ticket() -> Reply:
    text = (
        "That's something I can't help with myself: I can tell you where your order is and share tracking "
        "details. Shall I pass your request to our team?"
    )
    return Reply.plain(ReplyKind.CONFIRM_TICKET, text, (YES_PASS_IT_ON, NO_THANKS))


def ticket_declined() -> Reply:
    text = "All right, I won't pass it on. I can still tell you where your order is."
    return Reply.plain(ReplyKind.TICKET_DECLINED, text, (TRACK,))


def order_answer(order: Order, question: Intent, not_arrived: bool, today: date) -> Reply:
    """The verified answer: the specific question first, then every shipment's facts.

    Each line has a short form (status, carrier, tracking number, date) for channels with little room;
    tracking links are optional there.
    """
    if not_arrived:
        lead = Part(_not_arrived_lead(order, today), _not_arrived_short(order, today))
    elif question is Intent.TRACKING:
        lead = Part(_tracking_lead(order), _status_short(order))
    elif question is Intent.DELIVERY_ESTIMATE:
        lead = Part(_estimate_lead(order), _estimate_short(order))
    else:
        lead = Part(f"Order #{order.number} {_ORDER_STATUS_SENTENCE[order.status]}.", _status_short(order))
    # When the lead already gave the one delivery date, the shipment line need not repeat it.
    dated_lead = question is Intent.DELIVERY_ESTIMATE and len(order.shipments) == 1 and not not_arrived
    parts = (lead, *_shipment_parts(order, with_estimates=not dated_lead))
    links = tuple(s.tracking_url for s in order.shipments if s.tracking_url)
    quick = [
        label
        for label, wanted in (
            (WHEN, _awaiting_delivery(order) and question is not Intent.DELIVERY_ESTIMATE),
            (PERSON, True),
        )
        if wanted
    ]
    return Reply(ReplyKind.ORDER_ANSWER, parts, tuple(quick), links)


def short_date(day: date) -> str:
    return f"{day:%a} {day:%b} {day.day}"


def _status_short(order: Order) -> str:
    return f"Order #{order.number}: {_SHORT_STATUS[order.status]}."


def _estimate_short(order: Order) -> str:
    dates = sorted({s.estimated_delivery for s in order.shipments if s.estimated_delivery})
    if not dates or not _awaiting_delivery(order):
        return _status_short(order)
    return f"Order #{order.number}: {_SHORT_STATUS[order.status]}, arriving by {short_date(dates[-1])}."


def _not_arrived_short(order: Order, today: date) -> str:
    late = [s.estimated_delivery for s in order.shipments if _is_late(s, today) and s.estimated_delivery]
    if order.status is OrderStatus.DELIVERED:
        return f"Order #{order.number}: shown as delivered. Our team can look into it."
    if late:
        return f"Order #{order.number}: running late (expected {short_date(min(late))})."
    return _status_short(order)


def _tracking_lead(order: Order) -> str:
    if any(s.tracking_number for s in order.shipments):
        return f"Here's the tracking for order #{order.number}:"
    return (
        f"Order #{order.number} {_ORDER_STATUS_SENTENCE[order.status]}, and there's no tracking "
        "number for it yet."
    )


def _estimate_lead(order: Order) -> str:
    if order.status is OrderStatus.DELIVERED:
        return f"Order #{order.number} has already been delivered."
    if order.status is OrderStatus.CANCELLED:
        return f"Order #{order.number} was cancelled, so it won't be delivered."
    dates = sorted({s.estimated_delivery for s in order.shipments if s.estimated_delivery})
    if not dates:
        return (
            f"I don't have an estimated delivery date for order #{order.number} yet; it "
            f"{_ORDER_STATUS_SENTENCE[order.status]}."
        )
    if len(dates) == 1:
        return f"Order #{order.number} should arrive by {long_date(dates[0])}."
    last = long_date(dates[-1])
    return f"Order #{order.number} comes in several packages; the last should arrive by {last}."


def _not_arrived_lead(order: Order, today: date) -> str:
    if order.status is OrderStatus.DELIVERED:
        return (
            f"I'm sorry it isn't with you. Our records show order #{order.number} as delivered. It's "
            "worth checking with neighbours or a safe place; if it's still missing, our team can look "
            "into it with the carrier."
        )
    late = [s for s in order.shipments if _is_late(s, today)]
    if late:
        expected = long_date(min(s.estimated_delivery for s in late if s.estimated_delivery))
        return (
            f"I'm sorry — order #{order.number} is running late: it was expected by {expected} and "
            "hasn't been delivered yet. Our team can look into it with the carrier."
        )
    return f"Order #{order.number} {_ORDER_STATUS_SENTENCE[order.status]}."


def _is_late(shipment: Shipment, today: date) -> bool:
    return (
        shipment.status in _IN_TRANSIT
        and shipment.estimated_delivery is not None
        and shipment.estimated_delivery < today
    )


def _awaiting_delivery(order: Order) -> bool:
    return order.status not in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)


def _shipment_parts(order: Order, *, with_estimates: bool) -> list[Part]:
    shipments = order.shipments
    if len(shipments) == 1:
        return _shipment_facts(shipments[0], None, with_estimates)
    parts: list[Part] = []
    for index, shipment in enumerate(shipments, start=1):
        label = (f"Package {index} of {len(shipments)}", f"{index}/{len(shipments)}")
        parts.extend(_shipment_facts(shipment, label, with_estimates))
    return parts


def _shipment_facts(shipment: Shipment, label: tuple[str, str] | None, with_estimate: bool) -> list[Part]:
    status = _SHIPMENT_STATUS[shipment.status]
    long: list[str] = [f"{label[0]}: {status}"] if label else []
    short: list[str] = []
    if shipment.carrier and shipment.tracking_number:
        long.append(f"{shipment.carrier} tracking number {shipment.tracking_number}")
        short.append(f"{shipment.carrier} {shipment.tracking_number}")
    elif shipment.carrier:
        long.append(f"with {shipment.carrier}")
        short.append(shipment.carrier)
    elif shipment.tracking_number:
        long.append(f"tracking number {shipment.tracking_number}")
        short.append(shipment.tracking_number)
    if with_estimate and shipment.estimated_delivery and shipment.status is not OrderStatus.DELIVERED:
        long.append(f"estimated delivery {long_date(shipment.estimated_delivery)}")
        short.append(f"ETA {short_date(shipment.estimated_delivery)}")
    parts = []
    if long:
        brief = ", ".join(short)
        if label:
            brief = f"{label[1]} {status}" + (f": {brief}" if brief else "")
        parts.append(Part(f"{', '.join(long)}.", brief))
    if shipment.tracking_url:
        parts.append(Part(f"Track it: {shipment.tracking_url}", shipment.tracking_url, optional=True))
    if shipment.last_update and shipment.status is not OrderStatus.DELIVERED:
        moment = shipment.last_update
        parts.append(Part(f"Last carrier update: {moment:%b} {moment.day}.", optional=True))
    return parts
