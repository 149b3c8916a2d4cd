"""The outbox against a real database: how long a claim keeps other workers away, a send that never
answers, a sent message recorded through a database stall, and how long each kind of message is retried."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, select

from lumen_bot.ports import Outgoing, SendFailed, StoreUnavailable
from lumen_bot.services.outbox import SEND_TIMEOUT_SECONDS, Outbox
from lumen_bot.store.database import Database
from lumen_bot.store.outbox import SqlOutboxStore
from lumen_bot.store.tables import OutboundRow
from tests.conftest import START, Clock

_OUTBOUND = OutboundRow.__table__  # type: ignore[attr-defined]


def rows(engine: Engine) -> list[Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(select(_OUTBOUND).order_by(_OUTBOUND.c.id)).all())


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=START.tzinfo)


class Provider:
    """A provider API that takes every message, answers never, or refuses with a transient error;
    ``while_sending`` runs in the middle of the first send."""

    def __init__(self, answer: str = "takes") -> None:
        self.answer = answer
        self.sent: list[str] = []
        self.while_sending: Callable[[], Awaitable[None]] | None = None

    async def send(self, sender: str, recipient: str, text: str) -> str | None:
        if self.while_sending is not None:
            during, self.while_sending = self.while_sending, None
            await during()
        if self.answer == "never":
            await asyncio.sleep(3600)
        if self.answer == "refuses":
            raise SendFailed("provider answered 503")
        self.sent.append(text)
        return f"SM{len(self.sent)}"

    async def aclose(self) -> None:
        """Nothing to release."""


def test_a_claim_keeps_other_workers_away_for_less_than_a_minute_but_longer_than_a_send_may_take(
    engine: Engine, clock: Clock
) -> None:
    provider = Provider()
    store = SqlOutboxStore(Database(engine))
    first = Outbox(store, {"sms": provider}, max_attempts=5, clock=clock)
    second = Outbox(store, {"sms": provider}, max_attempts=5, clock=clock)

    leases: list[timedelta] = []
    taken_by_the_other: list[int] = []

    async def another_worker_tries_after_the_longest_send() -> None:
        [row] = rows(engine)
        leases.append(as_utc(row.next_attempt_at) - START)
        clock.advance(seconds=SEND_TIMEOUT_SECONDS)
        taken_by_the_other.append(await second.deliver_due())

    provider.while_sending = another_worker_tries_after_the_longest_send
    asyncio.run(first.send("sms", "+15550001", "+15550002", ["hi"]))

    [lease] = leases
    assert timedelta(seconds=SEND_TIMEOUT_SECONDS) < lease < timedelta(minutes=1)
    assert taken_by_the_other == [0]
    assert provider.sent == ["hi"]
    assert [(row.status, row.provider_message_id) for row in rows(engine)] == [("sent", "SM1")]


def test_a_send_that_never_answers_is_cut_off_and_not_tried_again_before_its_lease_ends(
    engine: Engine, clock: Clock
) -> None:
    outbox = Outbox(
        SqlOutboxStore(Database(engine)),
        {"sms": Provider("never")},
        max_attempts=5,
        send_timeout=0.2,
        clock=clock,
    )

    asyncio.run(asyncio.wait_for(outbox.send("sms", "+15550001", "+15550002", ["hi"]), timeout=5))

    [row] = rows(engine)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "no answer within 0.2 s")
    assert as_utc(row.next_attempt_at) >= START + outbox.lease


def test_a_sent_message_is_recorded_through_a_short_database_stall_and_not_sent_again(
    engine: Engine, clock: Clock
) -> None:
    class StallingOnce(SqlOutboxStore):
        stalled = False

        async def sent(self, *args: Any) -> None:
            if not self.stalled:
                self.stalled = True
                raise StoreUnavailable("database is locked")
            await super().sent(*args)

    provider = Provider()
    outbox = Outbox(StallingOnce(Database(engine)), {"sms": provider}, max_attempts=5, clock=clock)

    asyncio.run(outbox.send("sms", "+15550001", "+15550002", ["hi"]))
    clock.advance(hours=1)
    asyncio.run(outbox.deliver_due())

    assert provider.sent == ["hi"]
    assert [(row.status, row.provider_message_id) for row in rows(engine)] == [("sent", "SM1")]


def test_a_shoppers_reply_is_given_up_after_its_attempts_but_a_ticket_is_retried_for_hours(
    engine: Engine, clock: Clock
) -> None:
    store = SqlOutboxStore(Database(engine))
    outbox = Outbox(
        store,
        {"sms": Provider("refuses"), "ticket_webhook": Provider("refuses")},
        max_attempts=3,
        clock=clock,
    )
    reply = Outgoing("sms", "+15550001", "+15550002", "Your order shipped.")
    ticket = Outgoing("ticket_webhook", "webhook", "LUM-7K3P9Q", "{}", ticket_reference="LUM-7K3P9Q")

    async def hours_of_retries() -> None:
        await outbox.deliver(await store.store([reply, ticket], clock()))
        for _ in range(20):
            clock.advance(minutes=20)  # past the longest wait between attempts, jitter included
            await outbox.deliver_due()

    asyncio.run(hours_of_retries())

    [given_up, still_trying] = rows(engine)
    assert (given_up.status, given_up.attempts) == ("failed", 3)
    assert (still_trying.status, still_trying.attempts) == ("pending", 21)
