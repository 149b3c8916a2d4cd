"""Dialogues: the verified answer — the specific question first, then every shipment's facts."""

from __future__ import annotations

from lumen_bot.domain.messages import ReplyKind
from lumen_bot.store.orders import import_file

JANE = "jane.doe@example.com"


def test_answer_has_status_carrier_tracking_number_estimate_and_link(chat):
    answer = chat(f"where is order 1042, {JANE}")
    assert "Order #1042 has shipped." in answer
    assert "UPS tracking number 1Z999AA10123456784" in answer
    assert "Tuesday, December 1" in answer
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in answer


def test_every_shipment_of_a_multi_shipment_order_is_listed(chat):
    answer = chat("order 2001 sam.lee@example.org")
    assert "Package 1 of 2" in answer and "Package 2 of 2" in answer
    assert "771234567890" in answer and "9400111899223344556677" in answer
    assert "delivered" in answer


def test_a_tracking_question_leads_with_the_tracking(chat):
    answer = chat(f"Can I get the tracking link for order 1042? {JANE}")
    assert answer.startswith("Here's the tracking for order #1042")
    assert chat.replies[0].links == ("https://www.ups.com/track?tracknum=1Z999AA10123456784",)


def test_a_when_question_leads_with_the_date(chat):
    answer = chat(f"When will order 1042 arrive? {JANE}")
    assert answer.startswith("Order #1042 should arrive by Tuesday, December 1.")
    assert answer.count("December 1") == 1


def test_a_when_question_about_a_parcel_past_its_date_says_it_is_late(chat):
    answer = chat("when will order 5005 arrive? late@example.net")
    assert answer.startswith("I'm sorry — order #5005 is running late: it was expected by Friday, Nov")


def test_an_order_without_a_shipment_says_it_has_not_shipped(chat):
    answer = chat(f"status of order 3003 {JANE}")
    assert "is being prepared and hasn't shipped yet" in answer
    assert "tracking number" not in answer


def test_tracking_for_an_unshipped_order_says_there_is_none_yet(chat):
    answer = chat(f"tracking number for order 3003 please, {JANE}")
    assert "no tracking number for it yet" in answer


def test_a_cancelled_order_says_it_was_cancelled(chat):
    answer = chat("order 6006 gone@example.net")
    assert "was cancelled" in answer


def test_a_missing_tracking_link_is_the_named_carriers_own_page(chat):
    answer = chat("order 5005 late@example.net")
    assert "Royal Mail tracking number AB123456789GB" in answer
    assert "Track it: https://www.royalmail.com/track-your-item#/tracking-results/AB123456789GB" in answer


def test_no_tracking_link_is_invented_for_a_carrier_lumen_does_not_know(chat, orders, tmp_path):
    courier = tmp_path / "courier.csv"
    courier.write_text(
        "order_number,email,status,carrier,tracking_number\n"
        "7007,sam@example.org,shipped,Speedy Couriers,SC-55501\n"
    )
    import_file(orders, courier)

    answer = chat("order 7007 sam@example.org")

    assert "Speedy Couriers tracking number SC-55501" in answer and "http" not in answer


def test_not_arrived_on_a_delivered_order_says_so_and_offers_the_team(chat):
    answer = chat("My order 4004 hasn't arrived, max@example.net")
    assert "as delivered" in answer
    assert "Talk to a person" in chat.replies[0].quick_replies


def test_not_arrived_on_a_late_order_says_it_is_late(chat):
    answer = chat("order 5005 never arrived. late@example.net")
    assert "running late" in answer
    assert "Friday, November 20" in answer


def test_not_arrived_is_remembered_while_the_email_is_asked(chat):
    chat("My order hasn't arrived")
    chat("4004")
    answer = chat("max@example.net")
    assert chat.kinds == [ReplyKind.ORDER_ANSWER]
    assert "as delivered" in answer


def test_the_question_asked_first_is_answered_after_verification(chat):
    chat("When will my order arrive?")
    chat("1042")
    assert chat(JANE).startswith("Order #1042 should arrive by")
