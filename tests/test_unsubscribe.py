"""The unsubscribe link of email updates works without a login: a page with a button (opening it changes
nothing), and RFC 8058's one-click POST, which stops the subscription in the database — once, however
often it is posted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from channels.app import create_app
from lumen_bot.settings import Settings
from lumen_bot.store.tables import ConversationRow, UpdateSubscriptionRow
from tests.conftest import START, Clock, LiveServer

# On SQLite only: the route is the subject; stop_by_token's SQL is tested on both databases in
# test_updates.py.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TOKEN = "Qx3v9-kLr_7bTzYwF2mNpA8sEoU1cHdJ4gViXyZ0aBk"
OTHER_TOKEN = "b1x8Ue0-JtQmP2aRz5yVcW7nLkD3gHsF9oIqA4Ew6Tk"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def subscribe(engine: Engine, token: str, key: str = "jane@example.com") -> int:
    """A conversation's active subscription to updates of order 1042 by email."""
    with Session(engine) as session:
        conversation = ConversationRow(channel="email", key=key, state="{}")
        session.add(conversation)
        session.flush()
        assert conversation.id is not None
        subscription = UpdateSubscriptionRow(
            conversation_id=conversation.id,
            order_number="1042",
            channel="email",
            address=key,
            language="en",
            unsubscribe_token=token,
            created_at=START,
            ends_at=START + timedelta(days=30),
        )
        session.add(subscription)
        session.commit()
        assert subscription.id is not None
        return subscription.id


def subscription(engine: Engine, subscription_id: int) -> UpdateSubscriptionRow:
    with Session(engine) as session:
        return session.exec(
            select(UpdateSubscriptionRow).where(UpdateSubscriptionRow.id == subscription_id)
        ).one()


def utc(moment: datetime) -> datetime:
    """A time read back from the database in UTC (SQLite gives it back without a timezone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@pytest.fixture
def http(settings: Settings, orders: Engine, clock: Clock) -> Iterator[httpx.Client]:
    with LiveServer(create_app(settings, engine=orders, clock=clock)) as client:
        yield client


def test_the_link_opens_a_page_with_a_button_and_stops_nothing(http: httpx.Client, orders: Engine) -> None:
    sid = subscribe(orders, TOKEN)
    response = http.get(f"/updates/unsubscribe/{TOKEN}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert '<form method="post">' in page
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page
    assert "Stop updates" in page
    # A mail scanner or link preview opening the link unsubscribes no one.
    assert subscription(orders, sid).status == "active"


def test_the_page_loads_nothing_from_elsewhere_and_keeps_the_token_to_itself(http: httpx.Client) -> None:
    response = http.get(f"/updates/unsubscribe/{TOKEN}")
    assert not re.search(r"<(script|link|img|iframe)\b", response.text)
    assert "http" not in response.text  # no external asset, no link out
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "form-action 'self'" in response.headers["content-security-policy"]
    assert "noindex" in response.headers["x-robots-tag"]


def test_the_one_click_post_stops_the_subscription(http: httpx.Client, orders: Engine, clock: Clock) -> None:
    sid = subscribe(orders, TOKEN)
    other = subscribe(orders, OTHER_TOKEN, key="sam@example.com")
    clock.advance(hours=3)
    response = http.post(f"/updates/unsubscribe/{TOKEN}", data=ONE_CLICK)
    assert response.status_code == 200
    assert "no more shipping updates" in response.text
    stopped = subscription(orders, sid)
    assert stopped.status == "stopped"
    assert stopped.ended_at is not None and utc(stopped.ended_at) == clock.now
    assert subscription(orders, other).status == "active"


def test_the_one_click_post_is_taken_as_multipart_form_data_too(http: httpx.Client, orders: Engine) -> None:
    sid = subscribe(orders, TOKEN)
    response = http.post(f"/updates/unsubscribe/{TOKEN}", files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert subscription(orders, sid).status == "stopped"


def test_posting_again_answers_200_and_changes_nothing(
    http: httpx.Client, orders: Engine, clock: Clock
) -> None:
    sid = subscribe(orders, TOKEN)
    http.post(f"/updates/unsubscribe/{TOKEN}", data=ONE_CLICK)
    first = subscription(orders, sid).ended_at
    clock.advance(days=1)
    again = http.post(f"/updates/unsubscribe/{TOKEN}", data=ONE_CLICK)
    assert again.status_code == 200
    assert subscription(orders, sid).ended_at == first


def test_an_unknown_token_is_not_found(http: httpx.Client, orders: Engine) -> None:
    sid = subscribe(orders, TOKEN)
    response = http.post(f"/updates/unsubscribe/{OTHER_TOKEN}", data=ONE_CLICK)
    assert response.status_code == 404
    assert "not valid" in response.text
    assert subscription(orders, sid).status == "active"


@pytest.mark.parametrize("token", ["x" * 65, "not%20a%20token", "%E2%9C%93", TOKEN[:-1] + "."])
def test_a_token_lumen_never_writes_is_not_found_without_asking_the_database(
    http: httpx.Client, token: str
) -> None:
    assert http.get(f"/updates/unsubscribe/{token}").status_code == 404
    assert http.post(f"/updates/unsubscribe/{token}", data=ONE_CLICK).status_code == 404


def test_an_oversized_body_is_refused_before_anything_is_stopped(http: httpx.Client, orders: Engine) -> None:
    sid = subscribe(orders, TOKEN)
    response = http.post(f"/updates/unsubscribe/{TOKEN}", content=b"x" * (300 * 1024))
    assert response.status_code == 413
    assert subscription(orders, sid).status == "active"


def test_an_unreachable_database_answers_503_so_the_click_is_tried_again(
    settings: Settings, unreachable: Engine, clock: Clock
) -> None:
    with LiveServer(create_app(settings, engine=unreachable, clock=clock)) as http:
        response = http.post(f"/updates/unsubscribe/{TOKEN}", data=ONE_CLICK)
    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert "try again" in response.text
