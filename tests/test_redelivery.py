"""A message delivered twice (same provider id) is processed once and answered the same way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from lumen_bot.domain.messages import InboundMessage, ReplyKind
from lumen_bot.store.tables import MessageRow, VerificationFailureRow
from tests.conftest import Dialogue


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar()


def test_a_redelivered_message_gets_the_same_replies(chat):
    first = chat("where is order 1042", provider_message_id="SM1")
    again = chat("where is order 1042", provider_message_id="SM1")
    assert again == first
    assert chat.kinds == [ReplyKind.ASK_EMAIL]


def test_a_redelivered_failure_is_counted_once(chat, orders):
    chat("order 1042", provider_message_id="SM1")
    for _ in range(3):
        chat("wrong@example.com", provider_message_id="SM2")
    assert count(orders, VerificationFailureRow) == 1
    assert count(orders, MessageRow) == 2


def test_a_redelivery_does_not_move_the_conversation_on(chat):
    chat("order 1042", provider_message_id="SM1")
    chat("jane.doe@example.com", provider_message_id="SM2")
    chat("order 1042", provider_message_id="SM1")
    # Had SM1 been processed again, the bot would be waiting for an email now.
    chat("tracking link?", provider_message_id="SM3")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]


def test_the_same_provider_id_on_another_channel_is_another_message(runtime, chat):
    sms = Dialogue(runtime.handler, channel="sms")
    chat("hello", provider_message_id="X1")
    sms("where is order 1042", provider_message_id="X1")
    assert sms.kinds == [ReplyKind.ASK_EMAIL]


def test_handle_new_says_none_for_a_redelivery(runtime):
    first = InboundMessage("whatsapp", "+15550001", "where is order 1042", datetime.now(UTC), "wamid.1")
    assert asyncio.run(runtime.handler.handle_new(first))
    assert asyncio.run(runtime.handler.handle_new(first)) is None
