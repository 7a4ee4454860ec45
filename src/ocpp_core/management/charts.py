"""Bar charts as inline SVG, drawn on the server: no script, no chart library, no CDN.

A chart is an image with a title and a description for screen readers;
every bar also carries its value as a tooltip, and the page shows the same
numbers in a table (``Chart.text`` formats both, so they can't disagree).
Colours and fonts come from the page's CSS through class names, so the
charts follow the site's look. Values are integers in the data's own unit
(Wh, cents, hundredths of a percent) until they are formatted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from markupsafe import Markup, escape

FONT = 14

# Columns (a time series): the value axis on the left, labels underneath. The page
# lets a narrow screen scroll it sideways rather than shrink it, so the axis font
# stays readable on a phone.
COLUMNS_WIDTH = 640
AXIS_FONT = 16
PLOT_LEFT = 96
PLOT_TOP = 12
PLOT_HEIGHT = 200
LABEL_ROOM = 40
MAX_AXIS_LABELS = 8

# Rows (one bar per thing): the name above its bar, the value after it. About a
# phone's width, so the text is drawn near its natural size there.
ROWS_WIDTH = 360
ROW_HEIGHT = 44
BAR_THICKNESS = 16
VALUE_ROOM = 96


class Shape(StrEnum):
    COLUMNS = "columns"  # bars standing on a time axis
    ROWS = "rows"  # one labelled bar per line: long names stay readable on a phone


@dataclass(frozen=True, slots=True)
class Point:
    label: str
    value: int
    tick: str | None = None  # a shorter label for the time axis, e.g. "11-26" for a day

    @property
    def axis_label(self) -> str:
        return self.tick or self.label


@dataclass(frozen=True, slots=True)
class Chart:
    key: str  # unique on the page: it prefixes the ids the title and description get
    shape: Shape
    points: Sequence[Point]
    text: Callable[[int], str]  # a value as people read it, e.g. 12_500 → "12.5 kWh"
    top: int | None = None  # a fixed scale (100 % for shares); else one fitting the data

    @property
    def has_data(self) -> bool:
        return any(point.value > 0 for point in self.points)

    def svg(self, title: str, description: str) -> Markup:
        draw = _columns if self.shape is Shape.COLUMNS else _rows
        width, height, body = draw(self)
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" role="img"'
            f' viewBox="0 0 {width} {height}" font-size="{FONT}"'
            f' aria-labelledby="{self.key}-title {self.key}-desc">'
            f'<title id="{self.key}-title">{escape(title)}</title>'
            f'<desc id="{self.key}-desc">{escape(description)}</desc>'
        )
        return Markup(head + "".join(body) + "</svg>")  # noqa: S704 -- every text is escaped


def scale_top(largest: int) -> int:
    """A round top for the value axis at or above ``largest``: 1, 2 or 5 times a power of ten."""
    top = 1
    while top < largest:
        for factor in (2, 5 / 2, 2):
            top = int(top * factor)
            if top >= largest:
                break
    return top


def _largest(chart: Chart) -> int:
    return max((point.value for point in chart.points), default=0)


def _length(value: int, top: int, room: float) -> float:
    return round(room * min(value, top) / top, 2)


def _bar(x: float, y: float, width: float, height: float, tip: str) -> str:
    return (
        f'<rect class="chart-bar" x="{x}" y="{y}" width="{width}" height="{height}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _text(x: float, y: float, words: str, css: str, anchor: str = "start") -> str:
    size = f' font-size="{AXIS_FONT}"' if css == "chart-axis" else ""
    return (
        f'<text class="{css}" x="{x}" y="{y}" text-anchor="{anchor}"{size}>{escape(words)}</text>'
    )


def _columns(chart: Chart) -> tuple[int, int, list[str]]:
    top = chart.top or scale_top(_largest(chart))
    parts = _value_axis(chart, top)
    count = max(len(chart.points), 1)
    slot = (COLUMNS_WIDTH - PLOT_LEFT) / count
    every = -(-count // MAX_AXIS_LABELS)  # ceiling: at most that many labels fit
    base = PLOT_TOP + PLOT_HEIGHT
    for index, point in enumerate(chart.points):
        x = PLOT_LEFT + index * slot
        height = _length(point.value, top, PLOT_HEIGHT)
        tip = f"{point.label}: {chart.text(point.value)}"
        parts.append(
            _bar(round(x + slot * 0.15, 2), base - height, round(slot * 0.7, 2), height, tip)
        )
        if index % every == 0:
            parts.append(
                _text(round(x + slot / 2, 2), base + 22, point.axis_label, "chart-axis", "middle")
            )
    return COLUMNS_WIDTH, base + LABEL_ROOM, parts


def _value_axis(chart: Chart, top: int) -> list[str]:
    """Four gridlines with their values, and the baseline."""
    parts = []
    for step in range(5):
        y = PLOT_TOP + PLOT_HEIGHT - PLOT_HEIGHT * step / 4
        css = "chart-baseline" if step == 0 else "chart-grid"
        parts.append(
            f'<line class="{css}" x1="{PLOT_LEFT}" x2="{COLUMNS_WIDTH}" y1="{y}" y2="{y}"/>'
        )
        parts.append(_text(PLOT_LEFT - 6, y + 5, chart.text(top * step // 4), "chart-axis", "end"))
    return parts


def _rows(chart: Chart) -> tuple[int, int, list[str]]:
    top = chart.top or max(_largest(chart), 1)  # no axis to read: the longest bar fills the row
    room = ROWS_WIDTH - VALUE_ROOM
    parts = []
    for index, point in enumerate(chart.points):
        y = index * ROW_HEIGHT
        length = _length(point.value, top, room)
        value = chart.text(point.value)
        parts.append(_text(0, y + FONT, point.label, "chart-label"))
        parts.append(_bar(0, y + 20, length, BAR_THICKNESS, f"{point.label}: {value}"))
        parts.append(_text(length + 6, y + 20 + BAR_THICKNESS - 3, value, "chart-value"))
    return ROWS_WIDTH, max(len(chart.points), 1) * ROW_HEIGHT, parts
