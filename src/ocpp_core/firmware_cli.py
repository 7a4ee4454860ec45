"""``ocpp-core firmware`` and ``diagnostics``: firmware campaigns and chargers' logs,
driven through a running server's ``/API`` (see ``api_cli``); the main group attaches them.

A firmware campaign is a loop over the single-charger update, one charger at a time,
so one charger that is offline or refuses costs the others nothing: each gets its
line, and the run exits non-zero if any did not accept.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from ocpp_core.api_cli import (
    Moment,
    accepted,
    finish,
    iso,
    said,
    segment,
    server_api,
    table,
    url_option,
)

if TYPE_CHECKING:
    from ocpp_core.api_client import ServerApi

_RETRIES = click.IntRange(0, 100)
_INTERVAL = click.IntRange(0, 86_400)


@click.group()
def firmware() -> None:
    """Firmware updates of one charger or a fleet (through the server's API)."""


@firmware.command("update")
@click.argument("charge_point_ids", metavar="[CP]...", nargs=-1)
@click.option(
    "--from-file",
    "id_file",
    type=click.File("r", encoding="utf-8"),
    help="Charge point ids, one a line (# comments and blank lines skipped; - for stdin).",
)
@click.option("--location", required=True, help="Where the chargers download it (a URI).")
@click.option("--retrieve-at", type=Moment(), help="When to download it (default now).")
@click.option("--retries", type=_RETRIES, help="Download attempts after a failure.")
@click.option("--retry-interval", type=_INTERVAL, help="Seconds between attempts.")
@url_option
@click.pass_context
def firmware_update(
    ctx: click.Context,
    charge_point_ids: tuple[str, ...],
    id_file: TextIO | None,
    location: str,
    retrieve_at: datetime | None,
    retries: int | None,
    retry_interval: int | None,
    url: str | None,
) -> None:
    """Ask each CP to download and install firmware: one line per charger with its
    answer and request id (follow it with `firmware status CP`). Exits 1 if any
    charger did not accept."""
    chargers = _unique([*charge_point_ids, *(_ids_in(id_file) if id_file else [])])
    if not chargers:
        raise click.UsageError("name the charge points, or give --from-file")
    body: dict[str, Any] = {"location": location, "retrieveDate": iso(retrieve_at)}
    body |= {"retries": retries, "retryInterval": retry_interval}
    body = {name: value for name, value in body.items() if value is not None}
    with server_api(ctx, url) as api:
        outcomes = [_update(api, charge_point_id, body) for charge_point_id in chargers]
    if len(chargers) > 1:
        click.echo(f"{sum(outcomes)} of {len(chargers)} chargers accepted")
    finish(all(outcomes))


def _update(api: ServerApi, charge_point_id: str, body: dict[str, Any]) -> bool:
    """One charger of a campaign; its failure is its line, unless every charger would fail."""
    from ocpp_core.api_client import ApiFailure

    try:
        answer = api.post(f"/API/UpdateFirmware/{segment(charge_point_id)}", body)
    except ApiFailure as failure:
        if failure.fatal:
            raise
        click.echo(f"{charge_point_id}: failed: {failure}")
        return False
    click.echo(f"{charge_point_id}: {said(answer)}, request {answer['requestId']}")
    return accepted(answer)


def _ids_in(lines: Iterable[str]) -> list[str]:
    stripped = (line.split("#", 1)[0].strip() for line in lines)
    return [line for line in stripped if line]


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


@firmware.command("status")
@click.argument("charge_point_id", metavar="CP")
@url_option
@click.pass_context
def firmware_status(ctx: click.Context, charge_point_id: str, url: str | None) -> None:
    """CP's firmware requests, newest first: its answer and the latest status it reported."""
    with server_api(ctx, url) as api:
        requests = api.get(f"/API/Firmware/{segment(charge_point_id)}")
    headers = ("REQUEST", "REQUESTED", "LOCATION", "ANSWER", "STATUS", "STATUS AT")
    keys = ("requestId", "requestedAt", "location", "answer", "status", "statusAt")
    table(
        headers,
        [[r[k] for k in keys] for r in requests],
        f"no firmware requests for {charge_point_id}",
    )


@click.group()
def diagnostics() -> None:
    """Chargers' diagnostics and logs: request, list, download (through the server's API)."""


@diagnostics.command("request")
@click.argument("charge_point_id", metavar="CP")
@click.option(
    "--type",
    "log_type",
    type=click.Choice(["DiagnosticsLog", "SecurityLog"]),
    default="DiagnosticsLog",
    show_default=True,
)
@click.option("--since", type=Moment(), help="Oldest entries wanted, e.g. -2d.")
@click.option("--until", type=Moment(), help="Newest entries wanted.")
@click.option("--retries", type=_RETRIES, help="Upload attempts after a failure.")
@click.option("--retry-interval", type=_INTERVAL, help="Seconds between attempts.")
@url_option
@click.pass_context
def diagnostics_request(
    ctx: click.Context,
    charge_point_id: str,
    log_type: str,
    since: datetime | None,
    until: datetime | None,
    retries: int | None,
    retry_interval: int | None,
    url: str | None,
) -> None:
    """Ask CP to upload its diagnostics (or security log) to ocpp-core; follow it with
    `diagnostics list CP`, fetch it with `diagnostics download CP REQUEST`."""
    body: dict[str, Any] = {
        "logType": log_type,
        "retries": retries,
        "retryInterval": retry_interval,
    }
    body |= {"oldestTimestamp": iso(since), "latestTimestamp": iso(until)}
    body = {name: value for name, value in body.items() if value is not None}
    with server_api(ctx, url) as api:
        answer = api.post(f"/API/GetLog/{segment(charge_point_id)}", body)
    click.echo(f"{charge_point_id}: {said(answer)}, request {answer['requestId']}")
    finish(accepted(answer))


@diagnostics.command("list")
@click.argument("charge_point_id", metavar="CP")
@url_option
@click.pass_context
def diagnostics_list(ctx: click.Context, charge_point_id: str, url: str | None) -> None:
    """CP's log requests, newest first, with the files it uploaded."""
    with server_api(ctx, url) as api:
        requests = api.get(f"/API/Diagnostics/{segment(charge_point_id)}")
    headers = ("REQUEST", "TYPE", "REQUESTED", "ANSWER", "STATUS", "FILE", "BYTES")
    keys = ("requestId", "logType", "requestedAt", "answer", "status", "fileName", "sizeBytes")
    table(
        headers, [[r[k] for k in keys] for r in requests], f"no log requests for {charge_point_id}"
    )


@diagnostics.command("download")
@click.argument("charge_point_id", metavar="CP")
@click.argument("request_id", metavar="REQUEST", type=click.IntRange(min=1))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: the charger's file name, in this directory).",
)
@url_option
@click.pass_context
def diagnostics_download(
    ctx: click.Context, charge_point_id: str, request_id: int, output: Path | None, url: str | None
) -> None:
    """Save the file CP uploaded for a request (its number in `diagnostics list CP`)."""

    def target(offered: str | None) -> Path:
        return output or Path(offered or f"log-{request_id}")

    path = f"/API/Diagnostics/{segment(charge_point_id)}/{request_id}/file"
    with server_api(ctx, url) as api:
        written, size = api.download(path, target)
    click.echo(f"wrote {written}: {size} bytes")
