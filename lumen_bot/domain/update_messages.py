"""What a proactive shipping update says: one reply per milestone, from the order's own fields — pure.

Said through a :class:`~lumen_bot.domain.speech.Speech` in the subscription's language, as
:mod:`lumen_bot.domain.replies` says its answers. The lead names the order (and the package, when the
order has several); the carrier, tracking number and tracking link follow when the order has them, the
link optional where room is short (SMS).
"""

from __future__ import annotations

from datetime import date

from lumen_bot.domain.messages import Part, Reply, ReplyKind
from lumen_bot.domain.orders import Order, Shipment
from lumen_bot.domain.replies import PERSON, TRACK
from lumen_bot.domain.speech import N_, Speech
from lumen_bot.domain.updates import Milestone, Reached, shipment_key

# The lead of each milestone: of an order with one shipment (or none), and of one package of several.
_LEADS = {
    Milestone.SHIPPED: (
        N_("Good news: order #{number} has shipped."),
        N_("Good news: package {index} of {count} of order #{number} has shipped."),
    ),
    Milestone.OUT_FOR_DELIVERY: (
        N_("Order #{number} is out for delivery."),
        N_("Package {index} of {count} of order #{number} is out for delivery."),
    ),
    Milestone.DELIVERED: (
        N_("Order #{number} has been delivered."),
        N_("Package {index} of {count} of order #{number} has been delivered."),
    ),
    Milestone.EXCEPTION: (
        N_(
            "The carrier reports a problem delivering order #{number}: a delivery attempt failed, or the "
            "parcel is on its way back to us."
        ),
        N_(
            "The carrier reports a problem delivering package {index} of {count} of order #{number}: a "
            "delivery attempt failed, or the parcel is on its way back to us."
        ),
    ),
    Milestone.CANCELLED: (
        N_("Order #{number} was cancelled."),
        N_("Package {index} of {count} of order #{number} was cancelled."),
    ),
    Milestone.RUNNING_LATE: (
        N_("Order #{number} is running late: it was expected by {date} and hasn't been delivered yet."),
        N_(
            "Package {index} of {count} of order #{number} is running late: it was expected by {date} and "
            "hasn't been delivered yet."
        ),
    ),
}
# Translators: the short forms are for SMS, where every character counts: keep them as short.
_SHORT_LEADS = {
    Milestone.SHIPPED: N_("Order #{number}: shipped."),
    Milestone.OUT_FOR_DELIVERY: N_("Order #{number}: out for delivery."),
    Milestone.DELIVERED: N_("Order #{number}: delivered."),
    Milestone.EXCEPTION: N_("Order #{number}: delivery problem."),
    Milestone.CANCELLED: N_("Order #{number}: cancelled."),
    Milestone.RUNNING_LATE: N_("Order #{number}: running late (expected {date})."),
}
# A late parcel whose estimate moved later, to a day still ahead: the new estimate is the news.
_MOVED_LATER = (
    N_("Order #{number} is running late: it's now expected by {date}."),
    N_("Package {index} of {count} of order #{number} is running late: it's now expected by {date}."),
)
_MOVED_LATER_SHORT = N_("Order #{number}: running late, now due {date}.")
_NEW_ESTIMATE = N_("The new estimated delivery is {date}.")
_TEAM_CAN_HELP = N_("Reply here if you'd like our team to look into it.")
# Translators: keep STOP UPDATES as it is: the shopper sends these words back.
_HOW_TO_STOP = N_("Reply STOP UPDATES to stop these updates.")
_NEEDS_HELP = frozenset({Milestone.EXCEPTION, Milestone.RUNNING_LATE})


def update_reply(
    say: Speech, order: Order, reached: Reached, today: date, *, reply_to_stop: bool = True
) -> Reply:
    """The update that tells ``reached`` of ``order``, in ``say``'s language, as of ``today``; with
    ``reply_to_stop``, how to stop the updates by replying (an email carries its own link instead)."""
    milestone = reached.milestone
    found = _shipment(order, reached.shipment_key)
    index, shipment = found if found is not None else (0, None)
    count = len(order.shipments)
    values: dict[str, object] = {"number": order.number, "index": index + 1, "count": count}
    expected = _expected(reached, shipment)
    if expected is not None:
        values["date"] = say.long_date(expected)
    moved_later = expected is not None and expected >= today
    single, of_package = _MOVED_LATER if moved_later else _LEADS[milestone]
    lead = say(of_package if shipment is not None and count > 1 else single, **values)
    short_values = {**values, "date": say.short_date(expected)} if expected is not None else values
    short = _MOVED_LATER_SHORT if moved_later else _SHORT_LEADS[milestone]
    parts = [Part(lead, say(short, **short_values))]
    if shipment is not None:
        later = shipment.estimated_delivery
        if milestone is Milestone.RUNNING_LATE and later is not None and later >= today and later != expected:
            parts.append(Part(say(_NEW_ESTIMATE, date=say.long_date(later))))
        if milestone is not Milestone.CANCELLED:
            parts += _tracking(say, shipment)
    if milestone in _NEEDS_HELP:
        parts.append(Part(say(_TEAM_CAN_HELP), optional=True))
    if reply_to_stop:
        parts.append(Part(say(_HOW_TO_STOP), optional=True))
    links = (shipment.tracking_url,) if shipment is not None and shipment.tracking_url else ()
    quick = (PERSON,) if milestone in _NEEDS_HELP else (TRACK,)
    return Reply(
        ReplyKind.ORDER_UPDATE,
        tuple(parts),
        tuple(say(label) for label in quick),
        links,
        language=say.language,
    )


def _shipment(order: Order, key: str) -> tuple[int, Shipment] | None:
    for index, shipment in enumerate(order.shipments):
        if shipment_key(shipment, index) == key:
            return index, shipment
    return None


def _expected(reached: Reached, shipment: Shipment | None) -> date | None:
    """The date recorded with a late parcel's milestone: the estimate that passed, or (a day still ahead)
    the later estimate it moved to."""
    if reached.milestone is not Milestone.RUNNING_LATE:
        return None
    try:
        return date.fromisoformat(reached.detail)
    except ValueError:
        return shipment.estimated_delivery if shipment is not None else None


def _tracking(say: Speech, shipment: Shipment) -> list[Part]:
    carrier, tracking = shipment.carrier, shipment.tracking_number
    parts: list[Part] = []
    if carrier and tracking:
        text = say("{carrier} tracking number {tracking}", carrier=carrier, tracking=tracking)
        parts.append(Part(f"{text}.", f"{carrier} {tracking}"))
    elif carrier:
        parts.append(Part(say("Carrier: {carrier}.", carrier=carrier), carrier))
    elif tracking:
        parts.append(Part(say("Tracking number: {tracking}.", tracking=tracking), tracking))
    if shipment.tracking_url:
        url = shipment.tracking_url
        parts.append(Part(say("Track it: {url}", url=url), url, optional=True))
    return parts
