"""Many workers answering one conversation at once: every message is answered, none is lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from channels.app import build_runtime
from lumen_bot.domain.messages import InboundMessage, ReplyKind
from lumen_bot.store.tables import MessageRow
from tests.test_twilio import count_rows

WORKERS = 6
MESSAGES_EACH = 8


def message(n: int) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        conversation_key="+15557654321",
        text=f"where is order {1000 + n}",
        received_at=datetime.now(UTC),
        provider_message_id=f"SM{n:032d}",
    )


def test_messages_racing_in_one_conversation_on_six_workers_are_all_answered(settings, orders, clock):
    # Each runtime stands for a worker process: its own turn-taking, the database shared.
    workers = [build_runtime(settings, engine=orders, clock=clock) for _ in range(WORKERS)]

    async def race() -> list[object]:
        turns = [workers[n % WORKERS].handler.handle(message(n)) for n in range(WORKERS * MESSAGES_EACH)]
        outcomes = await asyncio.gather(*turns, return_exceptions=True)
        for worker in workers:
            await worker.aclose()
        return outcomes

    outcomes = asyncio.run(race())

    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert failures == []
    assert all(reply.kind != ReplyKind.UNAVAILABLE for replies in outcomes for reply in replies)
    assert count_rows(orders, MessageRow) == WORKERS * MESSAGES_EACH
