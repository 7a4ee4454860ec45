"""``ocpp-core reservation``, ``profile`` and ``trigger``: operations on chargers, driven
through a running server's ``/API`` (see ``api_cli``); the main group attaches them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO

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

_CONNECTOR = click.IntRange(0, 1000)


@click.group()
def reservation() -> None:
    """Reserve a connector for a tag, cancel, list (through the server's API)."""


@reservation.command("create")
@click.argument("charge_point_id", metavar="CP")
@click.option(
    "--connector",
    type=_CONNECTOR,
    required=True,
    help="Connector (2.0.1: EVSE); 0 for the whole charger.",
)
@click.option("--tag", "id_tag", required=True, help="The tag that may charge there.")
@click.option("--until", type=Moment(), required=True, help="Expiry (within 7 days), e.g. +2h.")
@click.option("--connector-type", help="2.0.1 only: a plug of this type, e.g. cType2.")
@url_option
@click.pass_context
def reservation_create(
    ctx: click.Context,
    charge_point_id: str,
    connector: int,
    id_tag: str,
    until: datetime,
    connector_type: str | None,
    url: str | None,
) -> None:
    """Reserve a connector of CP for a tag (and its group's tags) until a time."""
    body = {
        "chargePointId": charge_point_id,
        "connectorId": connector,
        "idTag": id_tag,
        "expiryDateTime": iso(until),
        "createdBy": "CLI",
    }
    if connector_type is not None:
        body["connectorType"] = connector_type
    with server_api(ctx, url) as api:
        answer = api.post("/API/ReserveNow", body)
    held = answer["reservation"]
    click.echo(
        f"reservation {held['reservationId']} at {held['chargePointId']} connector "
        f"{held['connectorId']} for {held['idTag']} until {held['expiryDateTime']}: {said(answer)}"
    )
    finish(accepted(answer))


@reservation.command("cancel")
@click.argument("reservation_id", metavar="ID", type=click.IntRange(min=1))
@url_option
@click.pass_context
def reservation_cancel(ctx: click.Context, reservation_id: int, url: str | None) -> None:
    """Cancel a live reservation (its id, as `reservation list` shows it) at its charger."""
    with server_api(ctx, url) as api:
        answer = api.post("/API/CancelReservation", {"reservationId": reservation_id})
    held = answer["reservation"]
    click.echo(
        f"reservation {reservation_id} at {held['chargePointId']}: {said(answer)}, "
        f"now {held['status']}"
    )
    finish(accepted(answer))


@reservation.command("list")
@click.argument("charge_point_id", metavar="[CP]", required=False)
@click.option("--active", is_flag=True, help="Only those holding a connector now.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@url_option
@click.pass_context
def reservation_list(
    ctx: click.Context,
    charge_point_id: str | None,
    active: bool,
    limit: int,
    offset: int,
    url: str | None,
) -> None:
    """Operators' reservations, newest first: of every charger, or of CP."""
    query: dict[str, Any] = {"cp": charge_point_id, "limit": limit, "offset": offset}
    if active:
        query["active"] = "true"
    with server_api(ctx, url) as api:
        page = api.get("/API/Reservations", **query)
    headers = ("ID", "CP", "CONNECTOR", "TAG", "UNTIL", "STATUS", "BY")
    keys = ("reservationId", "chargePointId", "connectorId", "idTag", "expiryDateTime", "status")
    rows = [[*(r[k] for k in keys), r["createdBy"]] for r in page["reservations"]]
    table(headers, rows, "no reservations")
    shown = len(rows)
    if offset + shown < page["total"]:
        click.echo(f"{offset + 1}-{offset + shown} of {page['total']}: more with --offset")


@click.group()
def profile() -> None:
    """Charging profiles of a charger: list, set, clear (through the server's API)."""


@profile.command("list")
@click.argument("charge_point_id", metavar="CP")
@url_option
@click.pass_context
def profile_list(ctx: click.Context, charge_point_id: str, url: str | None) -> None:
    """The profiles ocpp-core keeps for CP, and what became of each on the charger."""
    with server_api(ctx, url) as api:
        records = api.get(f"/API/ChargingProfiles/{segment(charge_point_id)}", limit=100)
    headers = ("ID", "CONNECTOR", "PURPOSE", "STACK", "KIND", "LIMITS", "STATUS")
    rows = [
        [
            r["chargingProfileId"],
            r["connectorId"],
            r["chargingProfilePurpose"],
            r["stackLevel"],
            r["chargingProfileKind"],
            _limits(r["chargingSchedulePeriod"], r["chargingRateUnit"]),
            r["status"] + (f" ({r['statusDetail']})" if r["statusDetail"] else ""),
        ]
        for r in records
    ]
    table(headers, rows, f"no charging profiles for {charge_point_id}")


def _limits(periods: list[dict[str, Any]], unit: str) -> str:
    """A schedule in short: ``0s 16A, 25200s 32A``."""
    return ", ".join(f"{p['startPeriod']}s {p['limit']:g}{unit}" for p in periods)


@profile.command("set")
@click.argument("charge_point_id", metavar="CP")
@click.option(
    "--file",
    "source",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help="The profile as JSON, as POST /API/SetChargingProfile takes it (- for stdin).",
)
@url_option
@click.pass_context
def profile_set(ctx: click.Context, charge_point_id: str, source: TextIO, url: str | None) -> None:
    """Store a profile for CP and send it (SetChargingProfile); prints its id."""
    try:
        body = json.load(source)
    except ValueError as error:
        raise click.BadParameter(
            f"{source.name} is not JSON: {error}", param_hint="--file"
        ) from None
    if not isinstance(body, dict):
        raise click.BadParameter(f"{source.name} holds no JSON object", param_hint="--file")
    with server_api(ctx, url) as api:
        answer = api.post(f"/API/SetChargingProfile/{segment(charge_point_id)}", body)
    click.echo(f"{charge_point_id} profile {answer['chargingProfileId']}: {said(answer)}")
    finish(accepted(answer))


@profile.command("clear")
@click.argument("charge_point_id", metavar="CP")
@click.option(
    "--id", "profile_id", type=click.IntRange(min=1), required=True, help="The profile's id."
)
@url_option
@click.pass_context
def profile_clear(
    ctx: click.Context, charge_point_id: str, profile_id: int, url: str | None
) -> None:
    """Clear a profile on CP (ClearChargingProfile); its record is kept, marked cleared."""
    with server_api(ctx, url) as api:
        answer = api.post(
            f"/API/ClearChargingProfile/{segment(charge_point_id)}",
            {"chargingProfileId": profile_id},
        )
    click.echo(f"{charge_point_id} profile {profile_id}: {said(answer)}")
    finish(accepted(answer))


@click.command()
@click.argument("charge_point_id", metavar="CP")
@click.argument("message")
@click.option("--connector", type=_CONNECTOR, help="The connector (2.0.1: EVSE) it is about.")
@url_option
@click.pass_context
def trigger(
    ctx: click.Context, charge_point_id: str, message: str, connector: int | None, url: str | None
) -> None:
    """Ask CP to send MESSAGE now (TriggerMessage), e.g. StatusNotification, Heartbeat,
    FirmwareStatusNotification, MeterValues, BootNotification."""
    body: dict[str, Any] = {"message": message}
    if connector is not None:
        body["connectorId"] = connector
    with server_api(ctx, url) as api:
        answer = api.post(f"/API/TriggerMessage/{segment(charge_point_id)}", body)
    click.echo(f"{charge_point_id} {message}: {said(answer)}")
    finish(accepted(answer))
