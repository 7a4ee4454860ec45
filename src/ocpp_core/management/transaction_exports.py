"""``/Home/Export`` and ``/Home/ExportXlsx``: every transaction the page's filter finds, streamed.

Exports take the same filter as the transactions page and hold every
transaction it matches, however many: no cap, and the file's name says how
many rows it holds. The file is written as the rows come (see
:mod:`ocpp_core.management.exports`), so its first bytes leave at once and
the server's memory stays that of one batch. A few exports run at once
(``management.max_exports``, across all nodes); one more is answered 503 with
a word to try again shortly, rather than slowing every export and the
chargers' server down.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.responses import Response

from ocpp_core.domain import transaction_export
from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep
from ocpp_core.management.exports import (
    CSV_TYPE,
    Cell,
    CsvStream,
    Download,
    SheetStream,
    file_part,
    money_cell,
)
from ocpp_core.management.i18n import N_
from ocpp_core.management.transactions import Filters, FiltersDep
from ocpp_core.management.xlsx import XlsxStream

router = APIRouter(include_in_schema=False)

CSV_PATH = "/Home/Export"
XLSX_PATH = "/Home/ExportXlsx"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RETRY_SECONDS = 30
BUSY = N_("Other exports are being written right now. Please try again in half a minute.")

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


@router.get(CSV_PATH)
async def export_csv(user: Viewer, context: ContextDep, filters: FiltersDep) -> Response:
    return await _export(context, filters, CsvStream(HEADER), "csv", CSV_TYPE)


@router.get(XLSX_PATH)
async def export_xlsx(user: Viewer, context: ContextDep, filters: FiltersDep) -> Response:
    return await _export(context, filters, XlsxStream("Transactions", HEADER), "xlsx", XLSX_TYPE)


async def _export(
    context: ContextDep, filters: Filters, sheet: SheetStream, extension: str, media_type: str
) -> Response:
    where = filters.to_filter(limit=transaction_export.BATCH_SIZE)  # the batches' size, no cap
    if filters.errors:
        return Response(" ".join(filters.errors.values()), status_code=400)
    slot = await context.exports.take(context.db, limit=context.settings.management.max_exports)
    if slot is None:
        raise HTTPException(503, BUSY, headers={"Retry-After": str(RETRY_SECONDS)})
    try:
        async with context.db.reading() as session:
            up_to = await transaction_export.last_id(session)
            rows = await transaction_export.count(session, where, up_to=up_to)
    except BaseException:
        await slot.give_back()
        raise
    return Download(
        sheet,
        transaction_export.batches(context.db, where, up_to=up_to),
        _cells,
        name=_file_name(filters, rows, extension),
        media_type=media_type,
        done=slot.give_back,
    )


def _cells(row: Sequence[Any]) -> tuple[Cell, ...]:
    """One line of the file; the row is unpacked by position, a row's names cost far more."""
    (
        transaction_id,
        charge_point_id,
        connector_id,
        start_at,
        start_tag,
        start_tag_name,
        meter_start_wh,
        stop_at,
        stop_tag,
        stop_tag_name,
        meter_stop_wh,
        energy_wh,
        review_reason,
        cost_cents,
        currency,
        status,
    ) = row  # in the order of transaction_export's columns
    return (
        transaction_id,
        charge_point_id,
        connector_id,
        start_at,
        start_tag,
        start_tag_name,
        _kwh(meter_start_wh),
        stop_at,
        stop_tag,
        stop_tag_name,
        _kwh(meter_stop_wh),
        _kwh(energy_wh),
        review_reason,
        money_cell(None if cost_cents is None else int(cost_cents)),
        currency.upper() if currency else None,
        status,
    )


def _kwh(register_wh: int | None) -> Decimal | None:
    return None if register_wh is None else Decimal(register_wh) / 1000


def _file_name(filters: Filters, rows: int, extension: str) -> str:
    """What the file holds, ending with its number of rows: ``Transactions_CP1_1_2-rows.csv``."""
    parts = ["Transactions"]
    if filters.cp:
        parts.append(file_part(filters.cp))
    if filters.conn and not (filters.errors or {}).get("conn"):
        parts.append(filters.conn)
    parts.append(f"{rows}-rows")
    return f"{'_'.join(parts)}.{extension}"
