"""Charts for the shop owner's admin dashboard, drawn on the server as inline SVG. Pure: no I/O.

Why SVG rendered here rather than a charting library in the browser: the dashboard then needs no
JavaScript and no CDN (nothing to load, nothing for a Content-Security-Policy to allow, nothing that
breaks offline), the chart is in the HTML the moment the page arrives, and it scales to any screen
through its viewBox. A screen reader announces each chart by its <title> and <desc> (role="img" with
aria-labelledby); the numbers themselves belong in the data table the page shows next to the chart,
which stays the accessible source of truth. Hovering a bar shows its exact value through a <title>.

Every function returns one <svg> element as a string. All text that came from the caller is escaped,
so the string is safe to insert unescaped into a page (Jinja2's |safe, or markupsafe.Markup).
Presentation attributes only, never style="...": a strict Content-Security-Policy without
'unsafe-inline' blocks style attributes, but not fill or font-size. Every drawn element carries a class
(segment, tick, x-label, legend, value, no-data) so the page's CSS can restyle it, e.g. for a dark theme.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Okabe-Ito: eight colours told apart under the common colour-vision deficiencies. Assigned to series in
# order and repeated after the eighth, so more series than that should be grouped ("Other") upstream.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
NO_DATA = "No data for this period"

# The viewBox widths: on a 360-px phone the chart shrinks to about half of them, so the text is set large
# enough (never under 11 units) to stay legible once scaled down.
_STACKED_WIDTH = 640
_STACKED_HEIGHT = 340
_MIN_PLOT_HEIGHT = 160
_HORIZONTAL_WIDTH = 480
_NO_DATA_HEIGHT = 120
_FONT = 14
_SMALL_FONT = 12
_FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
# The server cannot measure text, so widths are estimated from an average glyph advance (in ems) chosen
# on the wide side: an overestimate costs a little space, an underestimate makes labels collide.
_GLYPH_WIDTH = 0.6
# Shifts a text's baseline so that its y is the middle of the lowercase letters; dominant-baseline is not
# honoured everywhere.
_MIDDLE = "0.35em"

_TEXT_COLOUR = "#1f2937"
_MUTED_COLOUR = "#4b5563"
_GRID_COLOUR = "#e5e7eb"
_AXIS_COLOUR = "#9ca3af"

_MARGIN = 12
_MAX_X_LABELS = 10
_X_LABEL_CHARS = 12
_LEGEND_CHARS = 28
_LEGEND_ROW = 22
_SWATCH = 12
_BAR_SHARE = 0.7
_MAX_BAR_WIDTH = 48
_ROW = 30
_BAR_THICKNESS = 20
_LABEL_SHARE = 0.4

# Characters XML 1.0 forbids outright: one of them in a product name would make the whole page's SVG
# unparseable, and html.escape leaves them alone.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class _Plot:
    """The rectangle the bars are drawn in, in viewBox units."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top


def stacked_bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[int]],
    *,
    title: str,
    description: str,
    unit: str = "",
) -> str:
    """One vertical bar per label, stacked from the series in order (the first at the bottom).

    Every sequence in `series` holds one non-negative count per label; a mismatch or a negative count is
    a ValueError rather than a misleading picture. `unit` ("orders") captions the y axis and ends each
    tooltip.
    """
    names = list(series)
    columns = [list(series[name]) for name in names]
    for name, values in zip(names, columns, strict=True):
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
        _require_counts(values, f"series {name!r}")
    totals = [sum(column[index] for column in columns) for index in range(len(labels))]
    chart_id = _chart_id(
        "stacked",
        title,
        description,
        unit,
        tuple(labels),
        tuple(zip(names, map(tuple, columns), strict=True)),
    )
    peak = max(totals, default=0)
    if peak <= 0:
        return _no_data(chart_id, title, description, _STACKED_WIDTH, _STACKED_HEIGHT)

    ticks = _ticks(peak)
    tick_width = max(_text_width(f"{tick:,}", _SMALL_FONT) for tick in ticks)
    left = max(tick_width + 2 * _MARGIN, 40.0)
    right = _STACKED_WIDTH - _MARGIN
    legend, legend_bottom = _legend(names, left, right, _MARGIN)
    caption_baseline = legend_bottom + _SMALL_FONT
    # Room above the top gridline for the unit caption, or at least for half of the top tick's label.
    top = caption_baseline + _SMALL_FONT + _MARGIN / 2 if unit else legend_bottom + _SMALL_FONT
    # A legend wrapped onto many rows makes the chart taller rather than squashing the bars flat.
    height = max(_STACKED_HEIGHT, top + _MIN_PLOT_HEIGHT + 2 * _FONT)
    plot = _Plot(left=left, top=top, right=right, bottom=height - 2 * _FONT)

    parts = _open(chart_id, title, description, _STACKED_WIDTH, height)
    parts += legend
    if unit:
        parts.append(
            f'<text class="unit" x="{_MARGIN}" y="{_num(caption_baseline)}" font-size="{_SMALL_FONT}" '
            f'fill="{_MUTED_COLOUR}">{_escape(unit)}</text>'
        )
    parts += _y_axis(ticks, plot)

    scale = plot.height / ticks[-1]
    slot = plot.width / len(labels)
    bar_width = min(slot * _BAR_SHARE, _MAX_BAR_WIDTH)
    suffix = f" {_clean(unit)}" if unit else ""
    for index, label in enumerate(labels):
        x = plot.left + index * slot + (slot - bar_width) / 2
        parts.append('<g class="bar">')
        stacked = 0
        for series_index, (name, column) in enumerate(zip(names, columns, strict=True)):
            value = column[index]
            if value == 0:
                continue
            # Both edges come from the running total, so the segments of a bar tile it exactly: their
            # heights add up to the bar's, with no hairline gaps from rounding each one on its own.
            lower = round(plot.bottom - stacked * scale, 2)
            stacked += value
            upper = round(plot.bottom - stacked * scale, 2)
            tooltip = f"{_clean(label)} · {_clean(name)}: {value:,}{suffix}"
            parts.append(
                f'<rect class="segment" x="{_num(x)}" y="{_num(upper)}" width="{_num(bar_width)}" '
                f'height="{_num(lower - upper)}" fill="{_colour(series_index)}">'
                f"<title>{_escape(tooltip)}</title></rect>"
            )
        parts.append("</g>")
    parts += _x_labels(labels, plot, slot)
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(
    items: Sequence[tuple[str, int]],
    *,
    title: str,
    description: str,
    unit: str = "",
) -> str:
    """One horizontal bar per (label, value), in the order given, the value printed at the bar's end.

    The largest value spans the width left over by the labels and the printed values; the others are
    proportional to it. Labels too long for their column are shortened with "…" (the tooltip keeps them
    whole). The chart grows one row per item, so pass a top ten rather than a whole catalogue. A negative
    value is a ValueError.
    """
    rows = [(str(label), value) for label, value in items]
    _require_counts([value for _, value in rows], "items")
    chart_id = _chart_id("horizontal", title, description, unit, tuple(rows))
    peak = max((value for _, value in rows), default=0)
    if peak <= 0:
        return _no_data(chart_id, title, description, _HORIZONTAL_WIDTH, _NO_DATA_HEIGHT)

    column = _HORIZONTAL_WIDTH * _LABEL_SHARE
    shown = [_shorten(_clean(label), int(column // (_FONT * _GLYPH_WIDTH))) for label, _ in rows]
    label_width = max(_text_width(label, _FONT) for label in shown)
    bar_left = _MARGIN + label_width + _MARGIN
    value_width = max(_text_width(f"{value:,}", _FONT) for _, value in rows)
    gap = _FONT / 2
    available = _HORIZONTAL_WIDTH - bar_left - gap - value_width - _MARGIN
    top = _MARGIN + (_SMALL_FONT + _MARGIN if unit else 0)
    height = top + len(rows) * _ROW + _MARGIN

    parts = _open(chart_id, title, description, _HORIZONTAL_WIDTH, height)
    if unit:
        parts.append(
            f'<text class="unit" x="{_num(bar_left)}" y="{_num(_MARGIN + _SMALL_FONT)}" '
            f'font-size="{_SMALL_FONT}" fill="{_MUTED_COLOUR}">{_escape(unit)}</text>'
        )
    suffix = f" {_clean(unit)}" if unit else ""
    for index, ((label, value), short) in enumerate(zip(rows, shown, strict=True)):
        middle = top + index * _ROW + _ROW / 2
        length = round(value / peak * available, 2)
        parts.append('<g class="bar">')
        parts.append(
            f'<text class="y-label" x="{_num(bar_left - _MARGIN)}" y="{_num(middle)}" dy="{_MIDDLE}" '
            f'text-anchor="end" fill="{_TEXT_COLOUR}">{_escape(short)}</text>'
        )
        if value > 0:
            tooltip = f"{_clean(label)}: {value:,}{suffix}"
            parts.append(
                f'<rect class="segment" x="{_num(bar_left)}" y="{_num(middle - _BAR_THICKNESS / 2)}" '
                f'width="{_num(length)}" height="{_BAR_THICKNESS}" fill="{PALETTE[0]}">'
                f"<title>{_escape(tooltip)}</title></rect>"
            )
        parts.append(
            f'<text class="value" x="{_num(bar_left + length + gap)}" y="{_num(middle)}" dy="{_MIDDLE}" '
            f'fill="{_TEXT_COLOUR}">{value:,}</text>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _require_counts(values: Sequence[int], what: str) -> None:
    for value in values:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{what}: counts must be finite and non-negative, got {value!r}")


def _ticks(peak: int) -> list[int]:
    """0 and 2 to 4 equal steps of 1, 2 or 5 times a power of ten, the last at or above `peak`."""
    # The smallest round step that needs no more than 4 intervals. Steps start at 1 because the values are
    # counts; consecutive candidates differ by at most 2.5 times, so the chosen one needs at least 2 intervals
    # (a peak of 1 is given 2 as well, so the axis never shows a lone step).
    exponent = 0
    while True:
        for factor in (1, 2, 5):
            step = factor * 10**exponent
            if math.ceil(peak / step) <= 4:
                intervals = max(math.ceil(peak / step), 2)
                return [step * index for index in range(intervals + 1)]
        exponent += 1


def _y_axis(ticks: list[int], plot: _Plot) -> list[str]:
    parts = []
    for tick in ticks:
        y = plot.bottom - tick / ticks[-1] * plot.height
        # The zero line is the baseline the bars stand on, so it is drawn darker than the gridlines.
        colour = _AXIS_COLOUR if tick == 0 else _GRID_COLOUR
        parts.append(
            f'<line class="grid" x1="{_num(plot.left)}" y1="{_num(y)}" x2="{_num(plot.right)}" '
            f'y2="{_num(y)}" stroke="{colour}" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="tick" x="{_num(plot.left - _MARGIN / 2)}" y="{_num(y)}" dy="{_MIDDLE}" '
            f'text-anchor="end" font-size="{_SMALL_FONT}" fill="{_MUTED_COLOUR}">{tick:,}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], plot: _Plot, slot: float) -> list[str]:
    shown = [_shorten(_clean(label), _X_LABEL_CHARS) for label in labels]
    widest = max(_text_width(label, _FONT) for label in shown)
    # Every k-th label, with k large enough both to keep to about ten labels (a month of days reads as
    # every third day) and to leave a gap between the widest neighbours.
    every = max(math.ceil(len(labels) / _MAX_X_LABELS), math.ceil((widest + _FONT) / slot), 1)
    baseline = plot.bottom + _FONT + _FONT / 4
    parts = []
    for index in range(0, len(labels), every):
        label = shown[index]
        half = _text_width(label, _FONT) / 2
        centre = plot.left + index * slot + slot / 2
        # Kept inside the viewBox: a long first or last label would otherwise be cut off at the edge.
        x = min(max(centre, half + 2), _STACKED_WIDTH - half - 2)
        parts.append(
            f'<text class="x-label" x="{_num(x)}" y="{_num(baseline)}" text-anchor="middle" '
            f'fill="{_TEXT_COLOUR}">{_escape(label)}</text>'
        )
    return parts


def _legend(names: list[str], left: float, right: float, top: float) -> tuple[list[str], float]:
    """The legend's elements, wrapped onto as many rows as the names need, and the y below its last row."""
    parts = []
    x, y = left, top
    for index, name in enumerate(names):
        shown = _shorten(_clean(name), _LEGEND_CHARS)
        width = _SWATCH + _FONT / 2 + _text_width(shown, _FONT)
        if x > left and x + width > right:
            x, y = left, y + _LEGEND_ROW
        middle = y + _LEGEND_ROW / 2
        parts.append(
            f'<g class="legend"><rect x="{_num(x)}" y="{_num(middle - _SWATCH / 2)}" width="{_SWATCH}" '
            f'height="{_SWATCH}" fill="{_colour(index)}"/>'
            f'<text x="{_num(x + _SWATCH + _FONT / 2)}" y="{_num(middle)}" dy="{_MIDDLE}" '
            f'fill="{_TEXT_COLOUR}">{_escape(shown)}</text></g>'
        )
        x += width + _FONT * 1.5
    return parts, y + _LEGEND_ROW


def _no_data(chart_id: str, title: str, description: str, width: int, height: int) -> str:
    parts = _open(chart_id, title, description, width, height)
    baseline = height - 2 * _FONT
    parts.append(
        f'<line class="grid" x1="{_MARGIN}" y1="{baseline}" x2="{width - _MARGIN}" y2="{baseline}" '
        f'stroke="{_AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append(
        f'<text class="no-data" x="{_num(width / 2)}" y="{_num(baseline / 2)}" dy="{_MIDDLE}" '
        f'text-anchor="middle" fill="{_MUTED_COLOUR}">{NO_DATA}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _open(chart_id: str, title: str, description: str, width: int, height: float) -> list[str]:
    # width="100%" with a viewBox and no height: the browser keeps the aspect ratio and the chart shrinks
    # to a phone's width instead of overflowing it.
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" viewBox="0 0 {width} {_num(height)}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" font-family="{_escape(_FONT_FAMILY)}" '
        f'font-size="{_FONT}">',
        f'<title id="{chart_id}-title">{_escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{_escape(description)}</desc>',
    ]


def _chart_id(kind: str, title: str, *content: object) -> str:
    """An id for the title and desc: readable from the title, told apart from other charts by a hash.

    A hash of the content rather than a counter, so the same chart renders to the same bytes on every
    request and in every worker; two charts with the same title but different data still get different
    ids, and two identical charts sharing one id would name each other identically anyway.
    """
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:32].strip("-")
    digest = hashlib.sha256(repr((kind, title, content)).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"chart-{slug}-{digest}" if slug else f"chart-{digest}"


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _clean(text: str) -> str:
    return _NOT_XML.sub("", str(text))


def _escape(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…"


def _text_width(text: str, size: float) -> float:
    return len(text) * size * _GLYPH_WIDTH


def _num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros: short, and stable across platforms."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
