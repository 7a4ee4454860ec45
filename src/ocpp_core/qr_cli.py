"""The ``ocpp-core qr`` command; the main ``ocpp-core`` group attaches it.

It lives outside ``ocpp_core.qr``, whose package loads the PDF and QR code
libraries and the database layer: the command imports them when it runs, so
``ocpp-core --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ocpp_core.cli_support import cli_settings, in_session, run

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ocpp_core.config import Settings
    from ocpp_core.qr.sheet import Label

_CODE_FORMATS = (".svg", ".png")


@click.command("qr")
@click.argument("charge_point_ids", nargs=-1, metavar="[ID]...")
@click.option(
    "--conn",
    "connector_id",
    type=click.IntRange(min=1),
    help="Connector number for a single code (default 1).",
)
@click.option(
    "--sheet",
    is_flag=True,
    help="Write a PDF label sheet: every connector of the IDs given, or of all charge points.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write: FILE.svg or FILE.png for one code, FILE.pdf with --sheet.",
)
@click.option(
    "--base-url",
    help="Public base URL of the management app (default OCPP_CORE_PUBLIC_BASE_URL).",
)
@click.option(
    "--scale",
    type=click.IntRange(1, 100),
    help="Pixels per module of an SVG or PNG (default 10).",
)
@click.pass_context
def qr(
    ctx: click.Context,
    charge_point_ids: tuple[str, ...],
    connector_id: int | None,
    sheet: bool,
    out: Path,
    base_url: str | None,
    scale: int | None,
) -> None:
    """QR codes that open the public start page of a connector.

    One code, its format taken from the file name:

    \b
        ocpp-core qr CP-1 --conn 2 --out cp-1-2.svg
        ocpp-core qr CP-1 --conn 2 --out cp-1-2.png

    A printable A4 sheet, eight labels a page (QR code, station, connector,
    price), for every connector of the charge points given, or of all:

    \b
        ocpp-core qr --sheet --out labels.pdf
        ocpp-core qr --sheet CP-1 CP-2 --out labels.pdf

    The codes link to BASE/Public/Start?cp=ID&conn=N, BASE being --base-url
    or OCPP_CORE_PUBLIC_BASE_URL; labels also print the short BASE/cp/ID/N.
    """
    suffix = out.suffix.lower()
    if sheet:
        if connector_id is not None or scale is not None:
            raise click.UsageError("--conn and --scale go with a single code, not --sheet")
        if suffix != ".pdf":
            raise click.UsageError(f"--out {out}: a label sheet is a PDF, name it FILE.pdf")
    else:
        if len(charge_point_ids) != 1:
            raise click.UsageError(
                "give one charge point ID for a code, or --sheet for a PDF of several"
            )
        if suffix not in _CODE_FORMATS:
            hint = " (a PDF label sheet needs --sheet)" if suffix == ".pdf" else ""
            raise click.UsageError(f"--out {out}: name it FILE.svg or FILE.png{hint}")
    settings = cli_settings(ctx, public_base_url=base_url)
    if sheet:
        _write_sheet(settings, list(charge_point_ids) or None, out)
    else:
        _write_code(settings, charge_point_ids[0], connector_id or 1, out, scale or 10)


def _write_code(
    settings: Settings, charge_point_id: str, connector_id: int, out: Path, scale: int
) -> None:
    from ocpp_core.qr.codes import qr_png, qr_svg
    from ocpp_core.qr.links import start_url
    from ocpp_core.qr.source import LabelError, connector_ids

    known = run(in_session(settings, lambda s: connector_ids(s, charge_point_id)), LabelError)
    url = start_url(settings.public_base_url, charge_point_id, connector_id)
    if out.suffix.lower() == ".svg":
        title = f"QR code: start charging at {charge_point_id}, connector {connector_id}"
        data = qr_svg(url, scale, title=title)
    else:
        data = qr_png(url, scale)
    _save(out, data)
    click.echo(f"wrote {out}: {url}")
    if known and connector_id not in known:
        reported = ", ".join(str(number) for number in known)
        click.echo(
            f"note: {charge_point_id} has reported connector(s) {reported}, not {connector_id}",
            err=True,
        )


def _write_sheet(settings: Settings, charge_point_ids: list[str] | None, out: Path) -> None:
    from ocpp_core.qr.sheet import label_sheet_pdf, page_count
    from ocpp_core.qr.source import LabelError, labels_for

    currency = settings.stripe.currency

    async def work(session: AsyncSession) -> list[Label]:
        return await labels_for(session, settings.public_base_url, charge_point_ids, currency)

    labels = run(in_session(settings, work), LabelError)
    if not labels:
        raise click.ClickException(
            "no charge points to print labels for: add one with `ocpp-core chargepoint add`"
        )
    _save(out, label_sheet_pdf(labels))
    stations = len({label.charge_point_id for label in labels})
    pages = page_count(len(labels))
    click.echo(
        f"wrote {out}: {len(labels)} label(s) for {stations} charge point(s) on {pages} page(s)"
    )


def _save(out: Path, data: bytes) -> None:
    try:
        out.write_bytes(data)
    except OSError as error:
        raise click.ClickException(f"cannot write {out}: {error.strerror or error}") from None
