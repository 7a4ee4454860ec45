"""``/Home/Reports``: energy and revenue per tag and tag group over a period, and its CSV.

The numbers come from :mod:`ocpp_core.domain.reporting`; this module only
shows them. Energy and money stay integers (Wh, cents) until they are
formatted here, and each currency keeps a column of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.domain import reporting
from ocpp_core.domain.reporting import ChargeReport, Period, Tally
from ocpp_core.management import numbers
from ocpp_core.management.admin_forms import page
from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.exports import Cell, csv_response, file_part, money_cell
from ocpp_core.management.i18n import gettext
from ocpp_core.management.periods import PeriodDep, PeriodForm

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/Reports"
CSV_PATH = "/Home/Reports/Csv"


def kwh(wh: int) -> str:
    """``12_500`` Wh → ``"12.500"``: three places, as on the transactions page."""
    return numbers.thousandths(wh, 3)


def money(tally: Tally, currency: str) -> str | None:
    cents = tally.revenue_cents.get(currency)
    return None if cents is None else numbers.money(cents, currency)


def currencies(report: ChargeReport) -> list[str]:
    return sorted(report.total.revenue_cents)


async def _report(context: ManagementContext, period: Period | None) -> ChargeReport | None:
    if period is None:
        return None
    async with context.db.session() as session:
        return await reporting.charge_report(session, period)


@router.get(PAGE_PATH)
async def report_page(
    request: Request, user: Viewer, context: ContextDep, form: PeriodDep
) -> Response:
    report = await _report(context, form.period())
    values = {
        "form": form,
        "errors": form.errors,
        "report": report,
        "currencies": currencies(report) if report else [],
        "kwh": kwh,
        "money": money,
        "review_limit": reporting.MAX_REVIEW_LINES,
    }
    return page(request, "admin/reports.html", values, status_code=400 if form.errors else 200)


@router.get(CSV_PATH)
async def report_csv(user: Viewer, context: ContextDep, form: PeriodDep) -> Response:
    """One line per tag, so a spreadsheet's sums match the page's totals."""
    report = await _report(context, form.period())
    if report is None:
        return Response(" ".join(form.errors.values()), status_code=400)
    header = [
        gettext("Group"),
        gettext("Tag"),
        gettext("Tag name"),
        gettext("Sessions"),
        gettext("Energy (kWh)"),
        gettext("Sessions under meter review"),
        gettext("Sessions running"),
        *(gettext("Revenue (%(currency)s)", currency=code.upper()) for code in currencies(report)),
    ]
    return csv_response(_file_name(form), header, _rows(report))


def _rows(report: ChargeReport) -> Iterator[list[Cell]]:
    codes = currencies(report)
    for group in report.groups:
        for line in group.tags:
            tally = line.tally
            yield [
                group.group_id,
                line.tag_id if line.tag_id is not None else gettext("(unregistered tags)"),
                line.name,
                tally.sessions,
                Decimal(tally.energy_wh) / 1000,
                tally.under_review,
                tally.running,
                *(money_cell(tally.revenue_cents.get(code)) for code in codes),
            ]


def _file_name(form: PeriodForm) -> str:
    parts = ["ChargeReport", form.since, form.until]
    if form.cp:
        parts.append(file_part(form.cp))
    return f"{'_'.join(parts)}.csv"
