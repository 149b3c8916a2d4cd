#!/usr/bin/env python3
"""Benchmark: how fast the shop owner's dashboard overview renders on PostgreSQL at scale.

The acceptance target is an overview page within 300 ms with 100,000 conversations and 1,000,000
messages. This script makes a scratch database on the given PostgreSQL server (dropped afterwards),
creates the schema the way the app does (``store.database.prepare_schema``, through ``make_engine``),
fills it with synthetic but realistically shaped data (channels, outcomes, verifications, the offline
model and the LLM, tickets, the outbox, proactive updates), spread over the last ``--days`` days, and runs
``VACUUM ANALYZE`` as autovacuum would have by then. Then, for each period (today, 7 days, 30 days), it
times:

(a) the query layer alone: ``SqlStats.overview`` on an engine made as the app makes it;
(b) the whole page: the real app (``create_app``) served by uvicorn on a loopback port, logged in over
    HTTP as the owner is, and ``GET /admin?period=…`` timed from the client (rendering, charts, the
    network round trip included).

The first 30-day overview rolls up the period's days that are over (``store/stats.py``); it is timed on
its own, once, before the warm-ups. It reports medians and p95s as a Markdown table, and whether every
page median is within the target. With ``--explain`` it also prints ``EXPLAIN (ANALYZE, BUFFERS)`` of
every statement the 30-day overview runs, and ranks them by execution time, to show where the time goes.

A shared machine speeds up and slows down: run it twice before trusting a number near the target.

    scripts/bench_dashboard.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
                               [--conversations 100000] [--messages 1000000] [--days 90]
                               [--repeat 20] [--timezone UTC] [--explain] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from loopback import serve
from pydantic import SecretStr
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from channels.app import create_app
from lumen_bot.domain.stats import Period, Prices, window
from lumen_bot.settings import Settings
from lumen_bot.store.database import Database, make_engine
from lumen_bot.store.stats import SqlStats

TARGET_MS = 300.0
WARM_UPS = 2
# The same draws on every run, so two runs compare like with like.
SEED = 0.4242
TICKET_SHARE = 0.05
OUTBOUND_SHARE = 0.20
# Of the verified conversations: about 3 % of all, a few thousand subscriptions at the default size.
SUBSCRIPTION_SHARE = 0.10


# ---- the data ----------------------------------------------------------------------------------------
# Every step is one INSERT … SELECT over generate_series on the server: no row crosses the network, and
# 1M messages take seconds rather than the minutes a client-side loop would. Random draws that more than
# one column depends on are made in a MATERIALIZED CTE, so each row draws once.

_PLAN = """
CREATE TEMP TABLE plan ON COMMIT DROP AS
WITH drawn AS MATERIALIZED (
    SELECT %(now)s::timestamptz - random() * %(span)s::float8 * interval '1 second' AS started_at,
           random() AS channel_draw, 0.5 + random() AS weight, random() AS verify_draw,
           random() AS position_draw, random() AS ticket_draw, random() AS outbound_draw,
           random() AS subscription_draw
    FROM generate_series(1, %(conversations)s::int)
), numbered AS (
    -- Ids in time order, as a live shop's would be; messages split by weight (5 to 15 each at the
    -- default sizes), the running total rounded, so they add up to exactly --messages.
    SELECT row_number() OVER (ORDER BY started_at)::int AS id, *,
           round(sum(weight) OVER (ORDER BY started_at ROWS UNBOUNDED PRECEDING)
                 * %(messages)s::float8 / sum(weight) OVER ())::int AS upto
    FROM drawn
), counted AS (
    SELECT *, upto - coalesce(lag(upto) OVER (ORDER BY id), 0) AS messages FROM numbered
)
SELECT id, started_at,
       CASE WHEN channel_draw < 0.50 THEN 'web' WHEN channel_draw < 0.75 THEN 'sms'
            WHEN channel_draw < 0.90 THEN 'whatsapp' ELSE 'email' END AS channel,
       messages,
       CASE WHEN verify_draw < 0.30 THEN 'passed' WHEN verify_draw < 0.38 THEN 'failed'
            WHEN verify_draw < 0.39 THEN 'locked' END AS verification,
       1 + floor(position_draw * messages)::int AS verify_at,
       -- Every message within the hour after the conversation starts.
       (3500.0 / greatest(messages, 1)) * interval '1 second' AS spacing,
       ticket_draw < %(ticket_share)s::float8 AS ticketed,
       outbound_draw < %(outbound_share)s::float8 AS outbound,
       outbound_draw,
       subscription_draw < %(subscription_share)s::float8 AS subscribed
FROM counted;
ANALYZE plan;
"""

_CONVERSATIONS = """
INSERT INTO conversations (id, channel, key, state, version, created_at, updated_at)
SELECT id, channel,
       CASE channel WHEN 'web' THEN 'web-' || md5(id::text)
                    WHEN 'sms' THEN '+1555' || lpad(id::text, 7, '0')
                    WHEN 'whatsapp' THEN '+4477' || lpad(id::text, 7, '0')
                    ELSE 'shopper' || id || '@example.com' END,
       '{}', messages, started_at, least(started_at + messages * spacing, %(now)s::timestamptz)
FROM plan ORDER BY id;
SELECT setval(pg_get_serial_sequence('conversations', 'id'), (SELECT max(id) FROM conversations));
"""

_MESSAGES = """
INSERT INTO messages (conversation_id, channel, provider_message_id, text, intent, replies, raw,
                      received_at, understander, tokens_in, tokens_out, reply_ms, outcome, verification)
WITH drawn AS MATERIALIZED (
    SELECT p.id, p.channel, k,
           CASE WHEN k = p.verify_at THEN p.verification END AS verification,
           least(p.started_at + (k - 1 + random() * 0.9) * p.spacing, %(now)s::timestamptz) AS received_at,
           random() AS outcome_draw, random() AS understander_draw,
           random() AS size_draw, random() AS answer_draw, random() AS time_draw
    FROM plan p CROSS JOIN LATERAL generate_series(1, p.messages) AS k
), shaped AS (
    SELECT *,
           CASE verification WHEN 'passed' THEN 'order_answer' WHEN 'failed' THEN 'not_verified'
                             WHEN 'locked' THEN 'locked'
                ELSE CASE WHEN outcome_draw < 0.35 THEN 'order_answer'
                          WHEN outcome_draw < 0.47 THEN 'ask_order_number'
                          WHEN outcome_draw < 0.57 THEN 'ask_email'
                          WHEN outcome_draw < 0.62 THEN 'not_verified'
                          WHEN outcome_draw < 0.63 THEN 'locked'
                          WHEN outcome_draw < 0.68 THEN 'escalated'
                          WHEN outcome_draw < 0.83 THEN 'greeting'
                          ELSE 'unknown' END END AS outcome,
           CASE WHEN understander_draw < 0.90 THEN 'model' ELSE 'llm' END AS understander
    FROM drawn
)
SELECT id, channel,
       CASE WHEN channel = 'web' THEN NULL ELSE channel || '-' || id || '-' || k END,
       'Synthetic message ' || k,
       CASE outcome WHEN 'order_answer' THEN 'order_status' WHEN 'ask_order_number' THEN 'order_status'
                    WHEN 'ask_email' THEN 'provide_details' WHEN 'not_verified' THEN 'provide_details'
                    WHEN 'locked' THEN 'provide_details' WHEN 'escalated' THEN 'human'
                    WHEN 'greeting' THEN 'greeting' ELSE 'unknown' END,
       '[]', NULL, received_at, understander,
       CASE WHEN understander = 'llm' THEN 100 + floor(size_draw * 101)::int ELSE 0 END,
       CASE WHEN understander = 'llm' THEN 10 + floor(answer_draw * 21)::int ELSE 0 END,
       CASE WHEN understander = 'llm' THEN 800 + floor(time_draw * 2201)::int
            ELSE 1 + floor(time_draw * 5)::int END,
       outcome, verification
FROM shaped
-- Inserted in time order, as a live shop writes them: the heap and ids follow received_at.
ORDER BY received_at;
"""

_CONVERSATION_ORDERS = """
INSERT INTO conversation_orders (conversation_id, order_number, email_digest, verified_at)
SELECT id, 'BN' || lpad(id::text, 6, '0'), encode(sha256(('shopper' || id || '@example.com')::bytea), 'hex'),
       least(started_at + (verify_at - 1) * spacing, %(now)s::timestamptz)
FROM plan WHERE verification = 'passed' ORDER BY 4;
"""

_TICKETS = """
INSERT INTO tickets (reference, conversation_id, channel, category, order_number, contact, summary, language,
                     transcript, requests, status, created_at, updated_at, closed_at, dispatched_at)
WITH drawn AS MATERIALIZED (
    SELECT p.id, p.channel, p.verification,
           least(p.started_at + random() * interval '3600 seconds', %(now)s::timestamptz) AS created_at,
           random() AS category_draw, random() AS status_draw
    FROM plan p WHERE p.ticketed
)
SELECT 'LUM-' || upper(lpad(to_hex(id), 6, '0')), id, channel,
       (ARRAY['refund', 'cancel', 'address_change', 'damaged', 'human'])[1 + floor(category_draw * 5)::int],
       CASE WHEN verification = 'passed' THEN 'BN' || lpad(id::text, 6, '0') END,
       CASE WHEN channel = 'web' THEN NULL ELSE 'shopper' || id || '@example.com' END,
       'Synthetic ticket: the shopper asked the team for help with their order.', 'en', '[]', 1,
       CASE WHEN status_draw < 0.25 THEN 'open' ELSE 'closed' END,
       created_at, NULL,
       CASE WHEN status_draw >= 0.25 THEN least(created_at + interval '1 day', %(now)s::timestamptz) END,
       created_at + interval '2 seconds'
FROM drawn ORDER BY created_at;
"""

# Pending messages are due again later than the benchmark runs (a retry's backoff), so the app's outbox
# loop, which runs while the page is timed, leaves the data as it was filled.
_DELIVERY_COLUMNS = """
       CASE WHEN status_draw < 0.92 THEN 'sent' WHEN status_draw < 0.97 THEN 'failed' ELSE 'pending' END,
       CASE WHEN status_draw < 0.92 THEN 1 WHEN status_draw < 0.97 THEN 8 ELSE 2 END,
       CASE WHEN status_draw < 0.97 THEN created_at
            ELSE %(now)s::timestamptz + interval '1 hour' END,
       CASE WHEN status_draw >= 0.92 AND status_draw < 0.97 THEN 'HTTP 503 from the provider' END,
       CASE WHEN status_draw < 0.92 THEN 'out-' || md5(random()::text) END,
       created_at,
       CASE WHEN status_draw < 0.92 THEN created_at + interval '1 second' END
"""

_SHOPPER_OUTBOUND = f"""
INSERT INTO outbound_messages (channel, sender, recipient, body, status, attempts, next_attempt_at,
                               last_error, provider_message_id, created_at, sent_at, ticket_reference)
WITH drawn AS MATERIALIZED (
    SELECT p.id, p.channel,
           least(p.started_at + random() * interval '3600 seconds', %(now)s::timestamptz) AS created_at,
           random() AS status_draw
    FROM plan p CROSS JOIN LATERAL generate_series(1, 1 + floor(p.outbound_draw * 10)::int) AS k
    WHERE p.outbound
)
SELECT CASE channel WHEN 'sms' THEN 'twilio' WHEN 'whatsapp' THEN 'whatsapp_cloud' ELSE 'smtp' END,
       CASE WHEN channel IN ('sms', 'whatsapp') THEN '+15550000000' ELSE 'shop@example.com' END,
       CASE WHEN channel = 'sms' THEN '+1555' || lpad(id::text, 7, '0')
            WHEN channel = 'whatsapp' THEN '+4477' || lpad(id::text, 7, '0')
            ELSE 'shopper' || id || '@example.com' END,
       'Synthetic reply to the shopper.',
       {_DELIVERY_COLUMNS},
       NULL
FROM drawn ORDER BY created_at;
"""

_TICKET_OUTBOUND = f"""
INSERT INTO outbound_messages (channel, sender, recipient, body, status, attempts, next_attempt_at,
                               last_error, provider_message_id, created_at, sent_at, ticket_reference)
WITH drawn AS MATERIALIZED (
    SELECT reference, dispatched_at AS created_at, random() AS status_draw FROM tickets
)
SELECT 'ticket_webhook', 'webhook', reference, '{{"ticket": "' || reference || '"}}',
       {_DELIVERY_COLUMNS},
       reference
FROM drawn ORDER BY created_at;
"""

_SUBSCRIPTIONS = """
INSERT INTO update_subscriptions (conversation_id, order_number, channel, address, shop_address, language,
                                  status, unsubscribe_token, created_at, ends_at, ended_at)
WITH drawn AS MATERIALIZED (
    SELECT p.id, p.channel,
           least(p.started_at + p.verify_at * p.spacing, %(now)s::timestamptz) AS created_at,
           random() AS status_draw
    FROM plan p WHERE p.verification = 'passed' AND p.subscribed
), decided AS (
    SELECT *,
           CASE WHEN created_at + interval '30 days' <= %(now)s::timestamptz
                THEN CASE WHEN status_draw < 0.8 THEN 'settled' ELSE 'expired' END
                ELSE CASE WHEN status_draw < 0.6 THEN 'active' WHEN status_draw < 0.9 THEN 'settled'
                          ELSE 'stopped' END END AS status
    FROM drawn
)
SELECT id, 'BN' || lpad(id::text, 6, '0'), CASE WHEN channel = 'web' THEN 'email' ELSE channel END,
       CASE WHEN channel = 'sms' THEN '+1555' || lpad(id::text, 7, '0')
            WHEN channel = 'whatsapp' THEN '+4477' || lpad(id::text, 7, '0')
            ELSE 'shopper' || id || '@example.com' END,
       NULL, 'en', status, md5('unsubscribe-' || id), created_at, created_at + interval '30 days',
       CASE status WHEN 'active' THEN NULL WHEN 'expired' THEN created_at + interval '30 days'
                   ELSE least(created_at + (1 + status_draw * 5) * interval '1 day', %(now)s::timestamptz) END
FROM decided ORDER BY created_at;
"""

# Each queued notice's outbox row takes its id from the outbox's own sequence first, so the notice can
# point at it (update_notices.outbound_id) without a round trip per row.
_NOTICE_PLAN = """
CREATE TEMP TABLE notice_plan ON COMMIT DROP AS
WITH drawn AS MATERIALIZED (
    SELECT s.id AS subscription_id, s.channel, s.address, s.order_number, k,
           least(s.created_at + k * interval '1 day' + random() * interval '12 hours',
                 %(now)s::timestamptz) AS created_at,
           random() AS notice_draw, random() AS status_draw
    FROM update_subscriptions s CROSS JOIN LATERAL generate_series(1, 1 + s.id %% 3) AS k
)
SELECT *,
       CASE WHEN notice_draw < 0.9
            THEN nextval(pg_get_serial_sequence('outbound_messages', 'id')::regclass) END AS outbound_id
FROM drawn;
"""

_NOTICE_OUTBOUND = f"""
INSERT INTO outbound_messages (id, channel, sender, recipient, body, status, attempts, next_attempt_at,
                               last_error, provider_message_id, created_at, sent_at, ticket_reference)
SELECT outbound_id,
       CASE channel WHEN 'sms' THEN 'twilio' WHEN 'whatsapp' THEN 'whatsapp_cloud' ELSE 'smtp' END,
       CASE WHEN channel IN ('sms', 'whatsapp') THEN '+15550000000' ELSE 'shop@example.com' END,
       address, 'Shipping update: order ' || order_number || ' moved.',
       {_DELIVERY_COLUMNS},
       NULL
FROM notice_plan WHERE outbound_id IS NOT NULL ORDER BY created_at;
"""

_NOTICES = """
INSERT INTO update_notices (subscription_id, shipment_key, event, status, detail, outbound_id, created_at)
SELECT subscription_id, order_number || '#1',
       (ARRAY['shipped', 'in_transit', 'out_for_delivery', 'delivered'])[k],
       CASE WHEN outbound_id IS NOT NULL THEN 'queued' WHEN notice_draw < 0.97 THEN 'known'
            ELSE 'skipped' END,
       CASE WHEN outbound_id IS NULL AND notice_draw >= 0.97 THEN 'no WhatsApp template' END,
       outbound_id, created_at
FROM notice_plan ORDER BY created_at;
"""

_STEPS = (
    ("plan", _PLAN),
    ("conversations", _CONVERSATIONS),
    ("messages", _MESSAGES),
    ("conversation_orders", _CONVERSATION_ORDERS),
    ("tickets", _TICKETS),
    ("outbound (shoppers)", _SHOPPER_OUTBOUND),
    ("outbound (tickets)", _TICKET_OUTBOUND),
    ("update_subscriptions", _SUBSCRIPTIONS),
    ("notice plan", _NOTICE_PLAN),
    ("outbound (updates)", _NOTICE_OUTBOUND),
    ("update_notices", _NOTICES),
)
_COUNTED = (
    "conversations",
    "messages",
    "conversation_orders",
    "tickets",
    "outbound_messages",
    "update_subscriptions",
    "update_notices",
)


@dataclass(frozen=True)
class Fill:
    seconds: float
    vacuum_seconds: float
    steps: list[tuple[str, float]]
    rows: dict[str, int]


def fill(url: str, conversations: int, messages: int, days: int, now: datetime) -> Fill:
    """Fill the (empty, migrated) database at ``url``; the rows end at ``now``."""
    params = {
        "now": now,
        "span": days * 86400.0,
        "conversations": conversations,
        "messages": messages,
        "ticket_share": TICKET_SHARE,
        "outbound_share": OUTBOUND_SHARE,
        "subscription_share": SUBSCRIPTION_SHARE,
    }
    steps: list[tuple[str, float]] = []
    started = time.perf_counter()
    with psycopg.connect(url) as connection:
        # A bulk load, not a shopper's request: room to sort 1M rows in memory, and no time limit.
        connection.execute("SET LOCAL work_mem = '256MB'")
        connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
        connection.execute("SET LOCAL statement_timeout = 0")
        connection.execute("SELECT setseed(%s)", (SEED,))
        for name, script in _STEPS:
            step_started = time.perf_counter()
            with connection.cursor() as cursor:
                # One statement per execute: psycopg binds parameters server-side, one statement at a time.
                for statement in _statements(script):
                    cursor.execute(statement, params if "%(" in statement else None)
            steps.append((name, time.perf_counter() - step_started))
        connection.commit()
    filled = time.perf_counter() - started
    vacuum_started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        # As autovacuum would have by now: statistics for the planner, and a visibility map that lets the
        # dashboard's counts be index-only scans without visiting the heap.
        connection.execute("SET statement_timeout = 0")
        connection.execute("VACUUM ANALYZE")
        rows = {table: _scalar(connection, f"SELECT count(*) FROM {table}") for table in _COUNTED}
    return Fill(filled, time.perf_counter() - vacuum_started, steps, rows)


def _statements(script: str) -> list[str]:
    """The statements of ``script``, split at the semicolons that end a line (none occurs inside one)."""
    return [part.strip() for part in re.split(r";\s*\n", script + "\n") if part.strip()]


def _scalar(connection: psycopg.Connection[Any], query: str, params: Any = None) -> Any:
    row = connection.execute(query, params).fetchone()
    if row is None:
        raise RuntimeError(f"no row from {query}")
    return row[0]


# ---- the scratch database ------------------------------------------------------------------------------
@contextlib.contextmanager
def scratch_database(server_url: str, keep: bool) -> Iterator[str]:
    """A new database on the server of ``server_url`` (any database there), as a ``postgresql://`` URL;
    dropped afterwards unless ``keep``."""
    server = make_url(server_url).set(drivername="postgresql")
    name = f"lumen_dash_{uuid.uuid4().hex[:12]}"
    admin = server.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        if keep:
            print(f"\nkept the database: {url}")
        else:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---- timing ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timings:
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    def cell(self) -> str:
        return f"{self.median:.1f} / {self.p95:.1f}"


def timed(work: Callable[[], object], repeat: int) -> Timings:
    for _ in range(WARM_UPS):
        work()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return Timings(samples)


def first_overview(engine: Engine, timezone: str) -> float:
    """Milliseconds of the first 30-day overview, which rolls up every settled day of the period (once:
    later overviews read the rollups)."""
    database = Database(engine)
    try:
        started = time.perf_counter()
        asyncio.run(SqlStats(database, Prices()).overview(window(Period.MONTH, datetime.now(UTC), timezone)))
        return (time.perf_counter() - started) * 1000
    finally:
        database.close()


def bench_queries(engine: Engine, timezone: str, repeat: int) -> dict[Period, Timings]:
    """The query layer alone, as the page calls it: ``overview`` in the database's worker threads."""
    database = Database(engine)
    stats = SqlStats(database, Prices())
    loop = asyncio.new_event_loop()
    try:
        return {
            period: timed(
                lambda period=period: loop.run_until_complete(
                    stats.overview(window(period, datetime.now(UTC), timezone))
                ),
                repeat,
            )
            for period in Period
        }
    finally:
        database.close()
        loop.close()


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def log_in(client: httpx.Client, token: str) -> None:
    """Log in as the owner does: the form's CSRF secret and its cookie, then the token."""
    form = client.get("/admin/login")
    found = _CSRF.search(form.text)
    if form.status_code != 200 or found is None:
        raise RuntimeError(f"GET /admin/login: {form.status_code}, no CSRF field\n{form.text[:2000]}")
    answer = client.post("/admin/login", data={"csrf": found.group(1), "token": token})
    if answer.status_code != 303 or answer.headers.get("location") != "/admin":
        raise RuntimeError(f"POST /admin/login: {answer.status_code}\n{answer.text[:2000]}")


@dataclass(frozen=True)
class Page:
    timings: Timings
    size: int


def bench_pages(settings: Settings, token: str, repeat: int) -> dict[Period, Page]:
    pages = {}
    with serve(create_app(settings)) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        log_in(client, token)
        for period in Period:
            sizes: list[int] = []

            def load(period: Period = period, sizes: list[int] = sizes) -> None:
                page = client.get("/admin", params={"period": period.value})
                if page.status_code != 200:
                    raise RuntimeError(
                        f"GET /admin?period={period.value}: {page.status_code} "
                        f"{page.headers.get('location', '')}\n{page.text[:2000]}"
                    )
                sizes.append(len(page.content))

            pages[period] = Page(timed(load, repeat), int(statistics.median(sizes)))
    return pages


# ---- EXPLAIN ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Explained:
    statement: str
    plan: list[str]
    execution_ms: float
    planning_ms: float


def explain(engine: Engine, timezone: str) -> list[Explained]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of each statement the 30-day overview runs, with its parameters."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        captured.append((statement, parameters))

    database = Database(engine)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        asyncio.run(SqlStats(database, Prices()).overview(window(Period.MONTH, datetime.now(UTC), timezone)))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
        database.close()
    explained = []
    with engine.connect() as connection:
        for statement, parameters in captured:
            rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = [row[0] for row in rows]
            explained.append(
                Explained(statement, plan, _plan_ms(plan, "Execution Time"), _plan_ms(plan, "Planning Time"))
            )
    return explained


def _plan_ms(plan: list[str], label: str) -> float:
    for line in plan:
        if (found := re.search(rf"{label}: ([\d.]+) ms", line)) is not None:
            return float(found.group(1))
    return math.nan


# A CASE branch per day boundary (store.stats._day_index): 30 of them in a statement, and in the plan's
# sort and group keys; one stands for the rest when printed.
_DAY_BRANCHES = [
    re.compile(rf"({branch})(?:{branch})+")
    for branch in (
        r"WHEN \(messages\.received_at < %\(\w+\)s::TIMESTAMP WITH TIME ZONE\) THEN %\(\w+\)s::INTEGER ",
        r"WHEN \(received_at < '[^']+'::timestamp with time zone\) THEN \d+ ",
    )
]


def _shorter(text: str) -> str:
    for branches in _DAY_BRANCHES:
        text = branches.sub(lambda found: found.group(1) + "… ", text)
    return text


def _headline(statement: str) -> str:
    """A statement on one line, its CASE of day boundaries shortened."""
    flat = _shorter(" ".join(statement.split()))
    return flat if len(flat) <= 300 else flat[:297] + "…"


def print_explained(explained: list[Explained]) -> None:
    print("\n## EXPLAIN (ANALYZE, BUFFERS), 30-day overview\n")
    for number, item in enumerate(explained, start=1):
        print(f"### statement {number}: {item.execution_ms:.1f} ms\n")
        print(f"    {_headline(item.statement)}\n")
        for line in item.plan:
            print(f"    {_shorter(line)}")
        print()
    print("statements by execution time:\n")
    print("| # | execution ms | planning ms | statement |")
    print("|---|---|---|---|")
    ranked = sorted(enumerate(explained, start=1), key=lambda pair: -pair[1].execution_ms)
    for number, item in ranked:
        shown = _headline(item.statement)
        print(f"| {number} | {item.execution_ms:.1f} | {item.planning_ms:.1f} | `{shown}` |")
    total = sum(item.execution_ms + item.planning_ms for item in explained)
    print(f"\nall statements, planning and execution: {total:.1f} ms")
    # EXPLAIN ANALYZE reads the clock around every row of every node, and runs each statement once, cold
    # or warm as it comes: its times rank the statements, the table above gives the real cost.
    print("(EXPLAIN ANALYZE's own per-row timing inflates these; rank by them, quote the table above)")


# ---- the report --------------------------------------------------------------------------------------
_PARALLEL = "max_parallel_workers_per_gather"


def server_facts(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as connection:
        return {
            name: str(_scalar(connection, f"SHOW {name}"))
            for name in ("server_version", "shared_buffers", "work_mem", "jit", _PARALLEL)
        }


def messages_in(url: str, timezone: str) -> dict[Period, int]:
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as connection:
        return {
            period: int(
                _scalar(
                    connection,
                    "SELECT count(*) FROM messages WHERE received_at >= %s",
                    (window(period, now, timezone).since,),
                )
            )
            for period in Period
        }


def report(
    args: argparse.Namespace,
    facts: dict[str, str],
    counts: dict[Period, int],
    rolling: float,
    queries: dict[Period, Timings],
    pages: dict[Period, Page],
    explained: list[Explained],
) -> None:
    print(
        f"\nmachine: {os.cpu_count()} cores (os.cpu_count()), PostgreSQL {facts['server_version']} "
        f"(shared_buffers {facts['shared_buffers']}, work_mem {facts['work_mem']}, jit {facts['jit']}, "
        f"{_PARALLEL} {facts[_PARALLEL]}), "
        f"Python {sys.version.split()[0]}"
    )
    print(
        f"data: {args.conversations:,} conversations, {args.messages:,} messages over {args.days} days; "
        f"timezone {args.timezone}; {args.repeat} timed runs per cell after {WARM_UPS} warm-ups\n"
    )
    print("| period | messages in period | query layer median / p95 ms | page median / p95 ms | page bytes |")
    print("|---|---|---|---|---|")
    for period in Period:
        print(
            f"| {period.value} | {counts[period]:,} | {queries[period].cell()} "
            f"| {pages[period].timings.cell()} | {pages[period].size:,} |"
        )
    print(f"\nthe first 30-day overview, rolling up its settled days once: {rolling:,.0f} ms")
    slowest = max(page.timings.median for page in pages.values())
    within = all(page.timings.median <= TARGET_MS for page in pages.values())
    verdict = "yes" if within else "NO"
    print(f"\nevery page median within {TARGET_MS:.0f} ms: {verdict} (slowest median {slowest:.1f} ms)")
    if explained:
        print_explained(explained)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        required=True,
        help="a PostgreSQL server (the URL of any database on it): the benchmark runs on a scratch database",
    )
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90, help="the conversations start over this many days")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per period (after 2 warm-ups)")
    parser.add_argument("--timezone", default="UTC", help="the shop's timezone (LUMEN_TIMEZONE)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the 30-day overview's SQL")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (prints its URL)")
    args = parser.parse_args()
    if args.conversations < 1 or args.messages < 1 or args.days < 1 or args.repeat < 1:
        parser.error("--conversations, --messages, --days and --repeat must be positive")

    with scratch_database(args.postgres, args.keep) as url:
        # The app's own way to create the schema (store.database.prepare_schema), on the app's engine.
        engine = make_engine(url)
        try:
            now = datetime.now(UTC)
            print(f"filling {args.conversations:,} conversations, {args.messages:,} messages …", flush=True)
            filled = fill(url, args.conversations, args.messages, args.days, now)
            print("\n| fill step | seconds |\n|---|---|")
            for name, seconds in filled.steps:
                print(f"| {name} | {seconds:.1f} |")
            print(f"| VACUUM ANALYZE | {filled.vacuum_seconds:.1f} |")
            print(f"\nfilled in {filled.seconds + filled.vacuum_seconds:.1f} s", end=" ")
            print(f"(inserts {filled.seconds:.1f} s, VACUUM ANALYZE {filled.vacuum_seconds:.1f} s)")
            print("rows: " + ", ".join(f"{table} {count:,}" for table, count in filled.rows.items()))

            rolling = first_overview(engine, args.timezone)
            queries = bench_queries(engine, args.timezone, args.repeat)
            token = secrets.token_urlsafe(24)
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]  # only what is set here, not a developer's .env
                database_url=url,
                admin_token=SecretStr(token),
                shop_name="Benchmark Shop",
                timezone=args.timezone,
                log_level="WARNING",
            )
            pages = bench_pages(settings, token, args.repeat)
            counts = messages_in(url, args.timezone)
            explained = explain(engine, args.timezone) if args.explain else []
            facts = server_facts(url)
            # Before the database goes (and --keep prints its URL), so the table ends the run's output.
            report(args, facts, counts, rolling, queries, pages, explained)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
