"""SMS and WhatsApp text: GSM-7 transliteration, segment arithmetic, rendering within a budget."""

from __future__ import annotations

import re
import string
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sms_text import gsm7_length, is_gsm7, render_sms, render_whatsapp, segment_count, to_gsm7
from lumen_bot.domain.messages import Part, Reply, ReplyKind
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.domain.replies import greeting, order_answer
from lumen_bot.domain.speech import Speech
from lumen_bot.domain.understanding import Intent
from tests.conftest import ENGLISH, VOICES

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 28)
SPEECH = st.sampled_from(list(VOICES.values()))
DUE = date(2026, 12, 1)
WORD_JOINER = "\u2060"
REALISTIC = (
    ("UPS", "1Z999AA10123456784"),
    ("FedEx", "449044304137821"),
    ("USPS", "9400111899223197428490"),
    ("DHL Express", "JD014600006281230070"),
)
LONG_CARRIER = "Deutsche Post DHL Group Paket International Express Worldwide"


def shipment(carrier: str | None, tracking: str | None, **fields: object) -> Shipment:
    url = (
        f"https://track.example.com/parcels/{tracking}?utm_source=lumen&utm_medium=sms" if tracking else None
    )
    defaults: dict[str, object] = {
        "status": OrderStatus.SHIPPED,
        "tracking_url": url,
        "estimated_delivery": DUE,
    }
    return Shipment(carrier=carrier, tracking_number=tracking, **{**defaults, **fields})


def order(*shipments: Shipment, status: OrderStatus = OrderStatus.SHIPPED) -> Order:
    return Order(number="1042", email="jane@example.com", status=status, shipments=shipments)


def answer(an_order: Order, question: Intent = Intent.TRACKING, not_arrived: bool = False) -> Reply:
    return order_answer(ENGLISH, an_order, question, not_arrived, TODAY)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# GSM-7 transliteration


def test_characters_of_the_gsm7_alphabet_are_kept():
    text = "é è ù ì ò Ç Ø ø Å å Ä Ö Ñ Ü ä ö ñ ü à É Æ æ ß £ ¥ § ¿ ¡ @ $ ¤ _ Δ Φ Γ Λ Ω Π Ψ Σ Θ Ξ"
    assert to_gsm7(text) == text


def test_characters_of_the_extension_table_are_kept():
    assert to_gsm7("^ { } \\ [ ~ ] | €") == "^ { } \\ [ ~ ] | €"


def test_curly_quotes_become_straight_quotes():
    assert to_gsm7("\u201cWhere\u2019s \u2018my\u2019 parcel?\u201d") == "\"Where's 'my' parcel?\""


def test_en_and_em_dashes_become_hyphens():
    assert to_gsm7("Mon\u2013Fri \u2014 or later") == "Mon-Fri - or later"


def test_an_ellipsis_becomes_three_dots():
    assert to_gsm7("Wait…") == "Wait..."


def test_non_breaking_and_other_spaces_become_plain_spaces():
    assert to_gsm7("12\u00a0kg\u2009in\u202fa\u3000box") == "12 kg in a box"


def test_accented_letters_outside_gsm7_lose_their_accents():
    assert to_gsm7("Łódź Győr Čačak Rīga") == "Lodz Gyor Cacak Riga"


def test_decomposed_accents_that_gsm7_has_are_kept_composed():
    assert to_gsm7("Cafe\u0301") == "Café"


def test_other_scripts_are_transliterated():
    assert to_gsm7("Привет") == "Privet"
    assert to_gsm7("東京") == "DongJing"
    assert to_gsm7("Αθήνα") == "Athina"


def test_emoji_are_dropped_rather_than_named():
    assert to_gsm7("Shipped 📦🚚 today 👍🏽!") == "Shipped today !"


def test_flags_are_dropped():
    assert to_gsm7("Made in 🇩🇪 with ❤️") == "Made in with"


def test_symbols_with_a_text_form_are_spelled_out():
    assert to_gsm7("Acme™ ½ price") == "AcmeTM 1/2 price"


def test_the_backtick_becomes_an_apostrophe():
    assert to_gsm7("`quoted`") == "'quoted'"


def test_whitespace_is_tidied_after_transliteration():
    assert to_gsm7("  Hello 👋  \n\n\n\n there  ") == "Hello\n\nthere"


def test_control_characters_other_than_newline_are_removed():
    assert to_gsm7("a\x00b\x07c\u200bd\r\ne\tf") == "abcd\ne f"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_comes_out_as_gsm7(text: str):
    assert is_gsm7(to_gsm7(text))


# Segment arithmetic


@pytest.mark.parametrize(
    ("septets", "segments"), [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_segments_hold_160_septets_alone_and_153_when_concatenated(septets: int, segments: int):
    assert segment_count("a" * septets) == segments


def test_extension_characters_count_two_septets():
    assert gsm7_length("€[]") == 6
    assert gsm7_length("é") == 1


def test_eighty_extension_characters_fill_one_segment():
    assert segment_count("€" * 80) == 1
    assert segment_count("€" * 81) == 2


def test_an_extension_pair_is_not_split_across_segments():
    text = "a" * 152 + "€" + "a" * 152
    assert gsm7_length(text) == 306
    assert segment_count(text) == 3


def test_length_of_text_outside_gsm7_is_an_error():
    with pytest.raises(ValueError, match="ł"):
        gsm7_length("łódka")


# SMS rendering


def test_a_full_answer_is_sent_whole_when_it_fits():
    reply = answer(order(shipment("UPS", "1Z999AA10123456784")))
    assert render_sms([reply]) == reply.text


def test_replies_are_separated_by_a_blank_line():
    first, second = Reply.plain(ReplyKind.THANKS, "Thanks!"), Reply.plain(ReplyKind.HELP, "Ask me.")
    assert render_sms([first, second]) == "Thanks!\n\nAsk me."


def test_quick_replies_are_not_shown():
    text = render_sms([greeting(ENGLISH, "Acme")])
    assert "Talk to a person" not in text
    assert "Where's my order?" not in text


def test_sms_text_is_transliterated_to_gsm7():
    reply = answer(order(shipment("Po\u0161ta \u201cExpress\u201d \u2708\ufe0f", "RR123456785CZ")))
    text = render_sms([reply])
    assert 'Posta "Express" tracking number RR123456785CZ' in text
    assert is_gsm7(text)


def test_a_too_long_answer_uses_short_forms_and_drops_links_that_do_not_fit():
    reply = answer(order(*(shipment(c, t) for c, t in REALISTIC), status=OrderStatus.PARTIALLY_SHIPPED))
    text = render_sms([reply])
    assert segment_count(text) <= 3
    assert text.startswith(
        "Order #1042: partly shipped.\n1/4 on its way: UPS 1Z999AA10123456784, ETA Tue Dec 1"
    )
    assert "Track it" not in text
    assert "https://track.example.com/parcels/JD014600006281230070" not in text


def test_optional_parts_are_added_back_in_order_while_they_fit():
    link = Part("Track it: https://t.example/" + "a" * 60, "https://t.example/" + "a" * 60, optional=True)
    other_link = Part(
        "Track it: https://t.example/" + "b" * 60, "https://t.example/" + "b" * 60, optional=True
    )
    reply = Reply(ReplyKind.ORDER_ANSWER, (Part("x " * 100, "Order #1: shipped."), link, other_link))
    assert render_sms([reply], max_segments=1) == f"Order #1: shipped.\n{link.short}"


def test_a_four_shipment_order_fits_three_segments_in_short_form():
    reply = answer(order(*(shipment(c, t) for c, t in REALISTIC)), not_arrived=True)
    text = render_sms([reply])
    assert segment_count(text) <= 3
    assert "..." not in text
    for carrier, tracking in REALISTIC:
        assert f"{carrier} {tracking}, ETA Tue Dec 1" in text


def test_a_still_too_long_answer_shortens_carrier_names_last_first_with_an_ellipsis():
    shipments = [shipment(LONG_CARRIER, tracking) for _, tracking in REALISTIC]
    text = render_sms([answer(order(*shipments), Intent.ORDER_STATUS, not_arrived=True)])
    assert segment_count(text) <= 3
    assert f"1/4 on its way: {LONG_CARRIER} 1Z999AA10123456784, ETA Tue Dec 1" in text
    assert text.splitlines()[-1] == (
        "4/4 on its way: Deutsche Post DHL Group Paket International Express... "
        "JD014600006281230070, ETA Tue Dec 1"
    )


def test_shortening_keeps_every_tracking_number_and_date():
    shipments = [shipment(LONG_CARRIER, tracking) for _, tracking in REALISTIC]
    text = render_sms([answer(order(*shipments))], max_segments=2)
    assert segment_count(text) <= 2
    for _, tracking in REALISTIC:
        assert f" {tracking}, ETA Tue Dec 1" in text


def test_the_status_line_is_shortened_last_and_from_its_end():
    reply = answer(
        order(*(shipment(c, t) for c, t in REALISTIC), status=OrderStatus.DELIVERED), not_arrived=True
    )
    text = render_whatsapp([reply], 250)
    assert text.startswith("*Order #1042: shown as delivered. Our team...*\n1/4 on... UPS 1Z999AA10123456784")


def test_shipments_beyond_the_budget_are_left_off_whole_after_an_ellipsis():
    shipments = [shipment(LONG_CARRIER, f"{tracking}{n}") for n in range(3) for _, tracking in REALISTIC]
    text = render_sms([answer(order(*shipments))])
    assert segment_count(text) <= 3
    assert text.endswith("\n...")
    for line in text.splitlines()[1:-1]:
        assert re.fullmatch(r"\d+/12 on[ .\w]*\.\.\. \w+, ETA Tue Dec 1", line)


def test_a_long_plain_reply_is_cut_on_a_word_boundary():
    text = render_sms([Reply.plain(ReplyKind.HELP, "word " * 100)], max_segments=1)
    assert text == "word " * 30 + "word..."


def test_a_single_word_longer_than_the_budget_is_cut_inside():
    text = render_sms([Reply.plain(ReplyKind.HELP, "x" * 200)], max_segments=1)
    assert text == "x" * 157 + "..."


def test_there_must_be_room_for_one_segment():
    with pytest.raises(ValueError):
        render_sms([greeting(ENGLISH, "Acme")], max_segments=0)


# WhatsApp rendering


def test_whatsapp_leads_an_order_answer_in_bold():
    text = render_whatsapp([answer(order(shipment("UPS", "1Z999AA10123456784")))], 1600)
    assert text.startswith("*Here's the tracking for order #1042:*\nUPS tracking number 1Z999AA10123456784")


def test_whatsapp_does_not_bold_other_replies():
    assert not render_whatsapp([greeting(ENGLISH, "Acme")], 1600).startswith("*")


def test_whatsapp_markup_characters_in_the_data_are_neutralised_with_word_joiners():
    text = render_whatsapp([answer(order(shipment("*Fast*_Post_ ~x~ `y`", "1Z999AA10123456784")))], 1600)
    wj = WORD_JOINER
    assert f"\n{wj}*{wj}Fast{wj}*{wj}{wj}_{wj}Post{wj}_{wj} {wj}~{wj}x{wj}~{wj} {wj}`{wj}y{wj}`{wj} " in text


def test_whatsapp_links_are_left_as_they_are():
    url = "https://t.example/track?id=A_B*C~D"
    reply = answer(order(shipment("UPS", "1Z999AA10123456784", tracking_url=url)))
    assert f"Track it: {url}" in render_whatsapp([reply], 1600).splitlines()


def test_whatsapp_keeps_emoji_and_accents():
    assert render_whatsapp([Reply.plain(ReplyKind.THANKS, "Merci, Zoë 🙏")], 1600) == "Merci, Zoë 🙏"


def test_whatsapp_over_the_limit_uses_short_forms_in_bold():
    reply = answer(order(*(shipment(c, t) for c, t in REALISTIC), status=OrderStatus.PARTIALLY_SHIPPED))
    text = render_whatsapp([reply], 400)
    assert utf16_length(text) <= 400
    assert text.startswith("*Order #1042: partly shipped.*\n1/4 on its way: UPS 1Z999AA10123456784")


def test_whatsapp_counts_emoji_as_two_characters():
    text = render_whatsapp([Reply.plain(ReplyKind.THANKS, "🙏 " * 20)], 20)
    assert utf16_length(text) <= 20
    assert text == "🙏 " * 5 + "🙏..."


# Properties over random orders

TRACKING = st.text(string.ascii_letters + string.digits, min_size=8, max_size=30)
TRACKING_WITH_DIGIT = st.tuples(
    st.text(string.ascii_uppercase + string.digits, max_size=15),
    st.sampled_from(string.digits),
    st.text(string.ascii_uppercase + string.digits, min_size=7, max_size=14),
).map("".join)
URL_CHARACTERS = string.ascii_letters + string.digits + "-._~/?#[]@!$&'()*+,;=%"
URLS = st.builds(
    lambda scheme, rest: f"{scheme}://{rest}",
    st.sampled_from(["http", "https"]),
    st.text(URL_CHARACTERS, min_size=1, max_size=190),
)
DATES = st.none() | st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
STATUSES = st.sampled_from(list(OrderStatus))
NUMBERS = st.text(string.digits + string.ascii_uppercase, min_size=1, max_size=10)
GSM_LETTERS = st.text(string.ascii_letters + "ÄÖÑÜäöñüàéèùìòÇØøÅåÆæßÉ ", max_size=20)
# Carrier names long enough that four of them usually need shortening, in words of at most ten letters
# that transliterate to at most twice their length and to no digit (a word with a digit is a fact, kept
# whole): four shortened lines then always fit.
LONG_LATIN_NAMES = st.lists(
    st.text(st.characters(categories=("Lu", "Ll"), max_codepoint=0x24F), min_size=6, max_size=10).filter(
        lambda word: not any(ch.isdigit() for ch in to_gsm7(word))
    ),
    min_size=8,
    max_size=10,
).map(" ".join)
# "Z9" starts no word of the replies' templates, so a word starting with it (not an order number after "#")
# comes from a tracking number.
MARKED_TRACKING = st.text(string.ascii_uppercase + string.digits, min_size=6, max_size=28).map("Z9".__add__)


def shipments(
    carriers: st.SearchStrategy[str | None], tracking: st.SearchStrategy[str | None]
) -> st.SearchStrategy[Shipment]:
    return st.builds(
        Shipment,
        status=STATUSES,
        carrier=carriers,
        tracking_number=tracking,
        tracking_url=st.none() | URLS,
        estimated_delivery=DATES,
    )


def orders(
    carriers: st.SearchStrategy[str | None],
    tracking: st.SearchStrategy[str | None],
    min_shipments: int = 0,
    max_shipments: int = 4,
) -> st.SearchStrategy[Order]:
    return st.builds(
        Order,
        number=NUMBERS,
        email=st.just("shopper@example.com"),
        status=STATUSES,
        shipments=st.lists(shipments(carriers, tracking), min_size=min_shipments, max_size=max_shipments).map(
            tuple
        ),
    )


QUESTIONS = st.sampled_from(list(Intent))


def essential_short_lines(reply: Reply) -> str:
    return "\n".join(
        to_gsm7(part.text if part.short is None else part.short) for part in reply.parts if not part.optional
    )


def assert_tracking_numbers_intact(an_order: Order, text: str) -> None:
    for each in an_order.shipments:
        if each.tracking_number:
            assert re.search(rf"\b{each.tracking_number}\b", text)


@settings(max_examples=300, deadline=None)
@given(orders(st.none() | st.text(max_size=60), st.none() | TRACKING), QUESTIONS, st.booleans(), SPEECH)
def test_any_order_answer_in_any_language_is_gsm7_in_at_most_three_segments(
    an_order: Order, question: Intent, not_arrived: bool, say: Speech
):
    text = render_sms([order_answer(say, an_order, question, not_arrived, TODAY)])
    assert is_gsm7(text)
    assert segment_count(text) <= 3


@settings(max_examples=100, deadline=None)
@given(
    orders(st.text(string.ascii_lowercase + " ", min_size=20, max_size=60), MARKED_TRACKING, 4, 12),
    QUESTIONS,
    st.booleans(),
    st.integers(1, 3),
)
def test_many_shipments_stay_within_the_budget_without_a_cut_tracking_number(
    an_order: Order, question: Intent, not_arrived: bool, max_segments: int
):
    text = render_sms([order_answer(ENGLISH, an_order, question, not_arrived, TODAY)], max_segments)
    assert segment_count(text) <= max_segments
    numbers = {each.tracking_number for each in an_order.shipments}
    for word in re.findall(r"(?<![#\w])Z9\w*", text):
        assert word in numbers


@settings(max_examples=300, deadline=None)
@given(orders(st.none() | st.text(max_size=20), TRACKING), QUESTIONS, st.booleans(), SPEECH)
def test_tracking_numbers_are_intact_whenever_the_short_lines_fit(
    an_order: Order, question: Intent, not_arrived: bool, say: Speech
):
    reply = order_answer(say, an_order, question, not_arrived, TODAY)
    if segment_count(essential_short_lines(reply)) <= 3:
        assert_tracking_numbers_intact(an_order, render_sms([reply]))


@settings(max_examples=300, deadline=None)
@given(orders(st.none() | GSM_LETTERS, TRACKING), QUESTIONS, st.booleans(), SPEECH)
def test_short_lines_of_up_to_four_shipments_with_short_carriers_always_fit_in_every_language(
    an_order: Order, question: Intent, not_arrived: bool, say: Speech
):
    reply = order_answer(say, an_order, question, not_arrived, TODAY)
    assert segment_count(essential_short_lines(reply)) <= 3


@settings(max_examples=200, deadline=None)
@given(orders(LONG_LATIN_NAMES, TRACKING_WITH_DIGIT, min_shipments=4), QUESTIONS, st.booleans())
def test_shortening_long_carrier_names_keeps_every_tracking_number(
    an_order: Order, question: Intent, not_arrived: bool
):
    assert_tracking_numbers_intact(
        an_order, render_sms([order_answer(ENGLISH, an_order, question, not_arrived, TODAY)])
    )


@settings(max_examples=200, deadline=None)
@given(
    orders(st.none() | st.text(max_size=60), st.none() | TRACKING),
    QUESTIONS,
    st.booleans(),
    st.integers(1, 1600),
)
def test_whatsapp_never_exceeds_its_limit(an_order: Order, question: Intent, not_arrived: bool, limit: int):
    text = render_whatsapp([order_answer(ENGLISH, an_order, question, not_arrived, TODAY)], limit)
    assert utf16_length(text) <= limit


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(exclude_characters=":"), max_size=80))
def test_whatsapp_markup_characters_are_always_flanked_by_word_joiners(text: str):
    rendered = render_whatsapp([Reply.plain(ReplyKind.UNKNOWN, text)], 4096)
    for match in re.finditer(r"[*_~`]", rendered):
        before, after = rendered[match.start() - 1 : match.start()], rendered[match.end() : match.end() + 1]
        assert before == after == WORD_JOINER


def test_every_reply_template_in_every_language_is_gsm7_in_at_most_three_segments():
    # scripts/sms_segments.py renders each template with long realistic values and realistic orders.
    result = subprocess.run(
        [sys.executable, "scripts/sms_segments.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("language", list(VOICES))
@pytest.mark.parametrize("max_segments", [1, 2, 3])
def test_a_short_date_is_never_cut_in_any_language(language: str, max_segments: int):
    say = VOICES[language]
    parcels = [shipment(LONG_CARRIER, f"JD01460000628123{index}") for index in range(4)]
    text = render_sms(
        [order_answer(say, order(*parcels), Intent.DELIVERY_ESTIMATE, False, TODAY)], max_segments
    )

    whole = to_gsm7(say.short_date(DUE))
    weekday = whole.split()[0]
    starts = [match.start() for match in re.finditer(rf"(?<!\w){re.escape(weekday)}(?!\w)", text)]
    assert starts
    assert all(text.startswith(whole, start) for start in starts)
