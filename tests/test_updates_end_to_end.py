"""The bar of proactive updates, on real parts: a shopper says yes over the signed Twilio route, the shop
re-imports its orders with ``lumen orders import``, and a loopback server speaking Twilio's Messages API
receives the SMS — once, from the number the shopper wrote to, never after STOP, never in quiet hours."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from channels.app import create_app
from channels.cli import main
from lumen_bot.settings import Settings
from lumen_bot.store.tables import OutboundRow, UpdateSubscriptionRow
from tests.conftest import PUBLIC_BASE_URL, Clock, LiveServer, ProviderApi
from tests.test_email_channel import answers, body_text, send_raw, shopper_email
from tests.test_twilio import JANE, SHOP_NUMBER, SHOPPER, SID, TOKEN, Twilio

HEADER = (
    "order_number,email,status,placed_at,carrier,tracking_number,tracking_url,"
    "estimated_delivery,customer_name"
)
UPS = "1Z999AA10123456784"


def order_1042(status: str) -> str:
    return (
        f"{HEADER}\n1042,{JANE},{status},2026-11-20,UPS,{UPS},"
        f"https://www.ups.com/track?tracknum={UPS},2026-12-01,Jane Doe\n"
    )


class Shop:
    """The shop's side: ``lumen orders import`` of a changed file, run as the console script runs."""

    def __init__(self, settings: Settings, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch):
        self.folder = tmp_path
        self.clock = clock
        environment = {
            "LUMEN_DATABASE_URL": settings.database_url,
            "LUMEN_TWILIO_ACCOUNT_SID": SID,
            "LUMEN_TWILIO_AUTH_TOKEN": TOKEN,
            "LUMEN_TWILIO_API_URL": settings.twilio_api_url,
            "LUMEN_QUIET_HOURS": settings.quiet_hours,
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)

    def imports(self, status: str) -> int:
        path = self.folder / f"orders-{status}.csv"
        path.write_text(order_1042(status), encoding="utf-8")
        return main(["orders", "import", str(path)], clock=self.clock)


@pytest.fixture
def settings_for_sms(twilio_settings: Settings, provider_api: ProviderApi) -> Settings:
    provider_api.default = (201, {"sid": "SMupdate", "status": "queued"}, {})
    return twilio_settings


def serve(settings: Settings, engine: Engine, clock: Clock) -> LiveServer:
    return LiveServer(create_app(settings, engine=engine, clock=clock))


def subscribe_over_sms(twilio: Twilio) -> None:
    """The shopper asks, verifies, hears the answer and the offer, and says yes."""
    assert "email" in twilio.say("where is order 1042")[0]
    [answer] = twilio.say(JANE)
    assert "shipped" in answer and UPS in answer
    [confirmation] = twilio.say("yes")
    assert "STOP" in confirmation


def outbox(engine: Engine) -> list[OutboundRow]:
    with engine.connect() as connection:
        return list(connection.execute(select(OutboundRow.__table__).order_by(OutboundRow.id)))  # type: ignore[attr-defined]


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def subscription_status(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(select(UpdateSubscriptionRow.status)).scalar_one())


@pytest.fixture
def sms_shop(
    settings_for_sms: Settings, orders: Engine, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Twilio, Shop]]:
    with serve(settings_for_sms, orders, clock) as http:
        yield Twilio(http), Shop(settings_for_sms, tmp_path, clock, monkeypatch)


def test_a_reimport_that_moves_the_order_sends_one_sms_and_the_same_reimport_none(
    sms_shop, provider_api, orders
):
    twilio, shop = sms_shop
    subscribe_over_sms(twilio)
    assert provider_api.requests == []  # the conversation was answered inline

    assert shop.imports("out_for_delivery") == 0
    [request] = provider_api.wait_for(1)
    sms = request.form()
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert (sms["From"], sms["To"]) == (SHOP_NUMBER, SHOPPER)
    assert sms["Body"].startswith("Order #1042 is out for delivery.")
    assert UPS in sms["Body"]

    assert shop.imports("out_for_delivery") == 0
    [stored] = outbox(orders)  # nothing new to send: the one update went, and only it
    assert stored.status == "sent"
    assert len(provider_api.requests) == 1


def test_after_stop_a_delivery_sends_nothing(sms_shop, provider_api, orders):
    twilio, shop = sms_shop
    subscribe_over_sms(twilio)
    assert twilio.say("STOP") == []
    assert shop.imports("delivered") == 0
    assert outbox(orders) == []
    assert subscription_status(orders) == "stopped"
    assert provider_api.requests == []


def test_two_imports_at_once_send_one_sms(sms_shop, provider_api, orders):
    twilio, shop = sms_shop
    subscribe_over_sms(twilio)
    results: list[int] = []
    imports = [threading.Thread(target=lambda: results.append(shop.imports("delivered"))) for _ in range(2)]
    for running in imports:
        running.start()
    for running in imports:
        running.join()
    assert results == [0, 0]
    assert len(outbox(orders)) == 1
    provider_api.wait_for(1)
    assert provider_api.requests[0].form()["Body"].startswith("Order #1042 has been delivered.")
    assert subscription_status(orders) == "settled"


def test_quiet_hours_hold_the_sms_until_they_end(
    settings_for_sms, orders, clock, tmp_path, monkeypatch, provider_api
):
    quiet = settings_for_sms.model_copy(update={"quiet_hours": "21:00-08:00"})
    with serve(quiet, orders, clock) as http:
        twilio, shop = Twilio(http), Shop(quiet, tmp_path, clock, monkeypatch)
        subscribe_over_sms(twilio)
        clock.now = datetime(2026, 11, 28, 22, 15, tzinfo=UTC)
        assert shop.imports("out_for_delivery") == 0
        [held] = outbox(orders)
        assert held.status == "pending"
        assert as_utc(held.next_attempt_at) == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
        assert provider_api.requests == []

        clock.now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
        [request] = provider_api.wait_for(1)
        assert request.form()["Body"].startswith("Order #1042 is out for delivery.")


@pytest.fixture
def email_shop(
    email_settings: Settings, orders: Engine, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[httpx.Client, Shop]]:
    """The email channel on loopback (replies and updates to ``smtp_server``), links under the public URL."""
    settings = email_settings.model_copy(update={"public_url": PUBLIC_BASE_URL})
    with serve(settings, orders, clock) as http:
        shop = Shop(settings, tmp_path, clock, monkeypatch)
        for name, value in {
            "LUMEN_SMTP_HOST": settings.smtp_host,
            "LUMEN_SMTP_PORT": str(settings.smtp_port),
            "LUMEN_SMTP_STARTTLS": "false",
            "LUMEN_EMAIL_FROM": settings.email_from,
            "LUMEN_PUBLIC_URL": PUBLIC_BASE_URL,
        }.items():
            monkeypatch.setenv(name, value)
        yield http, shop


def test_an_email_subscription_gets_a_threaded_update_whose_one_click_link_stops_the_next(
    email_shop, smtp_server, orders
):
    http, shop = email_shop
    send_raw(http, shopper_email("Where is my order?"))
    [answer] = answers(smtp_server)
    assert "Want me to message you here" in body_text(answer.message)
    yes = shopper_email("Yes please")
    send_raw(http, yes)
    assert "STOP UPDATES" in body_text(answers(smtp_server, 2)[1].message)

    assert shop.imports("out_for_delivery") == 0

    update = answers(smtp_server, 3)[2].message
    assert body_text(update).startswith("Order #1042 is out for delivery.")
    assert update["In-Reply-To"] == yes["Message-ID"]
    assert update["Auto-Submitted"] == "auto-generated"
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(update["List-Unsubscribe"]).strip("<>")
    assert link.startswith(f"{PUBLIC_BASE_URL}/updates/unsubscribe/")

    stop = http.post(link.removeprefix(PUBLIC_BASE_URL), data={"List-Unsubscribe": "One-Click"})
    assert stop.status_code == 200
    assert subscription_status(orders) == "stopped"
    assert shop.imports("delivered") == 0
    assert len(smtp_server.received) == 3
