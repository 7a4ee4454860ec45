"""QR codes for the deep links, as SVG and PNG.

Error correction is at least Q (a quarter of the symbol may be dirt, a
scratch or a sticker edge) and segno raises it further when that fits in the
same size. The four-module quiet zone scanners need is always kept, and the
light modules are painted white: a transparent background on a dark page or
a dark-mode screen can't be scanned.
"""

from __future__ import annotations

import io
from typing import Any

import segno

ERROR_CORRECTION = "q"
QUIET_ZONE = 4  # modules; the QR specification's minimum
DARK = "#000"
LIGHT = "#fff"


def qr_code(url: str) -> Any:
    """The symbol (a ``segno.QRCode``) for ``url``: a full QR code, never a Micro QR."""
    if not url:
        raise ValueError("nothing to encode: the URL is empty")
    return segno.make(url, error=ERROR_CORRECTION, micro=False)


def qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """Rows of modules, True for dark, without the quiet zone."""
    return tuple(tuple(bool(module) for module in row) for row in qr_code(url).matrix)


def qr_svg(
    url: str, scale: int = 10, *, title: str | None = None, xml_declaration: bool = True
) -> bytes:
    """An SVG document: ``scale`` px per module, a ``<title>`` and ``role="img"``.

    It has a viewBox as well as a size, so CSS can scale it inline; for an
    inline ``<svg>`` in a page, leave out the XML declaration.
    """
    _check_scale(scale)
    code = qr_code(url)
    buffer = io.BytesIO()
    code.save(
        buffer,
        kind="svg",
        scale=scale,
        border=QUIET_ZONE,
        dark=DARK,
        light=LIGHT,
        title=title if title is not None else f"QR code: {url}",
        xmldecl=xml_declaration,
        nl=True,
    )
    svg = buffer.getvalue()
    width, height = code.symbol_size(scale=scale, border=QUIET_ZONE)
    # segno writes width and height but no viewBox; the attributes are plain ASCII.
    extra = f'<svg role="img" viewBox="0 0 {width} {height}" '.encode("ascii")
    return svg.replace(b"<svg ", extra, 1)


def qr_png(url: str, scale: int = 10) -> bytes:
    """A black-on-white PNG, ``scale`` pixels per module, quiet zone included."""
    _check_scale(scale)
    buffer = io.BytesIO()
    qr_code(url).save(buffer, kind="png", scale=scale, border=QUIET_ZONE, dark=DARK, light=LIGHT)
    return buffer.getvalue()


def _check_scale(scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 100:
        raise ValueError(f"scale must be a whole number of pixels per module, 1-100, not {scale!r}")
