"""The CSV downloads of the operator pages, written the one way spreadsheets read well.

``;`` separates the cells, as in the original: it is what spreadsheets in most
of Europe expect. A byte-order mark tells Excel the file is UTF-8, and a text
that starts like a formula is kept as text, so a tag named ``=HYPERLINK(...)``
can't run in the operator's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from starlette.responses import Response

CSV_SEPARATOR = ";"
_CENT = Decimal("0.01")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | Decimal | datetime | None


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Response:
    """The rows under their header, as a download called ``name``; times are shown as UTC."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=CSV_SEPARATOR, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_text(value) for value in row])
    data = ("\ufeff" + buffer.getvalue()).encode()
    return Response(data, media_type="text/csv; charset=utf-8", headers=attachment(name))


def money_cell(cents: int | None) -> Decimal | None:
    """Cents as a number a spreadsheet adds up: ``600`` → ``6.00``."""
    return None if cents is None else (Decimal(cents) / 100).quantize(_CENT)


def csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str):
        return f"'{value}" if value.startswith(_FORMULA_START) else value
    return str(value)


def file_part(text: str) -> str:
    """``text`` fit for a file name: a charge point id may hold characters a file system refuses."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
