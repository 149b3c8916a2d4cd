"""Webhook messages stored before they are acknowledged: a stopped worker's messages are answered by
another, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from lumen_bot.domain.messages import InboundMessage
from lumen_bot.ports import Accepted, ReplyRoute
from lumen_bot.store.tables import MessageRow, OutboundRow
from tests.test_twilio import count_rows

LEASE_SECONDS = 30  # the default LUMEN_INBOX_LEASE_SECONDS


def accepted(text: str = "where is order 1042", sid: str = "SM1") -> Accepted:
    message = InboundMessage(
        channel="sms",
        conversation_key="+15557654321",
        text=text,
        received_at=datetime.now(UTC),
        provider_message_id=sid,
    )
    return Accepted(message, ReplyRoute("twilio", "+15550001000", "+15557654321", form="sms"))


def test_a_message_is_not_taken_from_a_worker_whose_lease_holds(runtime):
    asyncio.run(runtime.intake.accept([accepted()]))
    assert asyncio.run(runtime.intake.answer_due()) == 0


def test_a_message_left_by_a_stopped_worker_is_answered_once_its_lease_runs_out(runtime, clock, orders):
    asyncio.run(runtime.intake.accept([accepted()]))  # … and the worker stops
    clock.advance(seconds=LEASE_SECONDS + 1)

    assert asyncio.run(runtime.intake.answer_due()) == 1
    assert asyncio.run(runtime.intake.answer_due()) == 0
    assert count_rows(orders, MessageRow) == 1
    assert count_rows(orders, OutboundRow) == 1


def test_a_redelivery_is_not_accepted_again(runtime):
    [first] = asyncio.run(runtime.intake.accept([accepted()]))
    [again] = asyncio.run(runtime.intake.accept([accepted()]))
    assert first is not None
    assert again is None


def test_a_worker_that_lost_its_lease_cannot_answer_inline(runtime, clock, orders):
    [lease] = asyncio.run(runtime.intake.accept([accepted()]))
    clock.advance(seconds=LEASE_SECONDS + 1)
    asyncio.run(runtime.intake.answer_due())  # another worker answers through the outbox

    assert asyncio.run(runtime.intake.settle_inline(lease)) is False
    assert count_rows(orders, OutboundRow) == 1


def test_a_message_whose_turn_was_taken_before_the_stop_gets_its_first_replies(runtime, clock, orders):
    [lease] = asyncio.run(runtime.intake.accept([accepted()]))
    first = asyncio.run(runtime.intake.replies(lease))  # the turn is stored, then the worker stops
    clock.advance(seconds=LEASE_SECONDS + 1)
    asyncio.run(runtime.intake.answer_due())

    assert count_rows(orders, MessageRow) == 1
    with orders.connect() as connection:
        [body] = connection.execute(OutboundRow.__table__.select()).mappings()  # type: ignore[attr-defined]
    assert body["body"] == first[0].text
