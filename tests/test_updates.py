"""Proactive shipping updates: what each move of a subscribed order says, and the notifier on a real
database — once per milestone, never what the shopper knew, nothing after STOP, held in quiet hours, one
update however many workers find the news."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, insert, select

from channels.app import create_app
from channels.cli import main
from lumen_bot.domain.engine import ConversationState
from lumen_bot.domain.messages import ReplyKind
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.domain.quiet_hours import QuietHours
from lumen_bot.domain.update_messages import update_reply
from lumen_bot.domain.updates import ORDER_KEY, Milestone, Reached
from lumen_bot.metrics import UpdateMetrics
from lumen_bot.ports import (
    NoticeStatus,
    OrderSourceUnavailable,
    Outgoing,
    SubscriptionStatus,
    UpdateNote,
)
from lumen_bot.services.updates import UpdateNotifier
from lumen_bot.settings import load_settings
from lumen_bot.store.database import Database, make_engine
from lumen_bot.store.opt_outs import SqlOptOuts
from lumen_bot.store.orders import SqlOrderSource, write_orders
from lumen_bot.store.tables import (
    ConversationRow,
    MessageRow,
    OutboundRow,
    UpdateNoticeRow,
    UpdateSubscriptionRow,
)
from lumen_bot.store.updates import SqlUpdateStore
from tests.conftest import ENGLISH, START, VOICES, Clock, LiveServer

SHOPPER = "+15557654321"
SHOP_NUMBER = "+15550001000"
UPS = "1Z999AA10123456784"
TODAY = START.date()
_SUBSCRIPTION = UpdateSubscriptionRow.__table__  # type: ignore[attr-defined]
_NOTICE = UpdateNoticeRow.__table__  # type: ignore[attr-defined]
_OUTBOUND = OutboundRow.__table__  # type: ignore[attr-defined]


def order(status: OrderStatus = OrderStatus.SHIPPED, *shipments: Shipment, number: str = "1042") -> Order:
    shipments = shipments or (
        Shipment(
            status=status,
            carrier="UPS",
            tracking_number=UPS,
            tracking_url=f"https://www.ups.com/track?tracknum={UPS}",
            estimated_delivery=date(2026, 12, 1),
        ),
    )
    return Order(number=number, email="jane.doe@example.com", status=status, shipments=shipments)


# --- What an update says -------------------------------------------------------------------------------


def test_a_shipped_update_names_the_carrier_the_tracking_number_and_the_link():
    reply = update_reply(ENGLISH, order(), Reached(UPS, Milestone.SHIPPED), TODAY)
    assert reply.kind is ReplyKind.ORDER_UPDATE
    assert reply.text.startswith("Good news: order #1042 has shipped.")
    assert f"UPS tracking number {UPS}." in reply.text
    assert f"Track it: https://www.ups.com/track?tracknum={UPS}" in reply.text
    assert reply.links == (f"https://www.ups.com/track?tracknum={UPS}",)
    assert "Reply STOP UPDATES to stop these updates." in reply.text


@pytest.mark.parametrize(
    ("milestone", "lead"),
    [
        (Milestone.OUT_FOR_DELIVERY, "Order #1042 is out for delivery."),
        (Milestone.DELIVERED, "Order #1042 has been delivered."),
        (Milestone.CANCELLED, "Order #1042 was cancelled."),
        (Milestone.EXCEPTION, "The carrier reports a problem delivering order #1042"),
    ],
)
def test_each_milestone_has_its_own_lead(milestone, lead):
    assert update_reply(ENGLISH, order(), Reached(UPS, milestone), TODAY).text.startswith(lead)


def test_a_late_parcel_says_when_it_was_expected_and_offers_the_team():
    late = Reached(UPS, Milestone.RUNNING_LATE, "2026-11-20")
    reply = update_reply(ENGLISH, order(), late, TODAY)
    assert reply.parts[0].text == (
        "Order #1042 is running late: it was expected by Friday, November 20 and hasn't been delivered yet."
    )
    assert reply.parts[0].short == "Order #1042: running late (expected Fri Nov 20)."
    assert "The new estimated delivery is Tuesday, December 1." in reply.text
    assert reply.quick_replies == ("Talk to a person",)


def test_a_package_of_several_is_named_as_one_of_them():
    first = Shipment(status=OrderStatus.DELIVERED, carrier="USPS", tracking_number="9400111899223344556677")
    second = Shipment(status=OrderStatus.SHIPPED, carrier="FedEx", tracking_number="771234567890")
    several = order(OrderStatus.PARTIALLY_SHIPPED, first, second, number="2001")
    reply = update_reply(ENGLISH, several, Reached("9400111899223344556677", Milestone.DELIVERED), TODAY)
    assert reply.text.startswith("Package 1 of 2 of order #2001 has been delivered.")


def test_an_order_cancelled_before_it_shipped_says_so_without_tracking():
    cancelled = Order(number="6006", email="gone@example.net", status=OrderStatus.CANCELLED)
    reply = update_reply(ENGLISH, cancelled, Reached(ORDER_KEY, Milestone.CANCELLED), TODAY)
    assert reply.parts[0].text == "Order #6006 was cancelled."
    assert "tracking" not in reply.text


def test_an_update_is_said_in_the_subscriptions_language():
    reply = update_reply(VOICES["es"], order(), Reached(UPS, Milestone.DELIVERED), TODAY)
    assert reply.language == "es"


def test_an_email_update_leaves_stopping_to_its_link():
    reply = update_reply(ENGLISH, order(), Reached(UPS, Milestone.DELIVERED), TODAY, reply_to_stop=False)
    assert "STOP" not in reply.text


# --- Quiet hours ---------------------------------------------------------------------------------------

MADRID = ZoneInfo("Europe/Madrid")


@pytest.mark.parametrize(
    ("local", "ends"),
    [
        (datetime(2026, 11, 28, 22, 30), datetime(2026, 11, 29, 8, 0)),
        (datetime(2026, 11, 29, 7, 59), datetime(2026, 11, 29, 8, 0)),
        (datetime(2026, 11, 29, 8, 0), None),
        (datetime(2026, 11, 28, 20, 59), None),
    ],
)
def test_quiet_hours_over_midnight_end_the_next_morning_in_the_shops_timezone(local, ends):
    quiet = QuietHours.parse("21:00-08:00")
    assert quiet is not None
    moment = local.replace(tzinfo=MADRID).astimezone(UTC)
    expected = ends.replace(tzinfo=MADRID).astimezone(UTC) if ends else None
    assert quiet.end_after(moment, MADRID) == expected


def test_quiet_hours_within_one_day():
    quiet = QuietHours.parse("12:00-14:00")
    assert quiet == QuietHours(time(12), time(14))
    assert quiet.end_after(datetime(2026, 11, 28, 13, tzinfo=UTC), UTC) == datetime(
        2026, 11, 28, 14, tzinfo=UTC
    )
    assert quiet.end_after(datetime(2026, 11, 28, 14, tzinfo=UTC), UTC) is None


@pytest.mark.parametrize("text", ["21-08", "21:00", "25:00-08:00", "08:00-08:00", "9pm-8am"])
def test_quiet_hours_that_are_not_a_span_are_refused(text):
    with pytest.raises(ValueError):
        QuietHours.parse(text)


def test_no_quiet_hours():
    assert QuietHours.parse("") is None


# --- The notifier on a real database -------------------------------------------------------------------


class Renderer:
    """A channel's renderer as the notifier sees it: every note it was given, and a message for each
    (or, with ``refuse``, the reason it cannot go)."""

    def __init__(self, via: str = "twilio", refuse: str | None = None) -> None:
        self.via = via
        self.refuse = refuse
        self.notes: list[UpdateNote] = []

    def render(self, note: UpdateNote) -> Outgoing | str:
        self.notes.append(note)
        if self.refuse is not None:
            return self.refuse
        return Outgoing(self.via, note.shop_address or "default", note.address, note.reply.text)


class Orders:
    """The real order table, or down on demand."""

    def __init__(self, database: Database) -> None:
        self.source = SqlOrderSource(database)
        self.down = False

    async def find(self, order_number: str) -> Order | None:
        if self.down:
            raise OrderSourceUnavailable("the platform is down")
        return await self.source.find(order_number)


class Shop:
    """Orders, subscriptions and a notifier on one database."""

    def __init__(self, engine: Engine, clock: Clock, **options: Any) -> None:
        self.engine = engine
        self.clock = clock
        self.database = Database(engine)
        self.store = SqlUpdateStore(self.database)
        self.opt_outs = SqlOptOuts(self.database)
        self.orders = Orders(self.database)
        self.renderers = {
            "sms": Renderer(),
            "whatsapp": Renderer("whatsapp_cloud"),
            "email": Renderer("smtp"),
        }
        self.registry = CollectorRegistry()
        self.metrics = UpdateMetrics(self.registry)
        self.notifier = self.notifier_for(self.database, **options)
        write_orders(engine, [order()])

    def notifier_for(
        self, database: Database, store: SqlUpdateStore | None = None, **options: Any
    ) -> UpdateNotifier:
        return UpdateNotifier(
            store or SqlUpdateStore(database),
            self.orders,
            self.opt_outs,
            self.renderers,
            VOICES,
            default_language="en",
            timezone=options.pop("timezone", UTC),
            monitor=self.metrics,
            clock=self.clock,
            **options,
        )

    def subscribe(
        self,
        number: str = "1042",
        *,
        channel: str = "sms",
        address: str = SHOPPER,
        language: str = "en",
        told: Sequence[tuple[str, str]] = ((UPS, "shipped"),),
        last_wrote: datetime | None = None,
        email_message_id: str | None = None,
    ) -> int:
        """A subscription as a conversation's yes makes it (with what the shopper was told)."""
        now = self.clock()
        with self.engine.begin() as connection:
            conversation = connection.execute(
                insert(ConversationRow.__table__).returning(ConversationRow.__table__.c.id),  # type: ignore[attr-defined]
                {
                    "channel": "email" if email_message_id else channel,
                    "key": f"{address}-{secrets.token_hex(4)}",
                    "state": ConversationState().model_dump_json(),
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            if last_wrote is not None:
                raw = f'{{"message_id": "{email_message_id}"}}' if email_message_id else None
                connection.execute(
                    insert(MessageRow.__table__),  # type: ignore[attr-defined]
                    {
                        "conversation_id": conversation,
                        "channel": "email" if email_message_id else channel,
                        "provider_message_id": secrets.token_hex(8),
                        "text": "yes",
                        "intent": "yes",
                        "replies": "[]",
                        "raw": raw,
                        "received_at": last_wrote,
                    },
                )
            subscription = connection.execute(
                insert(_SUBSCRIPTION).returning(_SUBSCRIPTION.c.id),
                {
                    "conversation_id": conversation,
                    "order_number": number,
                    "channel": channel,
                    "address": address,
                    "shop_address": SHOP_NUMBER if channel == "sms" else None,
                    "language": language,
                    "status": "active",
                    "unsubscribe_token": secrets.token_urlsafe(24),
                    "created_at": now,
                    "ends_at": now + timedelta(days=30),
                },
            ).scalar_one()
            for shipment, event in told:
                connection.execute(
                    insert(_NOTICE),
                    {
                        "subscription_id": subscription,
                        "shipment_key": shipment,
                        "event": event,
                        "status": "known",
                        "created_at": now,
                    },
                )
        return int(subscription)

    def becomes(self, *changed: Order) -> None:
        write_orders(self.engine, changed)

    def changed(self, *numbers: str, notifier: UpdateNotifier | None = None) -> int:
        return asyncio.run((notifier or self.notifier).orders_changed(numbers or ("1042",)))

    def notices(
        self, subscription: int | None = None, *, estimates: bool = False
    ) -> list[tuple[str, str, str, str | None]]:
        """The milestones recorded (with the estimates known, ``eta:…``, when ``estimates``)."""
        query = select(_NOTICE.c.shipment_key, _NOTICE.c.event, _NOTICE.c.status, _NOTICE.c.detail)
        if subscription is not None:
            query = query.where(_NOTICE.c.subscription_id == subscription)
        with self.engine.connect() as connection:
            rows = [tuple(row) for row in connection.execute(query.order_by(_NOTICE.c.id))]
        return [row for row in rows if estimates or not row[1].startswith("eta:")]  # type: ignore[misc]

    def outbox(self) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(_OUTBOUND).order_by(_OUTBOUND.c.id)))

    def status(self, subscription: int) -> str:
        with self.engine.connect() as connection:
            query = select(_SUBSCRIPTION.c.status).where(_SUBSCRIPTION.c.id == subscription)
            return str(connection.execute(query).scalar_one())

    def counted(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def shop(engine: Engine, clock: Clock) -> Iterator[Shop]:
    shop = Shop(engine, clock)
    yield shop
    shop.database.close()


def test_a_move_of_the_order_queues_one_update_from_the_number_the_shopper_wrote_to(shop):
    subscription = shop.subscribe()
    shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
    assert shop.changed() == 1
    [message] = shop.outbox()
    assert (message.channel, message.sender, message.recipient) == ("twilio", SHOP_NUMBER, SHOPPER)
    assert message.body.startswith("Order #1042 is out for delivery.")
    assert shop.notices(subscription)[-1] == (UPS, "out_for_delivery", "queued", None)
    assert shop.counted("lumen_updates_queued_total", channel="sms", milestone="out_for_delivery") == 1


def test_the_same_news_found_again_queues_nothing(shop):
    shop.subscribe()
    shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
    assert shop.changed() == 1
    assert shop.changed() == 0
    assert asyncio.run(shop.notifier.poll()) == 0
    assert len(shop.outbox()) == 1


def test_what_the_shopper_knew_when_they_said_yes_is_not_news(shop):
    shop.subscribe(told=[(UPS, "shipped")])
    assert shop.changed() == 0
    assert shop.outbox() == []


def test_shipped_and_delivered_between_two_checks_send_only_delivered(shop):
    subscription = shop.subscribe(told=[])
    shop.becomes(order(OrderStatus.DELIVERED))
    assert shop.changed() == 1
    [message] = shop.outbox()
    assert message.body.startswith("Order #1042 has been delivered.")
    assert shop.notices(subscription) == [
        (UPS, "shipped", "skipped", "superseded"),
        (UPS, "delivered", "queued", None),
    ]
    assert shop.counted("lumen_updates_skipped_total", channel="sms", reason="superseded") == 1


def test_an_estimate_moved_later_is_news_once(shop):
    subscription = shop.subscribe()
    assert shop.changed() == 0  # the estimate the shopper knows is noted
    assert shop.notices(subscription, estimates=True)[-1] == (UPS, "eta:2026-12-01", "known", None)
    later = order().shipments[0].model_copy(update={"estimated_delivery": date(2026, 12, 3)})
    shop.becomes(order(OrderStatus.SHIPPED, later))
    assert shop.changed() == 1
    [message] = shop.outbox()
    assert message.body.startswith("Order #1042 is running late: it's now expected by Thursday, December 3.")
    assert shop.changed() == 0
    earlier = later.model_copy(update={"estimated_delivery": date(2026, 12, 2)})
    shop.becomes(order(OrderStatus.SHIPPED, earlier))
    assert shop.changed() == 0  # sooner is no bad news
    assert shop.counted("lumen_updates_queued_total", channel="sms", milestone="running_late") == 1


def test_an_estimate_that_passes_without_delivery_is_news(shop, clock):
    shop.subscribe()
    clock.advance(days=4)  # December 2: the parcel was due December 1
    assert shop.changed() == 1
    [message] = shop.outbox()
    assert message.body.startswith("Order #1042 is running late: it was expected by Tuesday, December 1")


def test_each_package_of_an_order_gets_its_own_update(shop):
    first = Shipment(status=OrderStatus.SHIPPED, carrier="FedEx", tracking_number="771234567890")
    second = Shipment(status=OrderStatus.SHIPPED, carrier="USPS", tracking_number="9400111899223344556677")
    shop.becomes(order(OrderStatus.SHIPPED, first, second))
    shop.subscribe(told=[("771234567890", "shipped"), ("9400111899223344556677", "shipped")])
    shop.becomes(
        order(
            OrderStatus.PARTIALLY_SHIPPED,
            first.model_copy(update={"status": OrderStatus.DELIVERED}),
            second.model_copy(update={"status": OrderStatus.OUT_FOR_DELIVERY}),
        )
    )
    assert shop.changed() == 2
    bodies = [message.body for message in shop.outbox()]
    assert bodies[0].startswith("Package 1 of 2 of order #1042 has been delivered.")
    assert bodies[1].startswith("Package 2 of 2 of order #1042 is out for delivery.")


def test_a_shopper_who_sent_stop_gets_nothing_and_the_subscription_stops(shop):
    subscription = shop.subscribe()
    asyncio.run(shop.opt_outs.opt_out("sms", SHOPPER, shop.clock()))
    shop.becomes(order(OrderStatus.DELIVERED))
    assert shop.changed() == 0
    assert shop.outbox() == []
    assert shop.notices(subscription)[-1] == (UPS, "delivered", "skipped", "opted out")
    assert shop.status(subscription) == "stopped"
    assert shop.counted("lumen_updates_skipped_total", channel="sms", reason="opted out") == 1


def test_a_shopper_who_sent_stop_is_unsubscribed_at_the_next_check_even_without_news(shop):
    subscription = shop.subscribe()
    asyncio.run(shop.opt_outs.opt_out("sms", SHOPPER, shop.clock()))
    assert asyncio.run(shop.notifier.poll()) == 0
    assert shop.status(subscription) == "stopped"


def test_an_sms_found_in_quiet_hours_is_held_until_they_end(engine, clock):
    clock.now = datetime(2026, 11, 28, 22, 30, tzinfo=MADRID).astimezone(UTC)
    shop = Shop(engine, clock, quiet_hours=QuietHours.parse("21:00-08:00"), timezone=MADRID)
    try:
        shop.subscribe()
        shop.subscribe(channel="email", address="jane.doe@example.com")
        shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
        assert shop.changed() == 2
        sms, email = shop.outbox()
        assert as_utc(sms.next_attempt_at) == datetime(2026, 11, 29, 8, 0, tzinfo=MADRID)
        assert as_utc(email.next_attempt_at) == clock.now  # quiet hours are for SMS
    finally:
        shop.database.close()


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_the_renderer_hears_of_the_whatsapp_window_and_the_email_thread(shop, clock):
    shop.subscribe(channel="whatsapp", address="15557654321", last_wrote=clock.now - timedelta(hours=2))
    shop.subscribe(channel="whatsapp", address="15550009999", last_wrote=clock.now - timedelta(hours=25))
    shop.subscribe(
        channel="email",
        address="jane.doe@example.com",
        last_wrote=clock.now - timedelta(days=3),
        email_message_id="<CAF=abc@mail.example.com>",
    )
    shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
    shop.changed()
    [inside], [outside] = shop.renderers["whatsapp"].notes[:1], shop.renderers["whatsapp"].notes[1:]
    assert inside.in_session_window and not outside.in_session_window
    [email] = shop.renderers["email"].notes
    assert email.thread_message_id == "<CAF=abc@mail.example.com>"
    assert email.milestone == "out_for_delivery" and email.order_number == "1042"
    assert email.unsubscribe_token


def test_an_update_a_channel_cannot_send_is_recorded_as_skipped_with_why(shop, clock):
    shop.renderers["whatsapp"] = Renderer(refuse="no WhatsApp template")
    subscription = shop.subscribe(channel="whatsapp", address="15557654321")
    shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
    assert shop.changed() == 0
    assert shop.notices(subscription)[-1] == (UPS, "out_for_delivery", "skipped", "no WhatsApp template")
    assert shop.counted("lumen_updates_skipped_total", channel="whatsapp", reason="no WhatsApp template") == 1
    assert shop.changed() == 0  # not tried again
    assert len(shop.renderers["whatsapp"].notes) == 1


def test_an_update_in_the_subscriptions_language(shop):
    shop.subscribe(language="de")
    shop.becomes(order(OrderStatus.DELIVERED))
    shop.changed()
    [note] = shop.renderers["sms"].notes
    assert note.language == "de" and note.reply.language == "de"


def test_an_order_source_that_is_down_only_delays_the_update(shop):
    shop.subscribe()
    shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
    shop.orders.down = True
    assert shop.changed() == 0
    assert shop.outbox() == []
    shop.orders.down = False
    assert asyncio.run(shop.notifier.poll()) == 1


def test_a_subscription_ends_when_the_order_settles(shop):
    subscription = shop.subscribe()
    shop.becomes(order(OrderStatus.DELIVERED))
    assert shop.changed() == 1
    assert shop.status(subscription) == "settled"
    assert asyncio.run(shop.store.active()) == []


def test_a_subscription_expires_after_its_days(shop, clock):
    subscription = shop.subscribe()
    clock.advance(days=31)
    shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
    assert shop.changed() == 0
    assert shop.outbox() == []
    assert shop.status(subscription) == "expired"


def test_only_the_changed_orders_subscriptions_are_checked(shop):
    shop.subscribe()
    shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
    assert shop.changed("2001") == 0
    assert shop.changed("1042") == 1


def test_two_workers_finding_the_same_news_at_once_queue_one_update(shop, database_url, clock):
    """Both read what was recorded before either records: the store takes the first and writes nothing
    for the second, whichever commits second."""
    second_engine = make_engine(database_url)
    second = Database(second_engine)
    try:
        shop.subscribe()
        shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))

        async def race() -> list[int]:
            both_read = asyncio.Barrier(2)

            class ReadTogether(SqlUpdateStore):
                async def recorded(self, subscription_id: int) -> set[tuple[str, str]]:
                    found = await super().recorded(subscription_id)
                    await both_read.wait()
                    return found

            workers = [shop.notifier_for(db, ReadTogether(db)) for db in (shop.database, second)]
            return list(await asyncio.gather(*(worker.orders_changed(["1042"]) for worker in workers)))

        assert sorted(asyncio.run(race())) == [0, 1]
        assert len(shop.outbox()) == 1
        assert [notice[1] for notice in shop.notices()].count("out_for_delivery") == 1
    finally:
        second.close()
        second_engine.dispose()


def test_an_unsubscribe_link_stops_the_subscription_and_works_twice(shop):
    subscription = shop.subscribe()
    with shop.engine.connect() as connection:
        token = connection.execute(
            select(_SUBSCRIPTION.c.unsubscribe_token).where(_SUBSCRIPTION.c.id == subscription)
        ).scalar_one()
    assert asyncio.run(shop.store.stop_by_token(token, shop.clock()))
    assert shop.status(subscription) == "stopped"
    assert asyncio.run(shop.store.stop_by_token(token, shop.clock()))
    assert not asyncio.run(shop.store.stop_by_token("no-such-token", shop.clock()))
    shop.becomes(order(OrderStatus.DELIVERED))
    assert shop.changed() == 0


def test_the_shop_sees_each_subscription_with_what_was_sent_and_skipped(shop):
    subscription = shop.subscribe(told=[])
    shop.subscribe("2001")
    shop.becomes(order(OrderStatus.DELIVERED))
    shop.changed()
    [report] = asyncio.run(shop.store.reports("1042"))
    assert report.subscription.id == subscription
    assert report.subscription.status is SubscriptionStatus.SETTLED
    assert [(n.event, n.status, n.detail, n.delivery) for n in report.notices] == [
        ("shipped", NoticeStatus.SKIPPED, "superseded", None),
        ("delivered", NoticeStatus.QUEUED, None, "pending"),
    ]
    assert len(asyncio.run(shop.store.reports())) == 2


# --- For the shop: the admin API, the CLI, the counters, the settings ----------------------------------

ADMIN = "admin-secret"


def test_the_admin_api_lists_subscriptions_with_what_was_sent_and_addresses_masked(settings, orders, clock):
    app = create_app(
        settings.model_copy(update={"admin_token": SecretStr(ADMIN)}), engine=orders, clock=clock
    )
    runtime = app.state.runtime
    shop = Shop(orders, clock)
    try:
        shop.subscribe()
        shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
        with LiveServer(app) as http:
            assert asyncio.run(runtime.updates.orders_changed(["1042"])) == 0  # no SMS configured: skipped
            assert http.get("/api/updates").status_code == 401
            response = http.get(
                "/api/updates", params={"order": "#1042"}, headers={"Authorization": f"Bearer {ADMIN}"}
            )
            metrics = http.get("/metrics").text
    finally:
        shop.database.close()
    assert response.status_code == 200
    [subscription] = response.json()["subscriptions"]
    assert subscription["order_number"] == "1042" and subscription["status"] == "active"
    assert SHOPPER not in response.text and subscription["address"].endswith("21")
    assert [(n["event"], n["status"]) for n in subscription["notices"]] == [
        ("shipped", "known"),
        ("out_for_delivery", "skipped"),
        ("eta:2026-12-01", "known"),
    ]
    assert 'lumen_updates_skipped_total{channel="sms"' in metrics


def test_lumen_updates_list_shows_subscriptions_and_notices(shop, database_url, monkeypatch, capsys):
    shop.subscribe()
    shop.becomes(order(OrderStatus.OUT_FOR_DELIVERY))
    shop.changed()
    monkeypatch.setenv("LUMEN_DATABASE_URL", database_url)
    assert main(["updates", "list", "--order", "1042"]) == 0
    out = capsys.readouterr().out
    assert "#1042" in out and "sms" in out and "active" in out
    assert "out_for_delivery" in out and "queued" in out and "pending" in out
    assert SHOPPER not in out
    assert main(["updates", "list", "--order", "9999"]) == 0
    assert "No subscriptions" in capsys.readouterr().out


def test_update_settings_are_checked_at_start_up():
    assert load_settings(quiet_hours=" 21:00-08:00 ").quiet_hours_span == QuietHours(time(21), time(8))
    assert load_settings().quiet_hours_span is None
    assert (
        load_settings(public_base_url="https://lumen.example.com/").public_url == "https://lumen.example.com"
    )
    assert load_settings(
        public_url="https://u.example.com", public_base_url="https://x.example"
    ).public_url == ("https://u.example.com")
    for wrong in (
        {"quiet_hours": "at night"},
        {"public_url": "lumen.example.com"},
        {"twilio_update_content_sid": "not-a-sid"},
        {"whatsapp_update_template_language": "English"},
        {"updates_poll_seconds": 0},
        {"updates_max_days": 0},
    ):
        with pytest.raises(ValidationError):
            load_settings(**wrong)
