"""The charge report and the charts over real HTTP, on sessions spread over tag groups and days.

The management clock stands at ``NOW`` (2026-11-28 12:00 UTC), so "this month"
is November 2026 and a session still open has run two hours.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from builders import NOW, add_charge_point, add_tag
from integration.management.admin_helpers import error_of
from integration.management.console import Console
from integration.management.pages import VIEWER, RunningManagement, log_in
from ocpp_core.db.models import Connector, PaymentReservation, ReportSnapshot, Transaction
from ocpp_core.db.session import Database
from ocpp_core.domain import reporting
from ocpp_core.domain.report_figures import CHARTS, REPORT, ChartSums
from ocpp_core.domain.report_snapshots import Snapshots
from ocpp_core.domain.reporting import Period
from ocpp_core.management import figures_warmer

SVG = "{http://www.w3.org/2000/svg}"
HOUR = timedelta(hours=1)
DASH = "\N{EN DASH}"  # an empty money cell
ROW = 264.0  # the longest a bar in a row chart gets
MAX_AGE = timedelta(minutes=5)  # the default figures_max_age_seconds
# A view waits for its first figures this long here, so that a loaded test machine still
# shows them on the first view; the figures that follow the page are tested apart.
PATIENT = timedelta(seconds=30)


def at(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Session:
    cp: str
    connector: int
    tag: str
    start: datetime
    hours: int | None  # None: still running
    energy_wh: int | None
    booked_to: str | None = None  # a paid session: the tag of its reservation
    paid_cents: int | None = None
    free: bool = False
    currency: str = "eur"


SESSIONS = {
    "fleet paid": Session("CP1", 1, "R1", at(26, 10), 11, 12_500, "A1", paid_cents=600),
    "fleet over midnight": Session("CP1", 2, "A2", at(25, 23) + HOUR / 2, 1, 3_000),
    "staff free": Session("CP2", 1, "B1", at(20, 8), 1, 7_250, "B1", paid_cents=0, free=True),
    "solo under review": Session("CP2", 1, "SOLO", at(27, 9), 1, None),
    "public card": Session("CP1", 1, "R2", at(27, 14), 1, 4_000, "WEB-7f3a", paid_cents=250),
    "last month": Session("CP1", 1, "A1", at(31, 22, month=10), 1, 9_999),
    "running": Session("CP2", 2, "A1", at(28, 10), None, None),
}


async def add_session(db: Database, plan: Session) -> int:
    async with db.session() as session:
        stop = None if plan.hours is None else plan.start + plan.hours * HOUR
        row = Transaction(
            charge_point_id=plan.cp,
            connector_id=plan.connector,
            start_tag=plan.tag,
            start_at=plan.start,
            meter_start_wh=50_000,
            start_result="Accepted",
            stop_tag=None if stop is None else plan.tag,
            stop_at=stop,
            meter_stop_wh=None if stop is None else 50_000 + (plan.energy_wh or 0),
            stop_reason=None if stop is None else "Local",
            energy_wh=plan.energy_wh,
            review_reason="stop register below sampled"
            if stop and plan.energy_wh is None
            else None,
        )
        session.add(row)
        await session.flush()
        if plan.booked_to is not None:
            session.add(_reservation(plan, row.id))
        return row.id


def _reservation(plan: Session, transaction_id: int) -> PaymentReservation:
    return PaymentReservation(
        id=str(uuid.uuid4()),
        charge_point_id=plan.cp,
        connector_id=plan.connector,
        charge_tag_id=plan.booked_to,
        ocpp_id_tag=plan.tag,
        free=plan.free,
        status="Completed",
        price_kwh_millicents=40_000,
        session_fee_cents=0,
        usage_fee_minute_millicents=0,
        usage_grace_minutes=0,
        usage_max_minutes=0,
        usage_after_charging=False,
        max_energy_wh=50_000,
        currency=plan.currency,
        hold_cents=2_000,
        captured_cents=None if plan.free else plan.paid_cents,
        amount_due_cents=plan.paid_cents,
        transaction_id=transaction_id,
        created_at=plan.start,
        updated_at=plan.start,
    )


@pytest.fixture
async def history(management: RunningManagement) -> dict[str, int]:
    management.context.clock = lambda: NOW
    management.context.snapshots = Snapshots(management.db, MAX_AGE, first_wait=PATIENT)
    db = management.db
    for cp_id in ("CP1", "CP2"):
        await add_charge_point(db, cp_id)
    for tag, group in (("A1", "FLEET"), ("A2", "FLEET"), ("B1", "STAFF"), ("SOLO", None)):
        await add_tag(db, tag, parent=group)
    async with db.session() as session:
        session.add(Connector(charge_point_id="CP2", connector_id=3, name="Garage"))
    return {name: await add_session(db, plan) for name, plan in SESSIONS.items()}


@pytest.fixture
async def viewer(client: httpx.AsyncClient, history: dict[str, int]) -> httpx.AsyncClient:
    await log_in(client, *VIEWER)
    return client


def cells(html: str, row_marker: str) -> list[str]:
    """The text of each cell of the table row carrying ``row_marker``."""
    start = html.index(row_marker)
    row = html[start : html.index("</tr>", start)]
    found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", cell).split()) for cell in found]


NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
HEADINGS = ["Tag", "Name", "Sessions", "Energy (kWh)", "Under meter review", "Revenue (EUR)"]


async def test_the_report_sums_energy_and_revenue_per_tag_and_group(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    response = await viewer.get("/Home/Reports")  # this month unless told otherwise

    assert response.status_code == 200
    html = response.text
    assert 'value="2026-11-01"' in html
    assert 'value="2026-11-30"' in html
    assert all(f'<th scope="col">{heading}</th>' in html for heading in HEADINGS)
    assert cells(html, 'data-tag="A1"') == ["A1", "", "2 (1 running)", "12.500", "0", "6.00 EUR"]
    assert cells(html, 'data-tag="A2"') == ["A2", "", "1", "3.000", "0", DASH]
    assert cells(html, 'data-group-total="FLEET"') == [
        "Total of FLEET",
        "3 (1 running)",
        "15.500",
        "0",
        "6.00 EUR",
    ]
    assert cells(html, 'data-tag="B1"') == ["B1", "", "1", "7.250", "0", "0.00 EUR"]
    assert cells(html, 'data-tag="SOLO"') == ["SOLO", "", "1", "0.000", "1", DASH]
    assert cells(html, 'data-tag=""') == ["Unregistered tags", "", "1", "4.000", "0", "2.50 EUR"]
    assert cells(html, "data-total") == ["Total", "6 (1 running)", "26.750", "1", "8.50 EUR"]
    groups = re.findall(r'<th scope="rowgroup"[^>]*>([^<]+)</th>', html)
    assert groups == ["FLEET", "STAFF", "No group"]


async def test_energy_under_review_is_listed_apart_never_guessed(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    html = (await viewer.get("/Home/Reports", params=NOVEMBER)).text

    review = html[html.index('id="under-review"') :]
    assert cells(review, f'data-transaction="{history["solo under review"]}"')[-1] == (
        "stop register below sampled"
    )
    assert review.count("data-transaction=") == 1


async def test_the_report_narrows_to_one_charge_point(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    html = (await viewer.get("/Home/Reports", params={**NOVEMBER, "cp": "CP2"})).text

    assert cells(html, "data-total") == ["Total", "3 (1 running)", "7.250", "1", "0.00 EUR"]
    assert 'data-tag="A2"' not in html
    assert 'name="cp" type="text" value="CP2"' in html


async def test_a_quick_period_link_shows_last_month(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    html = (await viewer.get("/Home/Reports", params=NOVEMBER)).text
    link = re.search(r'<a href="([^"]+)"[^>]*>Last month</a>', html)
    assert link is not None
    assert link.group(1) == "/Home/Reports?since=2026-10-01&amp;until=2026-10-31"

    october = (await viewer.get(link.group(1).replace("&amp;", "&"))).text

    assert cells(october, "data-total") == ["Total", "1", "9.999", "0"]
    assert re.search(r'<a href="[^"]+" aria-current="true">Last month</a>', october)


async def test_the_csv_has_a_line_per_tag_that_adds_up_to_the_page(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    response = await viewer.get("/Home/Reports/Csv", params=NOVEMBER)

    assert response.headers["content-type"].startswith("text/csv")
    assert (
        'filename="ChargeReport_2026-11-01_2026-11-30.csv"'
        in (response.headers["content-disposition"])
    )
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    lines = {row["Tag"]: row for row in rows}
    assert list(lines) == ["A1", "A2", "B1", "SOLO", "(unregistered tags)"]
    assert [lines["A1"][key] for key in ("Group", "Sessions", "Energy (kWh)")] == [
        "FLEET",
        "2",
        "12.5",
    ]
    assert lines["A1"]["Sessions running"] == "1"
    assert lines["A1"]["Revenue (EUR)"] == "6.00"
    assert lines["SOLO"]["Sessions under meter review"] == "1"
    assert lines["SOLO"]["Group"] == ""
    assert lines["(unregistered tags)"]["Revenue (EUR)"] == "2.50"
    assert sum(float(row["Energy (kWh)"]) for row in rows) == pytest.approx(26.75)


async def test_an_empty_period_says_so(viewer: httpx.AsyncClient) -> None:
    empty = {"since": "2025-01-01", "until": "2025-01-31"}

    report = (await viewer.get("/Home/Reports", params=empty)).text
    charts = (await viewer.get("/Home/Charts", params=empty)).text

    assert "No sessions started in this period." in report
    assert "data-total" not in report
    assert "<svg" not in charts
    assert charts.count("Nothing to show for this period.") == 3  # energy twice, use once
    assert "No paid sessions in this period, so no revenue to draw." in charts


async def test_a_period_that_ends_before_it_starts_is_explained(
    viewer: httpx.AsyncClient,
) -> None:
    response = await viewer.get("/Home/Reports", params={"since": "2026-11-20", "until": "x"})
    backwards = await viewer.get(
        "/Home/Charts", params={"since": "2026-11-20", "until": "2026-11-01"}
    )
    csv_file = await viewer.get("/Home/Reports/Csv", params={"since": "2026-11-20"})

    assert response.status_code == 400
    assert error_of(response.text, "until") == "A date as YYYY-MM-DD."
    assert backwards.status_code == 400
    assert error_of(backwards.text, "until") == "The end is before the start."
    assert csv_file.status_code == 400


async def test_a_period_longer_than_ten_years_is_refused(viewer: httpx.AsyncClient) -> None:
    decade = {"since": "2017-01-01", "until": "2026-12-31"}
    longer = {"since": "2016-01-01", "until": "2026-12-31"}

    fits = await viewer.get("/Home/Charts", params=decade)
    refused = await viewer.get("/Home/Charts", params=longer)

    assert fits.status_code == 200
    assert refused.status_code == 400
    assert error_of(refused.text, "until") == "A period of at most ten years."


@pytest.mark.parametrize("path", ["/Home/Reports", "/Home/Reports/Csv", "/Home/Charts"])
async def test_an_anonymous_visitor_is_sent_to_the_login(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/Account/Login?ReturnUrl=%2FHome%2F")


async def test_both_pages_are_in_the_menu(viewer: httpx.AsyncClient) -> None:
    html = (await viewer.get("/Home/Charts")).text

    assert re.search(r'<a href="/Home/Reports"\s*>Charge report</a>', html)
    assert re.search(r'<a href="/Home/Charts" aria-current="page">Charts</a>', html)


def figure_svg(html: str, key: str) -> ET.Element:
    start = html.index(f'id="{key}"')
    svg = html[html.index("<svg", start) : html.index("</svg>", start) + len("</svg>")]
    return ET.fromstring(svg)  # noqa: S314 - our own output


def bars(svg: ET.Element, length: str = "width") -> dict[str, float]:
    """Each bar's tooltip and its length: the width of a row, or the ``height`` of a column."""
    return {
        bar.findtext(f"{SVG}title") or "": float(bar.get(length, ""))
        for bar in svg.iter(f"{SVG}rect")
    }


async def test_the_day_charts_draw_energy_and_revenue_per_day(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    html = (await viewer.get("/Home/Charts", params=NOVEMBER)).text

    energy = figure_svg(html, "energy-time")
    assert energy.findtext(f"{SVG}title") == "Energy per day"
    drawn = {tip: size for tip, size in bars(energy, "height").items() if size}
    # The tallest day, 12.5 kWh, on a 20 kWh scale 200 units high.
    assert drawn == {
        "2026-11-20: 7.3 kWh": 72.5,
        "2026-11-25: 3.0 kWh": 30.0,
        "2026-11-26: 12.5 kWh": 125.0,
        "2026-11-27: 4.0 kWh": 40.0,
    }
    assert len(bars(energy)) == 30
    revenue_bars = bars(figure_svg(html, "revenue-time-eur"), "height")
    revenue = {tip: size for tip, size in revenue_bars.items() if size}
    assert revenue == {"2026-11-26: 6.00 EUR": 120.0, "2026-11-27: 2.50 EUR": 50.0}
    table = html[
        html.index('id="energy-time"') : html.index("</figure>", html.index('id="energy-time"'))
    ]
    assert cells(table, '<th scope="row">2026-11-26</th>') == ["2026-11-26", "12.5 kWh"]


async def test_the_station_charts_compare_charge_points(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    html = (await viewer.get("/Home/Charts", params=NOVEMBER)).text

    energy = bars(figure_svg(html, "energy-station"))
    assert energy == {"CP1: 19.5 kWh": ROW, "CP2: 7.3 kWh": round(ROW * 7_250 / 19_500, 2)}
    revenue = bars(figure_svg(html, "revenue-station-eur"))
    assert revenue == {"CP1: 8.50 EUR": ROW, "CP2: 0.00 EUR": 0.0}


async def test_a_long_period_is_drawn_per_month(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    html = (
        await viewer.get("/Home/Charts", params={"since": "2026-01-01", "until": "2026-12-31"})
    ).text

    energy = figure_svg(html, "energy-time")
    assert energy.findtext(f"{SVG}title") == "Energy per month"
    drawn = {tip for tip, size in bars(energy, "height").items() if size}
    assert drawn == {"2026-10: 10.0 kWh", "2026-11: 26.8 kWh"}


async def test_utilisation_is_the_share_of_the_day_a_session_was_open(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    day = {"since": "2026-11-26", "until": "2026-11-26"}

    html = (await viewer.get("/Home/Charts", params=day)).text

    use = bars(figure_svg(html, "use"))
    # 10:00-21:00 is 11 of 24 hours; the session from 23:30 the day before runs 30 minutes in;
    # a connector known from its status but without a session that day shows as idle.
    assert use == {
        "CP1:1: 45.8 %": round(ROW * 4_583 / 10_000, 2),
        "CP1:2: 2.1 %": round(ROW * 208 / 10_000, 2),
        "Garage (CP2:3): 0.0 %": 0.0,
    }
    assert "share of the period in which a connector had a session open" in html


async def test_a_refused_start_left_open_is_no_use_of_the_connector(
    viewer: httpx.AsyncClient, history: dict[str, int], management: RunningManagement
) -> None:
    async with management.db.session() as session:
        session.add(
            Transaction(
                charge_point_id="CP2",
                connector_id=3,
                start_tag="UNKNOWN",
                start_at=at(28, 6),
                meter_start_wh=0,
                start_result="Invalid",  # the charger has not sent its stop (yet)
            )
        )
    today = {"since": "2026-11-28", "until": "2026-11-28"}

    html = (await viewer.get("/Home/Charts", params=today)).text

    assert "Garage (CP2:3): 0.0 %" in bars(figure_svg(html, "use"))


async def test_utilisation_today_counts_only_up_to_now(
    viewer: httpx.AsyncClient, history: dict[str, int]
) -> None:
    today = {"since": "2026-11-28", "until": "2026-11-28"}

    html = (await viewer.get("/Home/Charts", params=today)).text

    # The session open since 10:00 has run 2 of the 12 hours gone today.
    assert "CP2:2: 16.7 %" in bars(figure_svg(html, "use"))


async def test_revenue_in_two_currencies_is_drawn_apart_never_added(
    viewer: httpx.AsyncClient, history: dict[str, int], management: RunningManagement
) -> None:
    await add_session(
        management.db,
        Session("CP2", 2, "R3", at(26, 12), 1, 2_000, "A1", paid_cents=900, currency="chf"),
    )

    html = (await viewer.get("/Home/Charts", params=NOVEMBER)).text

    francs = bars(figure_svg(html, "revenue-time-chf"), "height")  # 9 CHF on a scale of 10
    assert {tip: size for tip, size in francs.items() if size} == {"2026-11-26: 9.00 CHF": 180.0}
    euros = bars(figure_svg(html, "revenue-time-eur"), "height")
    assert {tip for tip, size in euros.items() if size} == {
        "2026-11-26: 6.00 EUR",
        "2026-11-27: 2.50 EUR",
    }
    assert bars(figure_svg(html, "revenue-station-chf")) == {"CP2: 9.00 CHF": ROW}
    assert bars(figure_svg(html, "revenue-station-eur")) == {
        "CP1: 8.50 EUR": ROW,
        "CP2: 0.00 EUR": 0.0,
    }


async def test_a_session_open_since_the_day_before_uses_its_connector_but_charged_before(
    viewer: httpx.AsyncClient, history: dict[str, int], management: RunningManagement
) -> None:
    await add_charge_point(management.db, "CP3")
    await add_session(management.db, Session("CP3", 1, "A1", at(25, 20), 30, 30_000))
    day = {"since": "2026-11-26", "until": "2026-11-26"}

    html = (await viewer.get("/Home/Charts", params=day)).text

    # Its energy belongs to the 25th, when it started; the 26th it used CP3:1 all day.
    assert list(bars(figure_svg(html, "energy-station"))) == ["CP1: 12.5 kWh"]
    assert "CP3:1: 100.0 %" in bars(figure_svg(html, "use"))


async def test_a_large_fleet_is_drawn_as_its_top_ten_and_the_others_average(
    viewer: httpx.AsyncClient, history: dict[str, int], management: RunningManagement
) -> None:
    for number in range(1, 13):
        station = f"X{number:02}"
        await add_charge_point(management.db, station)
        await add_session(management.db, Session(station, 1, "A1", at(10, 8), 1, number * 1_000))

    html = (await viewer.get("/Home/Charts", params=NOVEMBER)).text

    energy = list(bars(figure_svg(html, "energy-station")))
    # CP1 (19.5), X12 to X08, CP2 (7.25), X07 to X05; X04 to X01 make 10 kWh together.
    assert [tip.split(":")[0] for tip in energy[:10]] == [
        "CP1",
        *(f"X{number:02}" for number in range(12, 7, -1)),
        "CP2",
        "X07",
        "X06",
        "X05",
    ]
    assert energy[10:] == ["Average of the others (4): 2.5 kWh"]
    assert "All the other charge points (4) together: 10.0 kWh." in html
    use = list(bars(figure_svg(html, "use")))
    # 17 connectors: 5 of the history, one at each of the 12 new stations.
    assert len(use) == 11
    assert use[-1].startswith("Average of the others (7): ")


async def test_a_large_fleet_shows_its_largest_groups_and_tags_and_sums_the_others(
    viewer: httpx.AsyncClient, history: dict[str, int], management: RunningManagement
) -> None:
    db = management.db
    for number in range(1, 26):  # 25 tags in one group, 0.1 to 2.5 kWh each
        await add_tag(db, f"BIG{number:02}", parent="BIG")
        await add_session(db, Session("CP1", 1, f"BIG{number:02}", at(5, 8), 1, number * 100))
    for number in range(20):  # and 20 more groups of one tag, 10 kWh or more each
        await add_tag(db, f"G{number:02}T", parent=f"G{number:02}")
        await add_session(db, Session("CP2", 1, f"G{number:02}T", at(6, 8), 1, 10_000 + number))

    html = (await viewer.get("/Home/Reports", params=NOVEMBER)).text

    big = html[html.index(">BIG</th>") : html.index('data-group-total="BIG"')]
    assert big.count("data-tag=") == 20
    assert 'data-tag="BIG01"' not in big  # the five smallest: 0.1 to 0.5 kWh
    assert cells(big, 'data-other-tags="BIG"') == ["The other 5 tags", "5", "1.500", "0", DASH]
    assert cells(html, 'data-group-total="BIG"')[1:3] == ["25", "32.500"]
    # 24 groups: BIG, FLEET and G19 to G02 are shown; G01, G00, STAFF and no group are not.
    assert len(re.findall(r'<th scope="rowgroup"', html)) == 20
    assert ">FLEET</th>" in html
    assert ">G01</th>" not in html
    assert ">STAFF</th>" not in html
    assert cells(html, "data-other-groups") == [
        "The other 4 groups",
        "5",  # one each, and SOLO's and the card payment's without a group
        "31.251",
        "1",
        "2.50 EUR",
    ]
    assert cells(html, "data-total")[1:3] == ["51 (1 running)", "259.440"]


def figures_time(html: str) -> str:
    found = re.search(
        r'id="figures-time"><time datetime="([^"]+)">Figures as of ([^<]+)</time>', html
    )
    assert found is not None
    return f"{found.group(1)} {found.group(2)}"


@pytest.mark.parametrize("path", ["/Home/Reports", "/Home/Charts"])
async def test_figures_slower_than_the_wait_follow_the_page_which_asks_again_for_them(
    viewer: httpx.AsyncClient, management: RunningManagement, path: str
) -> None:
    management.context.snapshots = Snapshots(management.db, MAX_AGE, first_wait=timedelta(0))
    first = await viewer.get(path, params=NOVEMBER)
    await management.context.snapshots.settle()
    ready = await viewer.get(path, params=NOVEMBER)

    assert first.status_code == 200
    assert "The figures of this period are being computed" in first.text
    assert f'hx-get="{path}?since=2026-11-01&amp;until=2026-11-30"' in first.text
    assert 'hx-select="#figures"' in first.text
    assert 'id="figures-time"' not in first.text
    assert figures_time(ready.text) == "2026-11-28T12:00:00+00:00 12:00:00 UTC"
    assert "being computed" not in ready.text
    assert await kept_kinds(management.db) == [
        CHARTS.kind if path == "/Home/Charts" else REPORT.kind
    ]


async def test_in_a_browser_the_figures_take_the_place_of_the_notice_once_computed(
    history: dict[str, int], management: RunningManagement, browser: Browser
) -> None:
    management.context.snapshots = Snapshots(management.db, MAX_AGE, first_wait=timedelta(0))
    page = await browser.new_page()
    console = Console().watch(page)
    await page.goto(f"{management.url}/Account/Login")
    await page.get_by_label("Name").fill(VIEWER[0])
    await page.get_by_label("Password").fill(VIEWER[1])
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{management.url}/")

    opened = await page.goto(f"{management.url}/Home/Charts?since=2026-11-01&until=2026-11-30")

    assert opened is not None
    assert "being computed" in await opened.text()  # the page came before its figures
    await expect(page.locator("#figures-time")).to_have_text("Figures as of 12:00:00 UTC")
    await expect(page.locator("#figures-pending")).to_have_count(0)
    await expect(page.locator("#energy-time svg")).to_be_visible()
    assert console.errors == []


def energy_bars(html: str) -> dict[str, float]:
    return {
        tip: size for tip, size in bars(figure_svg(html, "energy-time"), "height").items() if size
    }


LATE = Session("CP1", 1, "A2", at(3, 9), 1, 20_000)  # added after the first view


@pytest.mark.parametrize("path", ["/Home/Reports", "/Home/Charts"])
async def test_within_max_age_the_pages_show_the_kept_figures_then_refresh_them(
    viewer: httpx.AsyncClient, management: RunningManagement, path: str
) -> None:
    first = (await viewer.get(path, params=NOVEMBER)).text
    await add_session(management.db, LATE)
    clock = NOW + timedelta(seconds=299)
    management.context.clock = lambda: clock
    kept = (await viewer.get(path, params=NOVEMBER)).text
    clock = NOW + timedelta(seconds=300)
    stale = (await viewer.get(path, params=NOVEMBER)).text
    await asyncio.gather(*management.context.snapshots.refreshing)  # unless done already
    refreshed = (await viewer.get(path, params=NOVEMBER)).text

    as_of = "2026-11-28T12:00:00+00:00 12:00:00 UTC"
    assert figures_time(first) == figures_time(kept) == figures_time(stale) == as_of
    assert figures_time(refreshed) == "2026-11-28T12:05:00+00:00 12:05:00 UTC"
    if path == "/Home/Reports":
        totals = [cells(html, "data-total")[1:3] for html in (first, kept, stale, refreshed)]
        assert totals == [["6 (1 running)", "26.750"]] * 3 + [["7 (1 running)", "46.750"]]
    else:
        drawn = [energy_bars(html).get("2026-11-03: 20.0 kWh") for html in (first, kept, stale)]
        assert drawn == [None] * 3
        assert "2026-11-03: 20.0 kWh" in energy_bars(refreshed)


async def test_with_max_age_zero_every_view_computes(
    viewer: httpx.AsyncClient, management: RunningManagement
) -> None:
    management.context.snapshots = Snapshots(management.db, timedelta(0))
    first = (await viewer.get("/Home/Reports", params=NOVEMBER)).text
    await add_session(management.db, LATE)
    second = (await viewer.get("/Home/Reports", params=NOVEMBER)).text

    assert cells(first, "data-total")[1] == "6 (1 running)"
    assert cells(second, "data-total")[1] == "7 (1 running)"


async def test_the_csv_is_computed_afresh_beside_a_kept_page(
    viewer: httpx.AsyncClient, management: RunningManagement
) -> None:
    await viewer.get("/Home/Reports", params=NOVEMBER)
    await add_session(management.db, LATE)

    page = (await viewer.get("/Home/Reports", params=NOVEMBER)).text
    export = await viewer.get("/Home/Reports/Csv", params=NOVEMBER)

    rows = csv.DictReader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";")
    assert cells(page, "data-total")[1] == "6 (1 running)"
    assert sum(int(row["Sessions"]) for row in rows) == 7


async def test_the_kept_figures_read_back_as_computed(
    history: dict[str, int], management: RunningManagement
) -> None:
    november = Period(at(1, 0), at(1, 0, month=12))
    async with management.db.reading() as session:
        report = await reporting.charge_report(session, november)
        sums = ChartSums(
            await reporting.over_time(session, november, limit=1),
            await reporting.per_connector(session, november, now=NOW, limit=1),
        )

    assert REPORT.decode(json.loads(json.dumps(REPORT.encode(report)))) == report
    assert CHARTS.decode(json.loads(json.dumps(CHARTS.encode(sums)))) == sums
    assert report.under_review
    assert report.groups
    assert sums.connectors.use is not None
    assert sums.over_time.revenue_cents["eur"].rest_count == 1


LAST_YEAR = {"since": "2025-01-01", "until": "2025-12-31"}


async def test_a_warming_round_keeps_every_quick_choice_so_no_first_view_waits(
    viewer: httpx.AsyncClient, management: RunningManagement
) -> None:
    await figures_warmer.warm(management.context)  # at NOW, 12:00:00
    later = NOW + timedelta(seconds=10)
    management.context.clock = lambda: later

    pages = {
        (path, tuple(params.values())): (await viewer.get(path, params=params)).text
        for path in ("/Home/Reports", "/Home/Charts")
        for params in ({}, LAST_YEAR)
    }

    as_of = "2026-11-28T12:00:00+00:00 12:00:00 UTC"  # the round's, not the view's
    assert {key: figures_time(html) for key, html in pages.items()} == dict.fromkeys(pages, as_of)
    assert cells(pages["/Home/Reports", ()], "data-total")[1:3] == ["6 (1 running)", "26.750"]
    assert await kept_kinds(management.db) == sorted([CHARTS.kind, REPORT.kind] * 4)  # 4 choices


async def kept_kinds(db: Database) -> list[str]:
    async with db.reading() as session:
        return sorted((await session.scalars(select(ReportSnapshot.kind))).all())


async def test_the_warmer_keeps_nothing_when_every_view_computes(
    management: RunningManagement,
) -> None:
    management.context.snapshots = Snapshots(management.db, timedelta(0))
    async with asyncio.timeout(5):  # it returns at once rather than waiting for a round
        await figures_warmer.warm_forever(management.context)


async def test_the_warmer_runs_a_round_every_max_age(
    history: dict[str, int], management: RunningManagement
) -> None:
    management.context.snapshots = Snapshots(management.db, timedelta(seconds=1))
    warming = asyncio.create_task(figures_warmer.warm_forever(management.context))
    try:
        async with asyncio.timeout(20):
            while len(await kept_kinds(management.db)) < 8:  # noqa: ASYNC110 - rows, not an event
                await asyncio.sleep(0.1)
    finally:
        warming.cancel()
        await asyncio.gather(warming, return_exceptions=True)
    assert await kept_kinds(management.db) == sorted([CHARTS.kind, REPORT.kind] * 4)
