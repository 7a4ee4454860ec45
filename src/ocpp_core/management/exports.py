"""The downloads of the operator pages: CSV written the one way spreadsheets read well, streamed.

``;`` separates the cells, as in the original: it is what spreadsheets in most
of Europe expect. A byte-order mark tells Excel the file is UTF-8, and a text
that starts like a formula is kept as text, so a tag named ``=HYPERLINK(...)``
can't run in the operator's spreadsheet.

A large download (a year of a fleet's transactions) is never built whole: its
rows come from the database in batches, each batch is turned into bytes in a
worker thread and sent before the next is read. Memory stays that of a batch,
the first bytes leave at once, and the event loop, which also answers the
chargers when one process runs everything, only passes the batches along.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypeVar

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

CSV_SEPARATOR = ";"
_CENT = Decimal("0.01")
_NOT_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_TYPE = "text/csv; charset=utf-8"

Cell = str | int | Decimal | datetime | None
Row = TypeVar("Row")


class SheetStream(Protocol):
    """A file written batch by batch: each call returns the bytes to send next."""

    def add(self, rows: Sequence[Sequence[Cell]]) -> bytes: ...

    def close(self) -> bytes: ...


class CsvStream:
    """The CSV of the module docstring, header first; times are shown as UTC."""

    def __init__(self, header: Sequence[str]) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, delimiter=CSV_SEPARATOR, lineterminator="\r\n")
        self._buffer.write("\ufeff")
        self._writer.writerow(header)

    def add(self, rows: Sequence[Sequence[Cell]]) -> bytes:
        self._writer.writerows([csv_text(value) for value in row] for row in rows)
        return self._take()

    def close(self) -> bytes:
        return self._take()

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode()


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Response:
    """A small table (a report's lines) as a CSV download called ``name``."""
    sheet = CsvStream(header)
    data = sheet.add(list(rows)) + sheet.close()
    return Response(data, media_type=CSV_TYPE, headers=attachment(name))


class Download(StreamingResponse):
    """A file called ``name`` written batch by batch as the rows arrive.

    ``done`` runs when the response ends, however it ends (the client may go
    away mid-file): it frees what the download held, such as its export slot.
    """

    def __init__(
        self,
        sheet: SheetStream,
        batches: AsyncIterable[Sequence[Row]],
        cells: Callable[[Row], Sequence[Cell]],
        *,
        name: str,
        media_type: str,
        done: Callable[[], Awaitable[None]],
    ) -> None:
        self._chunks = _chunks(sheet, batches, cells)
        self._done = done
        super().__init__(self._chunks, media_type=media_type, headers=attachment(name))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._chunks.aclose()
            await self._done()


async def _chunks(
    sheet: SheetStream,
    batches: AsyncIterable[Sequence[Row]],
    cells: Callable[[Row], Sequence[Cell]],
) -> AsyncGenerator[bytes]:
    async for batch in batches:
        data = await asyncio.to_thread(_written, sheet, batch, cells)
        if data:
            yield data
    yield await asyncio.to_thread(sheet.close)


def _written(
    sheet: SheetStream, batch: Sequence[Row], cells: Callable[[Row], Sequence[Cell]]
) -> bytes:
    return sheet.add([cells(row) for row in batch])


def money_cell(cents: int | None) -> Decimal | None:
    """Cents as a number a spreadsheet adds up: ``600`` → ``6.00``."""
    return None if cents is None else (Decimal(cents) / 100).quantize(_CENT)


def csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(" ", "seconds")[:19]  # as strftime would, at half the cost
    if isinstance(value, str):
        return f"'{value}" if value.startswith(_FORMULA_START) else value
    return str(value)


def file_part(text: str) -> str:
    """``text`` fit for a file name in a header: a charge point id may hold characters a file
    system refuses, and a typed filter any letter, where a header holds Latin-1 only."""
    return _NOT_IN_FILE_NAMES.sub("_", text)


def attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
