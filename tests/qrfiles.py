"""Read QR modules and text back out of the PNG, SVG and PDF files ocpp-core writes.

Each reader returns the module matrix (True is dark) without the quiet zone,
after checking that the quiet zone is there and blank, so a test can compare
it with segno's matrix and hand it to :func:`qrdecode.decode`.
"""

from __future__ import annotations

import io
import re
import zlib
from xml.etree import ElementTree

from PIL import Image

from ocpp_core.qr import QUIET_ZONE

Modules = list[list[bool]]
SVG = "{http://www.w3.org/2000/svg}"


def strip_quiet_zone(grid: Modules, border: int = QUIET_ZONE) -> Modules:
    size = len(grid)
    for index, row in enumerate(grid):
        if index < border or index >= size - border:
            assert not any(row), f"dark module in the quiet zone, row {index}"
        else:
            assert not any(row[:border]), f"dark module in the quiet zone, row {index}"
            assert not any(row[size - border :]), f"dark module in the quiet zone, row {index}"
    return [row[border : size - border] for row in grid[border : size - border]]


def png_modules(data: bytes, scale: int) -> Modules:
    """Every module must be a uniform ``scale`` x ``scale`` square of pure black or white."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    assert width == height, image.size
    assert width % scale == 0, image.size
    grey = image.convert("L")
    pixels = grey.load()
    assert pixels is not None
    size = width // scale
    grid = []
    for row in range(size):
        cells = []
        for column in range(size):
            values = {
                pixels[column * scale + dx, row * scale + dy]
                for dx in range(scale)
                for dy in range(scale)
            }
            assert values in ({0}, {255}), (row, column, values)
            cells.append(values == {0})
        grid.append(cells)
    return strip_quiet_zone(grid)


def svg_document(data: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(data)  # noqa: S314 - our own output


def svg_modules(data: bytes) -> Modules:
    """The dark path segno draws: one horizontal stroke, 1 module wide, per run."""
    root = svg_document(data)
    group = root.find(f"{SVG}g")
    scale = 1.0
    if group is not None:
        match = re.fullmatch(r"scale\(([\d.]+)\)", group.get("transform", ""))
        assert match, group.get("transform")
        scale = float(match.group(1))
    size = round(float(root.get("width", "0")) / scale)
    light = root.find(f".//{SVG}path[@fill='#fff']")
    assert light is not None, "no white background"
    assert light.get("d") == f"M0 0h{size}v{size}h-{size}z"
    dark = root.find(f".//{SVG}path[@class='qrline']")
    assert dark is not None, "no dark modules"
    assert dark.get("stroke") == "#000"
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    tokens = re.findall(r"[A-Za-z]|-?\d+(?:\.\d+)?", dark.get("d", ""))
    position = 0
    while position < len(tokens):
        command = tokens[position]
        if command in "Mm":
            dx, dy = float(tokens[position + 1]), float(tokens[position + 2])
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
            position += 3
        elif command == "h":
            length = round(float(tokens[position + 1]))
            row = int(y)  # strokes run along the module's middle, y + 0.5
            for column in range(round(x), round(x) + length):
                grid[row][column] = True
            x += length
            position += 2
        else:
            raise AssertionError(f"unexpected SVG path command {command!r}")
    return strip_quiet_zone(grid)


def pdf_streams(data: bytes) -> list[bytes]:
    """Every stream, inflated when it is Flate-compressed."""
    streams = []
    for match in re.finditer(rb">>\s*stream\r?\n", data):
        # Sliced by /Length, not up to "endstream": compressed data may itself end in \r.
        head = data[data.rindex(b" obj", 0, match.start()) : match.start()]
        length = re.search(rb"/Length (\d+)", head)
        assert length, "a stream without /Length"
        body = data[match.end() : match.end() + int(length.group(1))]
        streams.append(zlib.decompress(body) if b"/FlateDecode" in head else body)
    return streams


def pdf_page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))


def pdf_qr_codes(data: bytes) -> list[Modules]:
    """The codes in drawing order: each is one filled path of ``x y w h re`` rectangles."""
    codes = []
    for stream in pdf_streams(data):
        for path in re.finditer(rb" q 0 g (.*?) f Q", stream, re.S):
            rects = [
                tuple(float(n) for n in found)
                for found in re.findall(rb"([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) re", path.group(1))
            ]
            module = min(h for _x, _y, _w, h in rects)
            assert all(abs(h - module) < 1e-3 for _x, _y, _w, h in rects)
            left = min(x for x, _y, _w, _h in rects)
            top = min(y for _x, y, _w, _h in rects)
            size = round((max(x + w for x, _y, w, _h in rects) - left) / module)
            grid = [[False] * size for _ in range(size)]
            for x, y, w, _h in rects:
                row, first = round((y - top) / module), round((x - left) / module)
                for column in range(first, first + round(w / module)):
                    grid[row][column] = True
            codes.append(grid)
    return codes


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def pdf_text_lines(data: bytes) -> list[str]:
    """The strings shown with ``Tj``, decoded from the core fonts' Windows-1252."""
    lines = []
    for stream in pdf_streams(data):
        for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", stream, re.S):
            lines.append(_unescape(raw).decode("cp1252"))
    return lines


def pdf_text(data: bytes) -> str:
    """All text, lines joined by spaces (how a line broken at a space reads again)."""
    return " ".join(pdf_text_lines(data))


def _unescape(raw: bytes) -> bytes:
    def replace(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        if escaped[:1].isdigit():
            return bytes([int(escaped, 8)])
        return _ESCAPES.get(escaped, escaped)

    return re.sub(rb"\\([0-7]{1,3}|.)", replace, raw, flags=re.S)
