"""``/Home/Charts``: energy and revenue over time and per station, and connector use, as pictures.

Same period and station filter as the charge report, same numbers
(:mod:`ocpp_core.domain.reporting`); each chart comes with a table of what it
draws, for screen readers and for anyone who wants the exact values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import TypeVar

from fastapi import APIRouter
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.domain import reporting
from ocpp_core.domain.report_figures import CHARTS, ChartSums
from ocpp_core.domain.report_snapshots import Figures
from ocpp_core.domain.reporting import (
    Amounts,
    ConnectorSums,
    ConnectorUse,
    Period,
    PeriodSums,
    Ranking,
    StationRankings,
    Utilisation,
)
from ocpp_core.management.admin_forms import page
from ocpp_core.management.auth import Viewer
from ocpp_core.management.charts import Chart, Point, Shape
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext
from ocpp_core.management.numbers import fixed, money, thousandths
from ocpp_core.management.periods import PeriodDep

T = TypeVar("T")

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/Charts"
TOP = 10  # bars per ranked chart: a fleet of thousands is compared by its largest few


@dataclass(frozen=True, slots=True)
class Figure:
    """A chart with the words that go with it, in the page's language."""

    chart: Chart
    title: str
    description: str
    label_heading: str  # the first column of the chart's data table
    note: str | None = None  # what the bars leave out, e.g. the other stations' total

    def svg(self) -> Markup:
        return self.chart.svg(self.title, self.description)


def kwh_text(wh: int) -> str:
    """One decimal place: enough to compare bars."""
    return f"{thousandths(wh, 1)} kWh"


def share_text(basis_points: int) -> str:
    """Hundredths of a percent, shown to a tenth."""
    return f"{fixed(Decimal(basis_points) / 100, 1)} %"


def _bucket_point(amounts: Amounts, value: int, *, monthly: bool) -> Point:
    if monthly:
        return Point(amounts.label.strftime("%Y-%m"), value)
    return Point(amounts.label.isoformat(), value, amounts.label.strftime("%m-%d"))


def _money_charts(rows: Sequence[Amounts], monthly: bool) -> list[tuple[str, Chart]]:
    """One chart per currency, with its code: amounts in different currencies don't add up."""
    codes = sorted({code for row in rows for code in row.revenue_cents})
    return [
        (
            code.upper(),
            Chart(
                f"revenue-time-{code}",
                Shape.COLUMNS,
                [
                    _bucket_point(row, row.revenue_cents.get(code, 0), monthly=monthly)
                    for row in rows
                ],
                partial(money, currency=code),
            ),
        )
        for code in codes
    ]


def time_figures(rows: Sequence[Amounts], period: Period) -> list[Figure]:
    monthly = reporting.by_month(period)
    point = partial(_bucket_point, monthly=monthly)
    span = _span(period)
    heading = gettext("Month (UTC)") if monthly else gettext("Day (UTC)")
    energy = Chart("energy-time", Shape.COLUMNS, [point(r, r.energy_wh) for r in rows], kwh_text)
    if monthly:
        title = gettext("Energy per month")
        about = gettext("Bars: kWh of the sessions started in each month, %(span)s.", span=span)
    else:
        title = gettext("Energy per day")
        about = gettext("Bars: kWh of the sessions started on each day, %(span)s.", span=span)
    figures = [Figure(energy, title, about, heading)]
    for code, chart in _money_charts(rows, monthly):
        if monthly:
            title = gettext("Revenue per month (%(currency)s)", currency=code)
        else:
            title = gettext("Revenue per day (%(currency)s)", currency=code)
        about = gettext(
            "Bars: %(currency)s earned from the sessions started in each bar's time, %(span)s.",
            currency=code,
            span=span,
        )
        figures.append(Figure(chart, title, about, heading))
    return figures


def station_figures(rankings: StationRankings, period: Period, limit: int) -> list[Figure]:
    span = _span(period)
    heading = gettext("Charge point")
    energy = rankings.energy_wh
    figures = [
        Figure(
            Chart("energy-station", Shape.ROWS, _ranked_points(energy), kwh_text),
            gettext("Energy per charge point"),
            gettext(
                "Bars: kWh charged at the %(limit)s charge points that charged the most, %(span)s.",
                limit=limit,
                span=span,
            ),
            heading,
            _rest_note(energy, kwh_text),
        )
    ]
    for code, ranking in rankings.revenue_cents.items():
        text = partial(money, currency=code)
        figures.append(
            Figure(
                Chart(f"revenue-station-{code}", Shape.ROWS, _ranked_points(ranking), text),
                gettext("Revenue per charge point (%(currency)s)", currency=code.upper()),
                gettext(
                    "Bars: %(currency)s earned at the %(limit)s charge points"
                    " that earned the most, %(span)s.",
                    currency=code.upper(),
                    limit=limit,
                    span=span,
                ),
                heading,
                _rest_note(ranking, text),
            )
        )
    return figures


def _ranked_points(ranking: Ranking) -> list[Point]:
    """The largest bars, then the others' average: comparable with a bar, unlike their sum."""
    points = [Point(name, value) for name, value in ranking.top]
    if ranking.rest_count:
        points.append(
            Point(_others_label(ranking.rest_count), ranking.rest_value // ranking.rest_count)
        )
    return points


def _others_label(count: int) -> str:
    return gettext("Average of the others (%(count)s)", count=count)


def _rest_note(ranking: Ranking, text: Callable[[int], str]) -> str | None:
    if not ranking.rest_count:
        return None
    return gettext(
        "All the other charge points (%(count)s) together: %(total)s.",
        count=ranking.rest_count,
        total=text(ranking.rest_value),
    )


def use_figure(use: Utilisation, period: Period) -> Figure:
    points = [Point(_connector_label(one), one.basis_points) for one in use.top]
    if use.rest_count:
        points.append(Point(_others_label(use.rest_count), use.rest_basis_points))
    return Figure(
        Chart("use", Shape.ROWS, points, share_text, top=10_000),
        gettext("Utilisation per connector"),
        gettext(
            "Bars: the share of %(span)s, up to now, in which each of the busiest connectors"
            " had a session open.",
            span=_span(period),
        ),
        gettext("Connector"),
    )


def _connector_label(use: ConnectorUse) -> str:
    place = f"{use.charge_point_id}:{use.connector_id}"
    return f"{use.name} ({place})" if use.name else place


def _span(period: Period) -> str:
    return gettext(
        "%(since)s to %(until)s (UTC)",
        since=period.since.date().isoformat(),
        until=period.last_day.isoformat(),
    )


async def _read(context: ManagementContext, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with context.db.reading() as session:
        return await query(session)


async def _sums(context: ManagementContext, period: Period, now: datetime) -> ChartSums:
    """The two statements of the charts: on PostgreSQL together, on a connection each.

    The page then waits for the slower of them rather than for both in turn.
    SQLite's reads run in this process's threads, under one GIL: together, they
    took longer than in turn (scale 0.1, three pairs: 0.47 s → 0.60 s median).
    """

    def over_time(session: AsyncSession) -> Awaitable[PeriodSums]:
        return reporting.over_time(session, period, limit=TOP)

    def connectors(session: AsyncSession) -> Awaitable[ConnectorSums]:
        return reporting.per_connector(session, period, now=now, limit=TOP)

    if context.db.is_sqlite:
        async with context.db.reading() as session:
            in_time, sums = await over_time(session), await connectors(session)
    else:
        in_time, sums = await asyncio.gather(_read(context, over_time), _read(context, connectors))
    return ChartSums(in_time, sums)


async def kept_sums(context: ManagementContext, period: Period) -> Figures[ChartSums] | None:
    """The charts' sums, at most ``figures_max_age_seconds`` old (see report_snapshots).

    None while a period's first sums take longer than the page may wait for them.
    """
    now = context.clock()
    return await context.snapshots.figures(
        CHARTS, period, partial(_sums, context, period, now), now
    )


async def _figures(context: ManagementContext, period: Period) -> dict[str, object]:
    shot = await kept_sums(context, period)
    if shot is None:
        return {"pending": True}
    in_time, sums = shot.value.over_time, shot.value.connectors
    series, busy = in_time.series, sums.use
    rankings = StationRankings(sums.energy_wh, in_time.revenue_cents)
    return {
        "pending": False,
        "computed_at": shot.computed_at,
        "time_figures": time_figures(series, period),
        "station_figures": station_figures(rankings, period, TOP),
        "use_figure": use_figure(busy, period) if busy and (busy.top or busy.rest_count) else None,
    }


@router.get(PAGE_PATH)
async def charts_page(
    request: Request, user: Viewer, context: ContextDep, form: PeriodDep
) -> Response:
    period = form.period()
    figures = await _figures(context, period) if period else {}
    values = {"form": form, "errors": form.errors, **figures}
    return page(request, "admin/charts.html", values, status_code=400 if form.errors else 200)
