"""``/Home/Transactions``: filtered transactions with energy and cost; CSV and XLSX exports.

The cost is the linked payment reservation's: what was captured, or what is
due while the capture is pending; a free reservation costs nothing. A
transaction with no reservation (a card at the charger) has no cost here.
Exports take the same filter as the page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import ChargeTag, PaymentReservation, Transaction
from ocpp_core.domain import transactions
from ocpp_core.domain.transactions import TransactionFilter
from ocpp_core.management.admin_forms import day_after, day_start, page, parse_days
from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.exports import Cell, attachment, csv_response, file_part, money_cell
from ocpp_core.management.i18n import gettext
from ocpp_core.management.listing import Keyset, PageKey, SearchText
from ocpp_core.management.numbers import money, thousandths
from ocpp_core.params import parse_db_int

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/Transactions"
CSV_PATH = "/Home/Export"
XLSX_PATH = "/Home/ExportXlsx"
PAGE_SIZE = 50
KEYSET = Keyset((Transaction.start_at, Transaction.id), PAGE_SIZE, descending=True)
EXPORT_LIMIT = 100_000


@dataclass
class Filters:
    """The query as typed, and the problems found in it."""

    cp: str = ""
    conn: str = ""
    tag: str = ""
    since: str = ""
    until: str = ""
    errors: dict[str, str] | None = None

    def to_filter(self, limit: int) -> TransactionFilter:
        errors: dict[str, str] = {}
        connector = parse_db_int(self.conn) if self.conn else None
        if self.conn and connector is None:
            errors["conn"] = gettext("A connector number, e.g. 1.")
        dates = parse_days({"since": self.since, "until": self.until}, errors)
        since, until = dates.get("since"), dates.get("until")
        if since and until and until < since:
            errors["until"] = gettext("The end is before the start.")
        self.errors = errors
        return TransactionFilter(
            charge_point_id=self.cp or None,
            connector_id=connector,
            tag=self.tag or None,
            since=day_start(since) if since else None,
            until=day_after(until) if until else None,  # the whole last day
            limit=limit,
        )

    def query(self) -> dict[str, str]:
        typed = {"cp": self.cp, "conn": self.conn, "tag": self.tag}
        return {**typed, "since": self.since, "until": self.until}


def _typed_filters(
    cp: SearchText = "",
    conn: SearchText = "",
    tag: SearchText = "",
    since: SearchText = "",
    until: SearchText = "",
) -> Filters:
    """The query of the page and of its exports, as typed."""
    return Filters(cp.strip(), conn.strip(), tag.strip(), since.strip(), until.strip())


FiltersDep = Annotated[Filters, Depends(_typed_filters)]


@dataclass(frozen=True, slots=True)
class Line:
    transaction: Transaction
    start_tag_name: str | None
    stop_tag_name: str | None
    reservation: PaymentReservation | None

    @property
    def energy_kwh(self) -> Decimal | None:
        wh = self.transaction.energy_wh
        return None if wh is None else Decimal(wh) / 1000

    @property
    def energy_text(self) -> str | None:
        wh = self.transaction.energy_wh
        return None if wh is None else thousandths(wh, 3)

    @property
    def cost_cents(self) -> int | None:
        row = self.reservation
        if row is None:
            return None
        if row.free:
            return 0
        if row.captured_cents is not None:
            return row.captured_cents
        return row.amount_due_cents

    @property
    def currency(self) -> str | None:
        return self.reservation.currency if self.reservation else None

    @property
    def cost_text(self) -> str:
        cents = self.cost_cents
        if cents is None or self.currency is None:
            return ""
        text = money(cents, self.currency)
        return f"{text} (free)" if self.reservation and self.reservation.free else text


async def _described(session: AsyncSession, found: Sequence[Transaction]) -> list[Line]:
    """The transactions with their tags' names and their reservations."""
    ids = [row.id for row in found]
    tags = {row.start_tag for row in found} | {row.stop_tag for row in found if row.stop_tag}
    names: dict[str, str | None] = {}
    if tags:
        found_names = await session.execute(
            select(ChargeTag.id, ChargeTag.name).where(ChargeTag.id.in_(tags))
        )
        names = dict(found_names.all())
    reservations: dict[int, PaymentReservation] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for reservation in await session.scalars(
            select(PaymentReservation).where(PaymentReservation.transaction_id.in_(chunk))
        ):
            assert reservation.transaction_id is not None
            reservations[reservation.transaction_id] = reservation
    return [
        Line(
            row,
            names.get(row.start_tag),
            names.get(row.stop_tag) if row.stop_tag else None,
            reservations.get(row.id),
        )
        for row in found
    ]


async def _found(context: ManagementContext, filters: Filters, limit: int) -> list[Line]:
    """The lines that match, or none when the filter has errors."""
    where = filters.to_filter(limit)
    if filters.errors:
        return []
    async with context.db.session() as session:
        return await _described(session, await transactions.search(session, where))


@router.get(PAGE_PATH)
async def transactions_page(
    request: Request,
    user: Viewer,
    context: ContextDep,
    filters: FiltersDep,
    before: PageKey = "",
    after: PageKey = "",
) -> Response:
    """A page of the transactions that match, newest first."""
    where = filters.to_filter(PAGE_SIZE)
    at = {"before": KEYSET.read(before), "after": KEYSET.read(after)}
    found, lines = None, []
    if not filters.errors:
        async with context.db.reading() as session:
            found = await KEYSET.page(session, transactions.matching(where), **at)
            lines = await _described(session, [row.Transaction for row in found.rows])
    total_wh = sum(line.transaction.energy_wh or 0 for line in lines)
    values = {
        "filters": filters,
        "errors": filters.errors or {},
        "lines": lines,
        "total_kwh": thousandths(total_wh, 3),
        "export_query": filters.query(),
        **KEYSET.links(found, filters.query()),
    }
    return page(
        request, "admin/transactions.html", values, status_code=400 if filters.errors else 200
    )


HEADER = (
    "Transaction",
    "Charge point",
    "Connector",
    "Start (UTC)",
    "Start tag",
    "Start tag name",
    "Meter start (kWh)",
    "Stop (UTC)",
    "Stop tag",
    "Stop tag name",
    "Meter stop (kWh)",
    "Energy (kWh)",
    "Review",
    "Cost",
    "Currency",
    "Payment status",
)


def _cells(line: Line) -> tuple[Cell, ...]:
    row = line.transaction
    cost = line.cost_cents
    return (
        row.id,
        row.charge_point_id,
        row.connector_id,
        row.start_at,
        row.start_tag,
        line.start_tag_name,
        _kwh(transactions.start_register(row)),
        row.stop_at,
        row.stop_tag,
        line.stop_tag_name,
        _kwh(row.meter_stop_wh),
        line.energy_kwh,
        row.review_reason,
        money_cell(cost),
        line.currency.upper() if line.currency else None,
        line.reservation.status if line.reservation else None,
    )


def _kwh(register_wh: int | None) -> Decimal | None:
    return None if register_wh is None else Decimal(register_wh) / 1000


def _file_name(filters: Filters, extension: str) -> str:
    parts = ["Transactions"]
    if filters.cp:
        parts.append(file_part(filters.cp))
    if filters.conn and not (filters.errors or {}).get("conn"):
        parts.append(filters.conn)
    return f"{'_'.join(parts)}.{extension}"


@router.get(CSV_PATH)
async def export_csv(user: Viewer, context: ContextDep, filters: FiltersDep) -> Response:
    lines = await _found(context, filters, EXPORT_LIMIT)
    return csv_response(_file_name(filters, "csv"), HEADER, (_cells(line) for line in lines))


@router.get(XLSX_PATH)
async def export_xlsx(user: Viewer, context: ContextDep, filters: FiltersDep) -> Response:
    lines = await _found(context, filters, EXPORT_LIMIT)
    return Response(
        _workbook(lines),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=attachment(_file_name(filters, "xlsx")),
    )


def _workbook(lines: Sequence[Line]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Transactions"
    sheet.append(list(HEADER))
    for line in lines:
        sheet.append([_xlsx_value(value) for value in _cells(line)])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    for index, title in enumerate(HEADER, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, len(title) + 2)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value: Cell) -> Cell:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # XLSX has no time zones: the column says UTC
    return value
