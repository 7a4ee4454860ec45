"""``/Home/Reports``: energy and revenue per tag and tag group over a period, and its CSV.

The numbers come from :mod:`ocpp_core.domain.reporting`; this module only
shows them. Energy and money stay integers (Wh, cents) until they are
formatted here, and each currency keeps a column of its own. A fleet has
thousands of tags: the page shows the groups and tags that charged the most,
the others summed in a line each, so it stays small; the CSV has every tag.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.domain import reporting
from ocpp_core.domain.report_figures import REPORT
from ocpp_core.domain.report_snapshots import Figures
from ocpp_core.domain.reporting import ChargeReport, GroupLine, Period, TagLine, Tally
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
SHOWN_GROUPS = 20  # the groups that charged the most; the others in one line
SHOWN_TAGS = 20  # per group, likewise


@dataclass(frozen=True, slots=True)
class Rest:
    """What the lines not shown add up to, and how many they are."""

    count: int
    tally: Tally = field(default_factory=Tally)


@dataclass(frozen=True, slots=True)
class ShownGroup:
    group: GroupLine
    tags: list[TagLine]  # the tags that charged the most, in tag order
    rest: Rest | None  # the group's other tags


@dataclass(frozen=True, slots=True)
class Shown:
    groups: list[ShownGroup]  # in group order
    rest: Rest | None  # the other groups


def _most(lines: Sequence[TagLine | GroupLine], limit: int) -> set[int]:
    """Where the ``limit`` lines with the most energy (then sessions) are in ``lines``."""
    order = sorted(
        range(len(lines)), key=lambda n: (-lines[n].tally.energy_wh, -lines[n].tally.sessions, n)
    )
    return set(order[:limit])


def _rest(lines: Sequence[TagLine | GroupLine]) -> Rest | None:
    if not lines:
        return None
    rest = Rest(len(lines))
    for line in lines:
        rest.tally.add(line.tally)
    return rest


def shown(report: ChargeReport, *, groups: int = SHOWN_GROUPS, tags: int = SHOWN_TAGS) -> Shown:
    """The lines the page shows: the largest groups and, in each, its largest tags."""
    chosen = _most(report.groups, groups)
    kept: list[ShownGroup] = []
    for n, group in enumerate(report.groups):
        if n in chosen:
            top = _most(group.tags, tags)
            lines = [line for i, line in enumerate(group.tags) if i in top]
            others = [line for i, line in enumerate(group.tags) if i not in top]
            kept.append(ShownGroup(group, lines, _rest(others)))
    return Shown(kept, _rest([g for n, g in enumerate(report.groups) if n not in chosen]))


def kwh(wh: int) -> str:
    """``12_500`` Wh → ``"12.500"``: three places, as on the transactions page."""
    return numbers.thousandths(wh, 3)


def money(tally: Tally, currency: str) -> str | None:
    cents = tally.revenue_cents.get(currency)
    return None if cents is None else numbers.money(cents, currency)


def currencies(report: ChargeReport) -> list[str]:
    return sorted(report.total.revenue_cents)


async def _report(context: ManagementContext, period: Period) -> ChargeReport:
    async with context.db.reading() as session:
        return await reporting.charge_report(session, period)


async def kept_report(context: ManagementContext, period: Period) -> Figures[ChargeReport] | None:
    """The page's figures, at most ``figures_max_age_seconds`` old (see report_snapshots).

    None while a period's first figures take longer than the page may wait for them.
    """
    now = context.clock()
    return await context.snapshots.figures(REPORT, period, partial(_report, context, period), now)


@router.get(PAGE_PATH)
async def report_page(
    request: Request, user: Viewer, context: ContextDep, form: PeriodDep
) -> Response:
    period = form.period()
    kept = None if period is None else await kept_report(context, period)
    report = kept.value if kept else None
    values = {
        "form": form,
        "errors": form.errors,
        "pending": period is not None and kept is None,
        "computed_at": kept.computed_at if kept else None,
        "report": report,
        "shown": shown(report) if report else None,
        "shown_groups": SHOWN_GROUPS,
        "shown_tags": SHOWN_TAGS,
        "currencies": currencies(report) if report else [],
        "kwh": kwh,
        "money": money,
        "review_limit": reporting.MAX_REVIEW_LINES,
    }
    return page(request, "admin/reports.html", values, status_code=400 if form.errors else 200)


@router.get(CSV_PATH)
async def report_csv(user: Viewer, context: ContextDep, form: PeriodDep) -> Response:
    """One line per tag, so a spreadsheet's sums match the page's totals.

    Computed afresh, never from a snapshot: an export is a deliberate act, and
    a file has no place to say how old its figures are.
    """
    period = form.period()
    if period is None:
        return Response(" ".join(form.errors.values()), status_code=400)
    report = await _report(context, period)
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
