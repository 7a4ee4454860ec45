"""A spreadsheet (XLSX) written row by row into a stream: the start goes out before the end exists.

An XLSX file is a zip of XML parts. openpyxl builds the whole workbook
before it writes a byte (a year of a fleet's transactions took 17 s and
700 MB); here the rows are compressed as they come and each call hands back
the bytes ready to send, so memory stays that of one batch of rows. The zip
is written without seeking (sizes follow each part), and the parts that list
the sheets come last, once the number of sheets is known.

Strings are inline strings, never formulas, whatever they start with. Times
are Excel serial numbers in a date format; they carry no time zone, so the
column headings say UTC. A sheet holds at most ``MAX_ROWS`` rows, Excel's
limit: more rows go on to a second sheet, with the header again.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import IO
from xml.sax.saxutils import escape

from ocpp_core.management.exports import Cell

MAX_ROWS = 1_048_576  # Excel's rows per sheet, the header included
_EXCEL_EPOCH = datetime(1899, 12, 30)  # serial day 0; XLSX times have no zone
_ONE_DAY = timedelta(days=1)
_DATE_STYLE = 1  # the second cell format of the styles part: a date and time
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML can't carry

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES = "application/vnd.openxmlformats-officedocument"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PACKAGE_RELS}">'
    f'<Relationship Id="rId1" Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)


def column_letter(index: int) -> str:
    """``0`` → ``A``, ``26`` → ``AA``: a column's name in a cell reference."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class _Sink:
    """Collects what the zip writes; having no ``tell``, it makes zipfile write without seeking."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: ``take`` hands the bytes on."""

    def close(self) -> None:
        """Nothing to close: the bytes live in memory until taken."""

    def take(self) -> bytes:
        data = bytes(self.data)
        self.data.clear()
        return data


class XlsxStream:
    """One workbook whose sheets are all named ``title`` (numbered from the second on).

    Call ``add`` with each batch of rows, then ``close``; each returns the bytes
    to send next. Not thread-safe: one caller at a time, in order.
    """

    def __init__(
        self, title: str, header: Sequence[str], *, rows_per_sheet: int = MAX_ROWS
    ) -> None:
        self._title = title
        self._rows_per_sheet = rows_per_sheet
        self._header = header
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_DEFLATED)
        self._letters = [column_letter(index) for index in range(len(header))]
        self._sheets = 0
        self._part: IO[bytes] | None = None
        self._row = 0

    def add(self, rows: Sequence[Sequence[Cell]]) -> bytes:
        done = 0
        while done < len(rows):
            if self._part is None or self._row == self._rows_per_sheet:
                self._next_sheet()
            room = self._rows_per_sheet - self._row
            self._write_rows(rows[done : done + room])
            done += room
        return self._sink.take()

    def close(self) -> bytes:
        if self._part is None:
            self._next_sheet()  # an empty export is still a workbook with its header
        self._end_sheet()
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._zip.writestr("xl/workbook.xml", self._workbook())
        self._zip.writestr("xl/_rels/workbook.xml.rels", self._workbook_rels())
        self._zip.writestr("_rels/.rels", _ROOT_RELS)
        self._zip.writestr("[Content_Types].xml", self._content_types())
        self._zip.close()
        return self._sink.take()

    def _next_sheet(self) -> None:
        self._end_sheet()
        self._sheets += 1
        self._part = self._zip.open(f"xl/worksheets/sheet{self._sheets}.xml", "w")
        widths = "".join(
            f'<col min="{n}" max="{n}" width="{max(12, len(title) + 2)}" customWidth="1"/>'
            for n, title in enumerate(self._header, start=1)
        )
        self._part.write(
            (
                f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELS}"><sheetViews>'
                '<sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2"'
                ' activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
                f"<cols>{widths}</cols><sheetData>"
            ).encode()
        )
        self._row = 0
        self._write_rows([self._header])

    def _end_sheet(self) -> None:
        if self._part is not None:
            self._part.write(b"</sheetData></worksheet>")
            self._part.close()
            self._part = None

    def _write_rows(self, rows: Sequence[Sequence[Cell]]) -> None:
        """The rows as XML, in one write: this loop is an export's hot path, hence inline."""
        assert self._part is not None
        parts: list[str] = []
        number = self._row
        for row in rows:
            number += 1
            parts.append(f'<row r="{number}">')
            for letter, value in zip(self._letters, row, strict=True):
                if value is None:
                    continue
                if isinstance(value, str):
                    text = escape(_NOT_XML.sub("", value))
                    parts.append(
                        f'<c r="{letter}{number}" t="inlineStr">'
                        f'<is><t xml:space="preserve">{text}</t></is></c>'
                    )
                elif isinstance(value, datetime):
                    serial = (value.replace(tzinfo=None) - _EXCEL_EPOCH) / _ONE_DAY
                    parts.append(f'<c r="{letter}{number}" s="{_DATE_STYLE}"><v>{serial!r}</v></c>')
                else:
                    parts.append(f'<c r="{letter}{number}"><v>{value}</v></c>')
            parts.append("</row>")
        self._row = number
        self._part.write("".join(parts).encode())

    def _names(self) -> list[str]:
        return [self._title, *(f"{self._title} ({n})" for n in range(2, self._sheets + 1))]

    def _workbook(self) -> str:
        sheets = "".join(
            f'<sheet name="{escape(name)}" sheetId="{n}" r:id="rId{n}"/>'
            for n, name in enumerate(self._names(), start=1)
        )
        return (
            f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}">'
            f"<sheets>{sheets}</sheets></workbook>"
        )

    def _workbook_rels(self) -> str:
        sheets = "".join(
            f'<Relationship Id="rId{n}" Type="{_RELS}/worksheet" Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, self._sheets + 1)
        )
        styles = (
            f'<Relationship Id="rId{self._sheets + 1}" Type="{_RELS}/styles" Target="styles.xml"/>'
        )
        return f'{_XML}<Relationships xmlns="{_PACKAGE_RELS}">{sheets}{styles}</Relationships>'

    def _content_types(self) -> str:
        sheets = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml"'
            f' ContentType="{_TYPES}.spreadsheetml.worksheet+xml"/>'
            for n in range(1, self._sheets + 1)
        )
        return (
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="{_TYPES}.package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml"'
            f' ContentType="{_TYPES}.spreadsheetml.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_TYPES}.spreadsheetml.styles+xml"/>'
            f"{sheets}</Types>"
        )
