"""The streamed XLSX writer: what it writes reads back in openpyxl, cell by cell, sheet by sheet."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest

from ocpp_core.management.exports import Cell
from ocpp_core.management.xlsx import XlsxStream, column_letter

HEADER = ("Id", "Name", "Start (UTC)", "Energy (kWh)", "Note")


def written(stream: XlsxStream, *batches: Sequence[Sequence[Cell]]) -> bytes:
    return b"".join(stream.add(batch) for batch in batches) + stream.close()


def read(data: bytes) -> dict[str, list[tuple[object, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


@pytest.mark.parametrize(
    ("index", "letters"), [(0, "A"), (15, "P"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")]
)
def test_columns_are_named_as_in_a_spreadsheet(index: int, letters: str) -> None:
    assert column_letter(index) == letters


def test_every_kind_of_cell_reads_back_as_written() -> None:
    start = datetime(2026, 11, 26, 12, 30, 15, tzinfo=UTC)
    rows = [
        (1, '=HYPERLINK("x")', start, Decimal("12.5"), None),
        (2, "  spaced <&> \x07bell", None, Decimal("0.000"), "Ünïcödé"),
    ]

    sheets = read(written(XlsxStream("Transactions", HEADER), rows))

    assert sheets == {
        "Transactions": [
            HEADER,
            (1, '=HYPERLINK("x")', datetime(2026, 11, 26, 12, 30, 15), 12.5, None),
            (2, "  spaced <&> bell", None, 0, "Ünïcödé"),
        ]
    }


def test_a_formula_like_text_stays_a_string_cell() -> None:
    data = written(XlsxStream("T", HEADER), [(1, "=1+1", None, None, None)])

    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert (sheet["B2"].value, sheet["B2"].data_type) == ("=1+1", "s")


def test_rows_beyond_a_sheet_go_on_to_the_next_with_the_header_again() -> None:
    rows = [(n, f"row {n}", None, None, None) for n in range(1, 8)]
    stream = XlsxStream("Transactions", HEADER, rows_per_sheet=4)  # the header and three rows

    sheets = read(written(stream, rows[:2], rows[2:]))

    assert list(sheets) == ["Transactions", "Transactions (2)", "Transactions (3)"]
    assert [len(rows) for rows in sheets.values()] == [4, 4, 2]
    assert all(rows[0] == HEADER for rows in sheets.values())
    assert [row[0] for rows in sheets.values() for row in rows[1:]] == list(range(1, 8))


def test_an_empty_export_is_a_workbook_with_its_header() -> None:
    assert read(written(XlsxStream("Transactions", HEADER))) == {"Transactions": [HEADER]}


def test_the_file_starts_before_its_last_row_is_known() -> None:
    stream = XlsxStream("Transactions", HEADER)
    rows = [(n, f"CP{n}", None, Decimal(n), None) for n in range(5_000)]

    first = stream.add(rows)

    assert first.startswith(b"PK\x03\x04")  # a zip's first entry, sent while rows still come
