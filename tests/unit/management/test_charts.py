"""Server-drawn SVG charts: bars in proportion to the data, labelled, escaped and accessible."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ocpp_core.management.charts import Chart, Point, Shape, scale_top

SVG = "{http://www.w3.org/2000/svg}"


def wh(value: int) -> str:
    return f"{value} Wh"


def parsed(chart: Chart, title: str = "Energy", description: str = "Bars: energy.") -> ET.Element:
    return ET.fromstring(str(chart.svg(title, description)))  # noqa: S314 - our own output


def bars(svg: ET.Element) -> list[ET.Element]:
    return svg.findall(f".//{SVG}rect")


def tips(svg: ET.Element) -> list[str]:
    return [bar.findtext(f"{SVG}title") or "" for bar in bars(svg)]


def texts(svg: ET.Element) -> list[str]:
    return [text.text or "" for text in svg.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("largest", "top"),
    [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (20_000, 20_000), (20_001, 50_000)],
)
def test_the_value_axis_ends_at_a_round_number(largest: int, top: int) -> None:
    assert scale_top(largest) == top


def test_columns_stand_in_proportion_on_a_round_scale() -> None:
    points = [Point("2026-11-25", 0), Point("2026-11-26", 5_000), Point("2026-11-27", 12_500)]
    chart = Chart("energy", Shape.COLUMNS, points, wh)

    svg = parsed(chart)

    # 12_500 Wh needs a 20_000 Wh scale on a 200-unit-high plot.
    assert [float(bar.get("height", "")) for bar in bars(svg)] == [0.0, 50.0, 125.0]
    bottoms = {float(bar.get("y", "")) + float(bar.get("height", "")) for bar in bars(svg)}
    assert len(bottoms) == 1  # every column stands on the same baseline
    assert tips(svg) == ["2026-11-25: 0 Wh", "2026-11-26: 5000 Wh", "2026-11-27: 12500 Wh"]
    assert {"0 Wh", "5000 Wh", "10000 Wh", "15000 Wh", "20000 Wh"} <= set(texts(svg))


def test_a_long_time_axis_labels_only_some_columns_with_their_short_label() -> None:
    points = [Point(f"2026-12-{day:02d}", day, f"12-{day:02d}") for day in range(1, 32)]

    svg = parsed(Chart("days", Shape.COLUMNS, points, wh))

    assert len(bars(svg)) == 31
    labels = [text for text in texts(svg) if text.startswith("12-")]
    assert labels == ["12-01", "12-05", "12-09", "12-13", "12-17", "12-21", "12-25", "12-29"]


def test_rows_are_as_long_as_their_share_of_the_largest() -> None:
    points = [Point("CP1", 19_500), Point("CP2", 7_250)]

    svg = parsed(Chart("stations", Shape.ROWS, points, wh))

    widths = [float(bar.get("width", "")) for bar in bars(svg)]
    assert widths == [264.0, round(264 * 7_250 / 19_500, 2)]  # 360 wide, 96 kept for the value
    assert texts(svg) == ["CP1", "19500 Wh", "CP2", "7250 Wh"]


def test_rows_on_a_fixed_scale_leave_room_for_the_rest() -> None:
    points = [Point("CP1:1", 4_583), Point("CP1:2", 0)]

    svg = parsed(Chart("use", Shape.ROWS, points, str, top=10_000))

    assert [float(bar.get("width", "")) for bar in bars(svg)] == [120.99, 0.0]  # 45.83 % of 264


def test_the_chart_is_an_image_named_and_described_for_screen_readers() -> None:
    svg = parsed(Chart("use", Shape.ROWS, [Point("CP1", 1)], wh), "Use & more", "Bars: <share>.")

    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "use-title use-desc"
    assert svg.find(f"{SVG}title[@id='use-title']") is not None
    assert svg.findtext(f"{SVG}title") == "Use & more"
    assert svg.findtext(f"{SVG}desc[@id='use-desc']") == "Bars: <share>."


def test_names_from_the_database_are_escaped() -> None:
    chart = Chart("x", Shape.ROWS, [Point('<script>"CP"&', 3)], wh)

    svg = parsed(chart)  # well-formed XML: nothing leaked into the markup

    assert texts(svg)[0] == '<script>"CP"&'
    assert "<script>" not in str(chart.svg("t", "d"))


def test_a_chart_of_zeros_has_no_data() -> None:
    assert not Chart("x", Shape.COLUMNS, [Point("a", 0), Point("b", 0)], wh).has_data
    assert not Chart("x", Shape.COLUMNS, [], wh).has_data
    assert Chart("x", Shape.COLUMNS, [Point("a", 0), Point("b", 1)], wh).has_data
