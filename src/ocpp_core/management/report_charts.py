"""``/Home/Charts``: energy and revenue over time and per station, and connector use, as pictures.

Same period and station filter as the charge report, same numbers
(:mod:`ocpp_core.domain.reporting`); each chart comes with a table of what it
draws, for screen readers and for anyone who wants the exact values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial

from fastapi import APIRouter
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.domain import reporting
from ocpp_core.domain.reporting import Amounts, ConnectorUse, Period
from ocpp_core.management.admin_forms import page
from ocpp_core.management.auth import Viewer
from ocpp_core.management.charts import Chart, Point, Shape
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext
from ocpp_core.management.numbers import fixed, money, thousandths
from ocpp_core.management.periods import PeriodDep

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/Charts"


@dataclass(frozen=True, slots=True)
class Figure:
    """A chart with the words that go with it, in the page's language."""

    chart: Chart
    title: str
    description: str
    label_heading: str  # the first column of the chart's data table

    def svg(self) -> Markup:
        return self.chart.svg(self.title, self.description)


def kwh_text(wh: int) -> str:
    """One decimal place: enough to compare bars."""
    return f"{thousandths(wh, 1)} kWh"


def share_text(basis_points: int) -> str:
    """Hundredths of a percent, shown to a tenth."""
    return f"{fixed(Decimal(basis_points) / 100, 1)} %"


def _bucket_point(amounts: Amounts, value: int, *, monthly: bool) -> Point:
    assert isinstance(amounts.label, date)
    if monthly:
        return Point(amounts.label.strftime("%Y-%m"), value)
    return Point(amounts.label.isoformat(), value, amounts.label.strftime("%m-%d"))


def _station_point(amounts: Amounts, value: int) -> Point:
    return Point(str(amounts.label), value)


def _money_charts(
    key: str, shape: Shape, rows: Sequence[Amounts], point: Callable[[Amounts, int], Point]
) -> list[tuple[str, Chart]]:
    """One chart per currency, with its code: amounts in different currencies don't add up."""
    codes = sorted({code for row in rows for code in row.revenue_cents})
    return [
        (
            code.upper(),
            Chart(
                f"{key}-{code}",
                shape,
                [point(row, row.revenue_cents.get(code, 0)) for row in rows],
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
    for code, chart in _money_charts("revenue-time", Shape.COLUMNS, rows, point):
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


def station_figures(rows: Sequence[Amounts], period: Period) -> list[Figure]:
    span = _span(period)
    heading = gettext("Charge point")
    points = [_station_point(row, row.energy_wh) for row in rows]
    figures = [
        Figure(
            Chart("energy-station", Shape.ROWS, points, kwh_text),
            gettext("Energy per charge point"),
            gettext("Bars: kWh charged at each charge point, %(span)s.", span=span),
            heading,
        )
    ]
    for code, chart in _money_charts("revenue-station", Shape.ROWS, rows, _station_point):
        title = gettext("Revenue per charge point (%(currency)s)", currency=code)
        about = gettext(
            "Bars: %(currency)s earned at each charge point, %(span)s.", currency=code, span=span
        )
        figures.append(Figure(chart, title, about, heading))
    return figures


def use_figure(uses: Sequence[ConnectorUse], period: Period) -> Figure:
    points = [Point(_connector_label(use), use.basis_points) for use in uses]
    return Figure(
        Chart("use", Shape.ROWS, points, share_text, top=10_000),
        gettext("Utilisation per connector"),
        gettext(
            "Bars: the share of %(span)s, up to now, in which each connector had a session open.",
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


async def _figures(context: ManagementContext, period: Period) -> dict[str, object]:
    async with context.db.session() as session:
        over_time = await reporting.over_time(session, period)
        per_station = await reporting.per_charge_point(session, period)
        uses = await reporting.utilisation(session, period, now=context.clock())
    return {
        "time_figures": time_figures(over_time, period),
        "station_figures": station_figures(per_station, period),
        "use_figure": use_figure(uses, period) if uses else None,
    }


@router.get(PAGE_PATH)
async def charts_page(
    request: Request, user: Viewer, context: ContextDep, form: PeriodDep
) -> Response:
    period = form.period()
    figures = await _figures(context, period) if period else {}
    values = {"form": form, "errors": form.errors, **figures}
    return page(request, "admin/charts.html", values, status_code=400 if form.errors else 200)
