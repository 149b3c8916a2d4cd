#!/usr/bin/env python3
"""Measure how many SMS segments Lumen's replies take in each language, as the Twilio channel sends them
(GSM-7 after transliteration, within its 3-segment budget).

    .venv/bin/python scripts/sms_segments.py [--check]

Renders every reply template with long realistic values, and order answers for realistic orders (one to
four parcels, carriers, tracking numbers and links) to every kind of question, in every language; prints
per language the longest reply before and after the SMS budget and the segments it takes. ``--check``
exits 1 when any reply, as sent, is not GSM-7 or takes more than 3 segments (tests/test_sms_text.py runs it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime

try:
    from channels.sms_text import is_gsm7, render_sms, segment_count
    from lumen_bot.domain import replies
    from lumen_bot.domain.messages import Reply
    from lumen_bot.domain.orders import Order, OrderStatus, Shipment
    from lumen_bot.domain.speech import LANGUAGES, Speech
    from lumen_bot.domain.tickets import TicketCategory
    from lumen_bot.domain.understanding import ORDER_QUESTIONS, Intent
    from lumen_bot.locales.voices import load_voices
except ModuleNotFoundError as error:
    sys.exit(f"error: {error}; run this with the project's Python: .venv/bin/python {sys.argv[0]}")

SHOP = "Acme Outfitters International"
SUPPORT = "support@acme-outfitters.example.com"
TODAY = date(2026, 12, 3)
PARCELS = (
    ("UPS", "1Z999AA10123456784", "https://www.ups.com/track?tracknum=1Z999AA10123456784"),
    ("DHL Express", "JD014600006281230070", "https://www.dhl.com/track?tracking-id=JD014600006281230070"),
    ("Royal Mail", "AB123456789GB", None),
    (
        "USPS",
        "9400111899223197428490",
        "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428490",
    ),
)


def realistic_orders() -> list[Order]:
    found = []
    for count in range(1, len(PARCELS) + 1):
        for status in (OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED):
            shipments = tuple(
                Shipment(
                    carrier=carrier,
                    tracking_number=tracking,
                    tracking_url=url,
                    status=status,
                    estimated_delivery=date(2026, 12, 1 + index),
                    last_update=datetime(2026, 12, 2, 18, 30, tzinfo=UTC),
                )
                for index, (carrier, tracking, url) in enumerate(PARCELS[:count])
            )
            found.append(
                Order(number="LUM-1000042", email="jane@example.com", status=status, shipments=shipments)
            )
    return found


def every_reply(say: Speech) -> list[Reply]:
    answers = [
        replies.order_answer(say, order, question, not_arrived, TODAY)
        for order in realistic_orders()
        for question in ORDER_QUESTIONS
        for not_arrived in (False, True)
    ]
    escalations = [
        replies.escalated(
            say, category, number, reference="LUM-7K2Q9X", again=again, channel=channel,
            order_email_of=None, support_contact=SUPPORT,
        )
        for category in TicketCategory
        for number in (None, "LUM-1000042")
        for again in (False, True)
        for channel in (None, "sms")
    ]  # fmt: skip
    return [
        *answers,
        *escalations,
        replies.greeting(say, SHOP),
        replies.help_text(say, SHOP),
        replies.unknown(say, SHOP),
        *(
            replies.ask_order_number(say, q, again=a, support_contact=SUPPORT)
            for q in Intent
            for a in (False, True)
        ),
        *(replies.ask_email(say, "LUM-1000042", again=a, support_contact=SUPPORT) for a in (False, True)),
        replies.not_verified(say, "LUM-1000042", SUPPORT),
        replies.locked(say, SUPPORT),
        replies.unavailable(say, SUPPORT),
        replies.confirm_ticket(say),
        replies.offer_updates(say, email=None),
        *(
            replies.updates_subscribed(say, "LUM-1000042", channel=channel, email=None)
            for channel in ("sms", "whatsapp", "email")
        ),
        replies.updates_declined(say),
        *(replies.updates_stopped(say, number) for number in (None, "LUM-1000042")),
        replies.updates_settled(say, "LUM-1000042"),
        replies.updates_not_here(say),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a reply is not GSM-7 within 3 segments"
    )
    args = parser.parse_args(argv)
    voices = load_voices(LANGUAGES, UTC)
    failing = 0
    print("| Language | Replies | Longest, in full (segments) | Longest, as sent (segments) | Failing |")
    print("|---|---|---|---|---|")
    for language, say in voices.items():
        rendered = every_reply(say)
        full = max(segment_count(render_sms([reply], max_segments=10)) for reply in rendered)
        sent = [render_sms([reply]) for reply in rendered]
        bad = sum(not is_gsm7(text) or segment_count(text) > 3 for text in sent)
        failing += bad
        print(f"| {language} | {len(rendered)} | {full} | {max(map(segment_count, sent))} | {bad} |")
    return 1 if args.check and failing else 0


if __name__ == "__main__":
    sys.exit(main())
