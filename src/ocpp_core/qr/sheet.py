"""A printable A4 sheet of connector labels: QR code, station, connector, price.

Eight labels a page (two columns, four rows, 95 x 66 mm, dashed cut lines).
The QR code is drawn as vector rectangles, one filled path per code, so it
stays sharp at any printer resolution and shows no hairline seams.

Text uses the PDF core font Helvetica in the Windows-1252 encoding, so nothing
is embedded and the file stays small: that prints the euro sign, German
umlauts and ß, and the other Western European letters. A character outside
it (say Polish ł or Cyrillic in a station name) is printed without its accent
where that makes a letter, else as ``?``; a sheet is never refused for it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast
from urllib.parse import unquote

from fpdf import FPDF
from fpdf.drawing import GraphicsContext, PaintedPath
from fpdf.enums import MethodReturnValue

from ocpp_core.qr.codes import QUIET_ZONE, qr_matrix

ENCODING = "cp1252"
FONT = "helvetica"
COLUMNS, ROWS = 2, 4
PER_PAGE = COLUMNS * ROWS
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0  # A4, mm
MARGIN_X, MARGIN_Y, GAP = 8.0, 10.0, 4.0
LABEL_WIDTH = (PAGE_WIDTH - 2 * MARGIN_X - (COLUMNS - 1) * GAP) / COLUMNS
LABEL_HEIGHT = (PAGE_HEIGHT - 2 * MARGIN_Y - (ROWS - 1) * GAP) / ROWS
QR_SIDE = 50.0  # mm, quiet zone included
PADDING = 4.0
QR_INSET = 2.0  # from the label's left edge; the quiet zone is the rest of the margin
TEXT_WIDTH = LABEL_WIDTH - QR_INSET - QR_SIDE - 1.0 - PADDING
CUT_LINE_GREY = 170
SCAN_AND_PAY = "Scan to charge · pay by card"
SCAN_FREE = "Scan to charge · free"
# Letters without a decomposition to a base letter that Windows-1252 has.
_FALLBACK = str.maketrans(
    {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "\u0131": "i", "Ħ": "H", "ħ": "h"}
)


@dataclass(frozen=True, slots=True)
class Label:
    """One connector's label; ``url`` is what the QR code carries."""

    charge_point_id: str
    connector_id: int
    station_name: str
    price_text: str
    url: str
    connector_name: str | None = None
    short_url: str | None = None  # printed under the code, for typing
    call_to_action: str = SCAN_AND_PAY
    display_code: str | None = None  # the station's public code, when it has one

    @property
    def code(self) -> str:
        """``HR-ZG-01 · connector 2`` (and the connector's name when it has one).

        The public code is what drivers quote to support, so it wins over the OCPP id.
        """
        text = f"{self.display_code or self.charge_point_id} · connector {self.connector_id}"
        return f"{text} · {self.connector_name}" if self.connector_name else text


def label_sheet_pdf(labels: Sequence[Label], *, title: str = "Charging labels") -> bytes:
    """The labels, eight to an A4 page, as a PDF document."""
    if not labels:
        raise ValueError("no labels to print")
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(0, 0, 0)
    pdf.c_margin = 0
    pdf.set_title(printable(title))
    pdf.set_creator("ocpp-core")
    pdf.set_lang("en")
    for index, label in enumerate(labels):
        if index % PER_PAGE == 0:
            pdf.add_page()
        row, column = divmod(index % PER_PAGE, COLUMNS)
        x = MARGIN_X + column * (LABEL_WIDTH + GAP)
        y = MARGIN_Y + row * (LABEL_HEIGHT + GAP)
        _draw_label(pdf, label, x, y)
    return bytes(pdf.output())


def page_count(label_count: int) -> int:
    return math.ceil(label_count / PER_PAGE)


def printable(text: str) -> str:
    """``text`` in Windows-1252: accents dropped where that leaves a letter, else ``?``.

    Runs of spaces and tabs become one space; line breaks are kept.
    """
    lines = (" ".join(line.split()) for line in text.strip().splitlines())
    out = []
    for char in "\n".join(lines).translate(_FALLBACK):
        if _encodable(char):
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and _encodable(base) else "?")
    return "".join(out)


def _encodable(text: str) -> bool:
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _draw_label(pdf: FPDF, label: Label, x: float, y: float) -> None:
    pdf.set_draw_color(CUT_LINE_GREY)
    pdf.set_line_width(0.2)
    with pdf.local_context():
        pdf.set_dash_pattern(dash=1.5, gap=1.5)
        pdf.rect(x, y, LABEL_WIDTH, LABEL_HEIGHT, style="D", round_corners=True, corner_radius=3)
    qr_x, qr_y = x + QR_INSET, y + QR_INSET
    draw_qr(pdf, label.url, qr_x, qr_y, QR_SIDE)
    if label.short_url:
        # Under the code, outside its quiet zone: the link to type without a camera.
        link = _link_lines(pdf, label.short_url, QR_SIDE)
        _put(pdf, link, _LINK, qr_x, qr_y + QR_SIDE, QR_SIDE, align="C")
    _draw_text(pdf, label, qr_x + QR_SIDE + 1.0, y)


def display_url(url: str) -> str:
    """The URL as people type it: no scheme, the id not percent-encoded."""
    return unquote(url.split("://", 1)[-1])


def _link_lines(pdf: FPDF, url: str, width: float) -> list[str]:
    """The link on one line, or broken after the host rather than mid-word."""
    text = display_url(url)
    _font(pdf, _LINK)
    if pdf.get_string_width(printable(text)) <= width:
        return [text]
    host, slash, path = text.partition("/")
    return _lines(pdf, f"{host} {slash}{path}", _LINK, width, max_lines=2)


def draw_qr(pdf: FPDF, url: str, x: float, y: float, side: float) -> None:
    """The code for ``url`` in a ``side`` mm square at (x, y), quiet zone included.

    Each row's run of dark modules is one rectangle; all of them fill one path.
    """
    matrix = qr_matrix(url)
    module = side / (len(matrix) + 2 * QUIET_ZONE)
    left, top = x + QUIET_ZONE * module, y + QUIET_ZONE * module
    path = PaintedPath()
    path.style.fill_color = "#000000"
    path.style.stroke_color = None
    for row_index, row in enumerate(matrix):
        start = None
        for column, dark in enumerate((*row, False)):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                path.rectangle(
                    left + start * module,
                    top + row_index * module,
                    (column - start) * module,
                    module,
                )
                start = None
    # Ours alone, so fpdf2 needn't deep-copy it (which took most of a sheet's time).
    code = GraphicsContext()
    code.add_item(path, clone=False)
    pdf.draw_path(code, copy=False)


@dataclass(frozen=True, slots=True)
class _Style:
    size: float  # points
    line: float  # mm
    bold: bool = False


_NAME = _Style(12.5, 5.4, bold=True)
_CODE = _Style(9.5, 4.3)
_PRICE = _Style(8, 3.5)
_ACTION = _Style(10, 4.5, bold=True)
_LINK = _Style(7, 3.0)


def _draw_text(pdf: FPDF, label: Label, x: float, y: float) -> None:
    width = TEXT_WIDTH
    top = y + PADDING + 1.0
    top = _write(pdf, label.station_name, _NAME, x, top, width, max_lines=2)
    top = _write(pdf, label.code, _CODE, x, top, width, max_lines=2) + 1.5
    # The call to action sits at the bottom; the price fills what is between.
    action = _lines(pdf, label.call_to_action, _ACTION, width, max_lines=2)
    action_top = y + LABEL_HEIGHT - PADDING - len(action) * _ACTION.line
    room = max(1, int((action_top - 1.5 - top) // _PRICE.line))
    _write(pdf, label.price_text, _PRICE, x, top, width, max_lines=room)
    _put(pdf, action, _ACTION, x, action_top, width)


def _write(
    pdf: FPDF, text: str, style: _Style, x: float, y: float, width: float, *, max_lines: int
) -> float:
    return _put(pdf, _lines(pdf, text, style, width, max_lines=max_lines), style, x, y, width)


def _put(
    pdf: FPDF,
    lines: list[str],
    style: _Style,
    x: float,
    y: float,
    width: float,
    *,
    align: Literal["L", "C"] = "L",
) -> float:
    """Write the lines from (x, y) down; returns the y below the last one."""
    _font(pdf, style)
    for line in lines:
        pdf.set_xy(x, y)
        pdf.cell(width, style.line, line, align=align)
        y += style.line
    return y


def _lines(pdf: FPDF, text: str, style: _Style, width: float, *, max_lines: int) -> list[str]:
    """``text`` broken to fit ``width``; past ``max_lines`` the last line ends with …."""
    _font(pdf, style)
    broken = cast(
        list[str],
        pdf.multi_cell(
            width, style.line, printable(text), dry_run=True, output=MethodReturnValue.LINES
        ),
    )
    # fpdf2 hands the lines back encoded for the core font (as latin-1 text): undo that.
    lines = [line.encode("latin-1").decode(ENCODING) for line in broken]
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    last = kept[-1]
    while last and pdf.get_string_width(last + "…") > width:
        last = last[:-1]
    kept[-1] = last.rstrip(" ,·") + "…"
    return kept


def _font(pdf: FPDF, style: _Style) -> None:
    pdf.set_font(FONT, "B" if style.bold else "", style.size)
    pdf.set_text_color(0)
