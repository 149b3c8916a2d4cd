"""The pure rules behind the dashboard's figures: what a turn counts as, the period's days in the shop's
timezone, percentiles from counts, and how a support search reads its query."""

from __future__ import annotations

from datetime import UTC, date, datetime

from lumen_bot.domain.conversation_log import search_terms
from lumen_bot.domain.engine import ConversationState, RecordFailure
from lumen_bot.domain.identifiers import email_digest
from lumen_bot.domain.messages import Part, Reply, ReplyKind
from lumen_bot.domain.orders import Order, OrderStatus
from lumen_bot.domain.stats import Period, percentile, window
from lumen_bot.domain.turn_record import (
    Verification,
    VerifiedOrder,
    newly_verified,
    outcome_of,
    verification_of,
)


def reply(kind: ReplyKind) -> Reply:
    return Reply(kind, (Part("…"),))


def test_an_order_answer_is_the_turns_outcome_whatever_follows_it():
    assert (
        outcome_of([reply(ReplyKind.ORDER_ANSWER), reply(ReplyKind.OFFER_UPDATES)]) is ReplyKind.ORDER_ANSWER
    )


def test_a_turn_without_a_headline_reply_counts_as_its_first_reply():
    assert outcome_of([reply(ReplyKind.GREETING), reply(ReplyKind.HELP)]) is ReplyKind.GREETING
    assert outcome_of([]) is None


def test_a_lockout_counts_as_locked_though_it_records_a_failure_too():
    failed = (RecordFailure("1042", "digest"),)

    assert verification_of([reply(ReplyKind.LOCKED)], failed, ()) is Verification.LOCKED
    assert verification_of([reply(ReplyKind.NOT_VERIFIED)], failed, ()) is Verification.FAILED


def test_a_turn_that_verified_an_order_passed_and_one_that_checked_nothing_has_no_verification():
    verified = (VerifiedOrder("1042", None),)

    assert verification_of([reply(ReplyKind.ORDER_ANSWER)], (), verified) is Verification.PASSED
    assert verification_of([reply(ReplyKind.ORDER_ANSWER)], (), ()) is None


def test_only_orders_new_to_the_conversation_are_newly_verified_with_the_digest_of_the_looked_up_order():
    order = Order(number="1043", email="Jane@Example.com", status=OrderStatus.SHIPPED)
    before = ConversationState(verified_orders=("1042",))
    after = ConversationState(verified_orders=("1042", "1043"))

    assert newly_verified(before, after, order) == (VerifiedOrder("1043", email_digest("jane@example.com")),)
    assert newly_verified(after, after, order) == ()


def test_a_period_is_whole_local_days_ending_today():
    seven = window(Period.WEEK, datetime(2026, 11, 28, 12, tzinfo=UTC), "UTC")

    assert seven.days == tuple(date(2026, 11, day) for day in range(22, 29))
    assert seven.since == datetime(2026, 11, 22, tzinfo=UTC)
    assert seven.until == datetime(2026, 11, 29, tzinfo=UTC)


def test_a_day_when_the_clocks_change_is_as_long_as_it_is_locally():
    # Berlin leaves summer time on 2026-10-25: that day lasts 25 hours.
    month = window(Period.MONTH, datetime(2026, 10, 30, 12, tzinfo=UTC), "Europe/Berlin")
    start = month.days.index(date(2026, 10, 25))

    assert (month.starts[start + 1] - month.starts[start]).total_seconds() == 25 * 3600
    assert month.starts[start] == datetime(2026, 10, 24, 22, tzinfo=UTC)


def test_percentiles_come_from_counted_values_by_nearest_rank():
    histogram = {1: 50, 2: 45, 900: 5}

    assert percentile(histogram, 0.5) == 1
    assert percentile(histogram, 0.95) == 2
    assert percentile(histogram, 0.96) == 900
    assert percentile({}, 0.5) is None


def test_an_email_query_is_matched_by_address_and_by_the_digest_of_verified_orders():
    terms = search_terms("  Jane.Doe@Example.com ")

    assert terms.email_digest == email_digest("jane.doe@example.com")
    assert "jane.doe@example.com" in terms.keys
    assert terms.order_number is None


def test_a_phone_number_is_matched_in_its_stored_forms_and_may_be_an_order_number_too():
    terms = search_terms("+1 (555) 010-0123")

    assert terms.keys == ("+15550100123", "15550100123")


def test_a_short_number_is_an_order_number_only():
    terms = search_terms("#1042")

    assert (terms.keys, terms.order_number) == ((), "1042")


def test_a_query_that_is_nothing_searchable_is_empty():
    assert search_terms("not@valid@address").empty
