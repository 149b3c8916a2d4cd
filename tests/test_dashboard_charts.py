"""The admin dashboard's charts: server-rendered SVG, accessible, escaped, proportional."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET

import pytest

from channels.dashboard.charts import NO_DATA, PALETTE, horizontal_bars, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"
DAYS = ["Nov 24", "Nov 25", "Nov 26", "Nov 27", "Nov 28"]
CHANNELS = {"SMS": [3, 0, 5, 2, 1], "WhatsApp": [1, 4, 0, 2, 6], "Email": [0, 1, 2, 0, 3]}
HOSTILE = "<script>x()</script> & co"


def stacked(
    labels: list[str] | None = None, series: dict[str, list[int]] | None = None, **options: str
) -> str:
    options = {"title": "Conversations per day", "description": "By channel, last 5 days", **options}
    return stacked_bars(DAYS if labels is None else labels, CHANNELS if series is None else series, **options)


def horizontal(items: list[tuple[str, int]], **options: str) -> str:
    options = {"title": "Top questions", "description": "Most asked, this week", **options}
    return horizontal_bars(items, **options)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def by_class(root: ET.Element, tag: str, name: str) -> list[ET.Element]:
    return [element for element in root.iter(f"{SVG}{tag}") if name in element.get("class", "").split()]


def bars(root: ET.Element) -> list[list[ET.Element]]:
    """The segment rects of every bar, bar by bar."""
    return [list(group.iter(f"{SVG}rect")) for group in by_class(root, "g", "bar")]


def height(rect: ET.Element) -> float:
    return float(rect.get("height", "nan"))


def width(rect: ET.Element) -> float:
    return float(rect.get("width", "nan"))


def texts(root: ET.Element, name: str) -> list[str]:
    return [element.text or "" for element in by_class(root, "text", name)]


def numbers(svg: str) -> list[float]:
    return [float(value) for value in re.findall(r'="(-?[\d.]+(?:e-?\d+)?)"', svg)]


def both_kinds() -> list[str]:
    return [stacked(), horizontal([("Where is my order?", 12), ("Cancel", 3)])]


@pytest.mark.parametrize("svg", both_kinds(), ids=["stacked", "horizontal"])
def test_the_chart_is_one_well_formed_svg_element(svg):
    root = parse(svg)

    assert root.tag == f"{SVG}svg"
    assert root.get("class") == "chart"


@pytest.mark.parametrize("svg", both_kinds(), ids=["stacked", "horizontal"])
def test_the_chart_is_an_image_named_by_its_own_title_and_desc(svg):
    root = parse(svg)
    labelled_by = root.get("aria-labelledby", "").split()
    ids = {element.get("id"): element.tag for element in root.iter() if element.get("id")}

    assert root.get("role") == "img"
    assert [ids.get(name) for name in labelled_by] == [f"{SVG}title", f"{SVG}desc"]


def test_the_title_and_desc_carry_the_given_text():
    root = parse(stacked(title="Orders by channel", description="Daily orders, November"))

    assert root.findtext(f"{SVG}title") == "Orders by channel"
    assert root.findtext(f"{SVG}desc") == "Daily orders, November"


def test_the_ids_are_stable_for_the_same_chart_and_differ_between_charts():
    first, again = stacked(title="Orders"), stacked(title="Orders")
    other_data = stacked(title="Orders", series={"SMS": [1, 1, 1, 1, 1]})

    assert first == again
    assert parse(first).get("aria-labelledby") != parse(other_data).get("aria-labelledby")
    assert parse(first).get("aria-labelledby", "").startswith("chart-orders-")


def test_a_title_without_latin_letters_still_gets_a_valid_id():
    root = parse(stacked(title="注文"))

    title = root.find(f"{SVG}title")

    assert title is not None
    assert re.fullmatch(r"chart-[0-9a-f]{8}-title", title.get("id", ""))


@pytest.mark.parametrize(
    ("svg", "view_width"),
    [(both_kinds()[0], 640), (both_kinds()[1], 480)],
    ids=["stacked", "horizontal"],
)
def test_the_chart_scales_to_its_container_keeping_its_proportions(svg, view_width):
    root = parse(svg)

    assert root.get("width") == "100%"
    assert root.get("height") is None
    assert root.get("preserveAspectRatio") == "xMidYMid meet"
    assert root.get("viewBox", "").split()[:3] == ["0", "0", str(view_width)]


@pytest.mark.parametrize("svg", both_kinds(), ids=["stacked", "horizontal"])
def test_no_text_is_smaller_than_11_units_so_it_survives_a_phone_screen(svg):
    sizes = [float(size) for size in re.findall(r'font-size="([\d.]+)"', svg)]

    assert sizes
    assert min(sizes) >= 11


def test_a_bar_twice_the_value_is_twice_as_tall():
    root = parse(stacked(labels=["Mon", "Tue"], series={"SMS": [10, 20]}))
    (ten,), (twenty,) = bars(root)

    assert height(twenty) == pytest.approx(2 * height(ten), rel=1e-3)


def test_the_segments_of_a_bar_add_up_to_the_height_of_a_bar_with_the_same_total():
    root = parse(stacked(labels=["Mon", "Tue"], series={"SMS": [3, 10], "Email": [5, 0], "Web": [2, 0]}))
    mixed, single = bars(root)

    assert len(mixed) == 3
    assert sum(height(rect) for rect in mixed) == pytest.approx(height(single[0]), abs=0.02)


def test_the_segments_of_a_bar_sit_on_top_of_each_other_in_series_order():
    root = parse(stacked(labels=["Mon"], series={"SMS": [3], "Email": [5], "Web": [2]}))
    (segments,) = bars(root)

    colours = [rect.get("fill") for rect in segments]
    for lower, upper in itertools.pairwise(segments):
        assert float(upper.get("y", "nan")) + height(upper) == pytest.approx(float(lower.get("y", "nan")))
    assert colours == list(PALETTE[:3])


def test_zero_segments_are_not_drawn():
    root = parse(stacked(labels=["Mon"], series={"SMS": [4], "Email": [0], "Web": [2]}))
    (segments,) = bars(root)

    assert [rect.findtext(f"{SVG}title") for rect in segments] == ["Mon · SMS: 4", "Mon · Web: 2"]


def test_every_segment_has_a_tooltip_with_its_label_series_and_value():
    root = parse(stacked(labels=["Nov 28"], series={"SMS": [1234], "Email": [7]}, unit="orders"))

    tooltips = [rect.findtext(f"{SVG}title") for rect in by_class(root, "rect", "segment")]

    assert tooltips == ["Nov 28 · SMS: 1,234 orders", "Nov 28 · Email: 7 orders"]


def test_the_legend_names_every_series_with_its_colour():
    root = parse(stacked())
    legend = by_class(root, "g", "legend")

    entries = [(group.find(f"{SVG}rect").get("fill"), group.findtext(f"{SVG}text")) for group in legend]

    assert entries == [(PALETTE[0], "SMS"), (PALETTE[1], "WhatsApp"), (PALETTE[2], "Email")]


@pytest.mark.parametrize("peak", [1, 2, 3, 7, 10, 11, 40, 41, 99, 250, 1234, 98765])
def test_the_y_ticks_are_three_to_five_round_numbers_from_zero_covering_the_maximum(peak):
    root = parse(stacked(labels=["Mon", "Tue"], series={"SMS": [peak, 0]}))

    ticks = [int(text.replace(",", "")) for text in texts(root, "tick")]
    step = ticks[1]
    mantissa = step / 10 ** math.floor(math.log10(step))

    assert 3 <= len(ticks) <= 5
    assert ticks == [step * index for index in range(len(ticks))]
    assert mantissa in {1, 2, 5}
    assert peak <= ticks[-1] < 3 * peak


def test_the_top_tick_is_the_top_of_the_plot():
    root = parse(stacked(labels=["Mon"], series={"SMS": [10]}))
    (bar,) = bars(root)
    top_tick = max(by_class(root, "text", "tick"), key=lambda text: int(text.text or "0"))

    assert top_tick.text == "10"
    assert float(bar[0].get("y", "nan")) == pytest.approx(float(top_tick.get("y", "nan")))


def test_tick_values_use_thousands_separators():
    root = parse(stacked(labels=["Mon"], series={"SMS": [12000]}))

    assert texts(root, "tick")[-1] == "15,000"


def test_a_few_labels_are_all_shown():
    root = parse(stacked())

    assert texts(root, "x-label") == DAYS


def test_thirty_days_are_thinned_to_at_most_ten_evenly_spaced_labels():
    days = [f"Nov {day}" for day in range(1, 31)]
    root = parse(stacked(labels=days, series={"SMS": list(range(1, 31))}))

    shown = texts(root, "x-label")
    positions = [days.index(label) for label in shown]
    gaps = {later - earlier for earlier, later in itertools.pairwise(positions)}

    assert 3 <= len(shown) <= 10
    assert shown[0] == "Nov 1"
    assert len(gaps) == 1


def test_thinned_labels_do_not_overlap():
    days = [f"Day {day:02d}" for day in range(1, 91)]
    root = parse(stacked(labels=days, series={"SMS": [1] * 90}))

    centres = [float(text.get("x", "nan")) for text in by_class(root, "text", "x-label")]
    widest = max(len(text) for text in texts(root, "x-label")) * 14 * 0.6

    assert all(later - earlier >= widest for earlier, later in itertools.pairwise(centres))


def test_a_long_label_is_shortened_on_the_axis_but_whole_in_the_tooltip():
    label = "Black Friday weekend total"
    root = parse(stacked(labels=[label], series={"SMS": [3]}))

    (shown,) = texts(root, "x-label")

    assert shown.endswith("…")
    assert len(shown) < len(label)
    assert by_class(root, "rect", "segment")[0].findtext(f"{SVG}title") == f"{label} · SMS: 3"


def test_stacked_labels_and_series_names_are_escaped():
    svg = stacked(labels=[HOSTILE], series={HOSTILE: [2]}, title=HOSTILE, description=HOSTILE, unit=HOSTILE)
    root = parse(svg)

    assert "<script" not in svg
    assert root.findtext(f"{SVG}title") == HOSTILE
    assert by_class(root, "g", "legend")[0].findtext(f"{SVG}text") == HOSTILE


def test_horizontal_labels_are_escaped():
    svg = horizontal([(HOSTILE, 5)], title=HOSTILE, description=HOSTILE, unit=HOSTILE)
    root = parse(svg)

    assert "<script" not in svg
    assert root.findtext(f"{SVG}desc") == HOSTILE
    assert by_class(root, "rect", "segment")[0].findtext(f"{SVG}title") == f"{HOSTILE}: 5 {HOSTILE}"


def test_quotes_in_text_cannot_break_out_of_an_attribute():
    svg = stacked(title='" onload="alert(1)', series={"x' onclick='y": [1, 1, 1, 1, 1]})

    assert 'onload="' not in svg
    assert "onclick='" not in svg
    assert parse(svg).get("onload") is None


def test_characters_xml_forbids_are_dropped_rather_than_breaking_the_page():
    root = parse(horizontal([("Mug\x00\x1b set", 2)], title="Top\x0c products"))

    assert texts(root, "y-label") == ["Mug set"]
    assert root.findtext(f"{SVG}title") == "Top products"


@pytest.mark.parametrize(
    ("labels", "series"),
    [
        (DAYS, {"SMS": [0, 0, 0, 0, 0], "Email": [0, 0, 0, 0, 0]}),
        ([], {"SMS": []}),
        ([], {}),
        (DAYS, {}),
    ],
    ids=["all zero", "no labels", "nothing", "no series"],
)
def test_a_stacked_chart_without_data_says_so_and_draws_no_bars(labels, series):
    svg = stacked(labels=labels, series=series)
    root = parse(svg)

    assert texts(root, "no-data") == [NO_DATA]
    assert by_class(root, "rect", "segment") == []
    assert root.get("role") == "img"


@pytest.mark.parametrize("items", [[], [("Cancel", 0), ("Refund", 0)]], ids=["empty", "all zero"])
def test_a_horizontal_chart_without_data_says_so_and_draws_no_bars(items):
    root = parse(horizontal(items))

    assert texts(root, "no-data") == [NO_DATA]
    assert by_class(root, "rect", "segment") == []


@pytest.mark.parametrize(
    "svg",
    [
        stacked(series={"SMS": [0] * 5}),
        horizontal([("Cancel", 0)]),
        stacked(labels=["Mon"], series={"SMS": [1]}),
        horizontal([("Cancel", 1)]),
    ],
    ids=["stacked empty", "horizontal empty", "stacked tiny", "horizontal tiny"],
)
def test_no_coordinate_is_nan_or_infinite(svg):
    assert "nan" not in svg.lower()
    assert "inf" not in svg.lower()
    assert all(math.isfinite(number) for number in numbers(svg))


def test_the_longest_horizontal_bar_spans_the_same_width_whatever_the_values():
    small = parse(horizontal([("Where is my order?", 50), ("Cancel", 25)]))
    large = parse(horizontal([("Where is my order?", 80), ("Cancel", 10)]))

    assert width(by_class(small, "rect", "segment")[0]) == pytest.approx(
        width(by_class(large, "rect", "segment")[0])
    )


def test_the_longest_horizontal_bar_and_its_value_fit_the_width():
    root = parse(horizontal([("Where is my order?", 1234), ("Cancel", 88)]))
    longest = by_class(root, "rect", "segment")[0]
    value = by_class(root, "text", "value")[0]
    right_end = float(longest.get("x", "nan")) + width(longest)

    assert right_end > 480 / 2
    assert float(value.get("x", "nan")) > right_end
    assert float(value.get("x", "nan")) + len("1,234") * 14 * 0.6 <= 480


def test_horizontal_bars_are_proportional_to_the_longest():
    root = parse(horizontal([("Where is my order?", 40), ("Cancel", 10), ("Refund", 30)]))
    longest, shortest, middle = (width(rect) for rect in by_class(root, "rect", "segment"))

    assert shortest == pytest.approx(longest / 4, rel=1e-3)
    assert middle == pytest.approx(longest * 3 / 4, rel=1e-3)


def test_every_horizontal_bar_shows_its_label_and_its_value_even_when_zero():
    root = parse(horizontal([("Where is my order?", 1234), ("Refund", 0)]))

    assert texts(root, "y-label") == ["Where is my order?", "Refund"]
    assert texts(root, "value") == ["1,234", "0"]
    assert len(by_class(root, "rect", "segment")) == 1


def test_a_horizontal_bar_has_a_tooltip_with_its_label_and_value():
    root = parse(horizontal([("Where is my order?", 1234)], unit="messages"))

    assert (
        by_class(root, "rect", "segment")[0].findtext(f"{SVG}title") == "Where is my order?: 1,234 messages"
    )


def test_series_and_labels_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="SMS"):
        stacked(series={"SMS": [1, 2]})


@pytest.mark.parametrize(
    "render",
    [
        lambda: stacked(labels=["Mon"], series={"SMS": [-1]}),
        lambda: horizontal([("Cancel", -3)]),
    ],
    ids=["stacked", "horizontal"],
)
def test_negative_counts_are_refused(render):
    with pytest.raises(ValueError, match="non-negative"):
        render()


def test_more_series_than_colours_reuse_the_palette_in_order():
    series = {f"Channel {index}": [1] for index in range(10)}
    root = parse(stacked(labels=["Mon"], series=series))

    fills = [rect.get("fill") for rect in by_class(root, "rect", "segment")]

    assert fills == [*PALETTE, PALETTE[0], PALETTE[1]]


def test_a_legend_of_many_long_names_makes_the_chart_taller_instead_of_crushing_the_bars():
    series = {f"A rather long channel name {index:02d}": [1, 2] for index in range(30)}
    root = parse(stacked(labels=["Mon", "Tue"], series=series))

    heights = [height(rect) for rect in by_class(root, "rect", "segment")]

    assert float(root.get("viewBox", "").split()[3]) > 340
    assert min(heights) > 0
    assert sum(heights[30:]) == pytest.approx(2 * sum(heights[:30]), abs=0.05)
