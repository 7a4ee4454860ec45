"""The ``ocpp-core`` command line."""

from __future__ import annotations

import contextlib
import csv
import secrets
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.cli_support import cli_settings, in_session, run, serve_forever, user_errors
from ocpp_core.clock import utc_now
from ocpp_core.config import ConfigError
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import ChargePoint
from ocpp_core.demo import Ports, run_demo
from ocpp_core.domain import chargepoints, tags, tariffs
from ocpp_core.domain.chargepoints import NewChargePoint, PasswordNotChosen, ProvisioningError
from ocpp_core.domain.pricing import (
    MAX_SETTING,
    MILLICENTS_PER_CENT,
    WH_PER_KWH,
    Tariff,
    TariffError,
    format_money,
    hold_cents,
    parse_money,
)
from ocpp_core.domain.tags import NewTag, TagError
from ocpp_core.logs import configure_logging
from ocpp_core.management.app import create_management_app
from ocpp_core.management.cli import (
    listen_overrides,
    management_command,
    one_process_settings,
    run_servers,
    user,
)
from ocpp_core.management.run import uvicorn_config as management_uvicorn_config
from ocpp_core.qr.cli import qr
from ocpp_core.server.app import create_server_app
from ocpp_core.server.run import serve as run_server
from ocpp_core.server.run import uvicorn_config as server_uvicorn_config
from ocpp_core.simulators.chargepoint.cli import simulate
from ocpp_core.simulators.stripe.cli import stripe_sim

_USER_ERRORS = (ProvisioningError, TagError, TariffError, ConfigError)


@click.group()
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="OCPP_CORE_CONFIG",
    help="TOML settings file (also OCPP_CORE_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """ocpp-core: an OCPP central system with pay-by-QR charging."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@main.command()
@click.option("--host", help="Listen address (default 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (default 8081).")
@click.pass_context
def server(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the OCPP server: chargers' websockets, the API, metrics."""
    settings = cli_settings(ctx, host=host, port=port)
    configure_logging(settings.log_level)
    with user_errors(ConfigError):
        app = create_server_app(settings)
    serve_forever(run_server(app, settings))


@main.command()
@click.option("--host", help="Listen address of both apps (default 127.0.0.1).")
@click.option("--port", type=int, help="Server port (default 8081).")
@click.option("--management-port", type=int, help="Management app port (default 8082).")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, management_port: int | None
) -> None:
    """Run the server and the management app in one process, on the embedded defaults.

    Without a configured API key or session secret, random ones are made for this
    run (the API key is printed).
    """
    overrides = listen_overrides(host, management_port)
    settings = one_process_settings(cli_settings(ctx, host=host, port=port, **overrides))
    configure_logging(settings.log_level)
    if settings.migrate_on_start:  # once, before either app starts
        run(upgrade(settings.database_url), *_USER_ERRORS)
        settings = settings.model_copy(update={"migrate_on_start": False})
    with user_errors(ConfigError):
        server_app = create_server_app(settings)
        management_app = create_management_app(settings)
    configs = (
        server_uvicorn_config(server_app, settings),
        management_uvicorn_config(management_app, settings),
    )
    run_servers(*configs)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply all pending migrations."""
    settings = cli_settings(ctx)
    run(upgrade(settings.database_url), *_USER_ERRORS)
    click.echo("database is up to date")


@main.group()
def chargepoint() -> None:
    """Provision charge points."""


@chargepoint.command("add")
@click.argument("charge_point_id")
@click.option("--name", help="Display name.")
@click.option("--password", help="Basic-auth password (16-40 characters).")
@click.option("--generate-password", is_flag=True, help="Generate a password and print it once.")
@click.option(
    "--no-password",
    is_flag=True,
    help="No password: any charger may connect under this id (and push the real one off).",
)
@click.pass_context
def chargepoint_add(
    ctx: click.Context,
    charge_point_id: str,
    name: str | None,
    password: str | None,
    generate_password: bool,
    no_password: bool,
) -> None:
    """Add a charge point that may then connect to /OCPP/CHARGE_POINT_ID.

    It needs a password (--password or --generate-password), or --no-password.
    """
    if sum((password is not None, generate_password, no_password)) > 1:
        raise click.UsageError("give one of --password, --generate-password, --no-password")
    if generate_password:
        password = secrets.token_urlsafe(24)
    new = NewChargePoint(charge_point_id, name, password, no_password=no_password)
    _check([new], "give --password or --generate-password, or --no-password to allow that")
    run(
        in_session(cli_settings(ctx), lambda s: chargepoints.add(s, new, now=utc_now())),
        *_USER_ERRORS,
    )
    click.echo(f"added charge point {charge_point_id}")
    if generate_password:
        click.echo(f"password (shown once): {password}")


@chargepoint.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--allow-no-password",
    is_flag=True,
    help="Import rows without a password: any charger may connect under their ids.",
)
@click.pass_context
def chargepoint_import(ctx: click.Context, csv_file: Any, allow_no_password: bool) -> None:
    """Add charge points from a CSV file with the header row id,name,password.

    Optional columns: display_code (what drivers read on the label) and location.
    Rows without a password are refused unless --allow-no-password is given.
    """
    rows = _read_charge_points(csv_file, allow_no_password=allow_no_password)
    _check(rows, "fill in their passwords, or import with --allow-no-password to allow that")
    now = utc_now()
    added = run(
        in_session(cli_settings(ctx), lambda s: chargepoints.add_many(s, rows, now=now)),
        *_USER_ERRORS,
    )
    click.echo(f"imported {added} charge points, skipped {len(rows) - added} that already exist")


_CSV_COLUMNS = frozenset({"id", "name", "password", "display_code", "location"})


def _check(rows: list[NewChargePoint], no_password_hint: str) -> None:
    """The domain's checks before the database is opened, with this command's own hint."""
    try:
        chargepoints.check_all(rows)
    except PasswordNotChosen as error:
        raise click.ClickException(f"{error}; {no_password_hint}") from None
    except ProvisioningError as error:
        raise click.ClickException(str(error)) from None


def _read_charge_points(handle: Any, *, allow_no_password: bool) -> list[NewChargePoint]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None or "id" not in reader.fieldnames:
        raise click.ClickException("the CSV needs a header row: id,name,password")
    unknown = set(reader.fieldnames) - _CSV_COLUMNS
    if unknown:
        raise click.ClickException(f"unknown CSV columns: {', '.join(sorted(unknown))}")
    return [
        NewChargePoint(
            (row.get("id") or "").strip(),
            (row.get("name") or "").strip() or None,
            row.get("password") or None,
            display_code=(row.get("display_code") or "").strip() or None,
            location=(row.get("location") or "").strip() or None,
            no_password=allow_no_password and not row.get("password"),
        )
        for row in reader
    ]


@chargepoint.command("list")
@click.pass_context
def chargepoint_list(ctx: click.Context) -> None:
    """List charge points with what they reported at boot."""
    rows = run(in_session(cli_settings(ctx), chargepoints.list_all), *_USER_ERRORS)
    click.echo(f"{'ID':<24} {'NAME':<24} {'AUTH':<13} {'MODEL':<24} LAST SEEN")
    for row in rows:
        model = " ".join(filter(None, (row.vendor, row.model))) or "-"
        seen = row.last_seen_at.isoformat(timespec="seconds") if row.last_seen_at else "never"
        click.echo(f"{row.id:<24} {row.name or '':<24} {_auth(row):<13} {model:<24} {seen}")


def _auth(row: ChargePoint) -> str:
    """How the charger proves who it is; "NO PASSWORD" stands out: anyone may connect as it."""
    proofs = (("password", row.password_hash), ("cert", row.client_cert_thumbprint))
    return "+".join(name for name, stored in proofs if stored) or "NO PASSWORD"


_MINUTES = click.IntRange(0, MAX_SETTING)
_RATE_SCALE = 100 * MILLICENTS_PER_CENT  # currency units → millicents


@chargepoint.command("price")
@click.argument("charge_point_id")
@click.option("--per-kwh", metavar="DEC", help="Price per kWh, e.g. 0.355.")
@click.option("--session-fee", metavar="DEC", help="Fixed fee per session, e.g. 1.00.")
@click.option(
    "--usage-fee-per-minute", metavar="DEC", help="Occupancy or idle fee per started minute."
)
@click.option("--usage-grace-minutes", type=_MINUTES, help="Minutes before the usage fee starts.")
@click.option(
    "--usage-max-minutes", type=_MINUTES, help="Most minutes billed (bounds the card hold)."
)
@click.option(
    "--usage-after-charging/--usage-from-start",
    default=None,
    help="Bill usage once charging ends (idle fee) or from the session start.",
)
@click.option("--max-kwh", metavar="DEC", help="Most energy per session; the server stops there.")
@click.option("--currency", help="ISO 4217 code (default OCPP_CORE_STRIPE__CURRENCY).")
@click.option("--free/--paid", default=None, help="Free charging for everyone at this station.")
@click.pass_context
def chargepoint_price(
    ctx: click.Context,
    charge_point_id: str,
    per_kwh: str | None,
    session_fee: str | None,
    usage_fee_per_minute: str | None,
    usage_grace_minutes: int | None,
    usage_max_minutes: int | None,
    usage_after_charging: bool | None,
    max_kwh: str | None,
    currency: str | None,
    free: bool | None,
) -> None:
    """Set the price of a charge point; options not given keep their value.

    Prints the tariff and the card hold a driver will be asked for. An invalid
    tariff is refused and nothing is stored.
    """
    options: dict[str, Any] = {
        "price_kwh_millicents": _decimal(per_kwh, _RATE_SCALE, "--per-kwh"),
        "session_fee_cents": _decimal(session_fee, 100, "--session-fee"),
        "usage_fee_minute_millicents": _decimal(
            usage_fee_per_minute, _RATE_SCALE, "--usage-fee-per-minute"
        ),
        "usage_grace_minutes": usage_grace_minutes,
        "usage_max_minutes": usage_max_minutes,
        "usage_after_charging": usage_after_charging,
        "max_energy_wh": _decimal(max_kwh, WH_PER_KWH, "--max-kwh"),
        "currency": currency.lower() if currency else None,
        "free": free,
    }
    changes = {field: value for field, value in options.items() if value is not None}
    settings = cli_settings(ctx)

    async def work(session: AsyncSession) -> Tariff:
        current = await tariffs.current_tariff(
            session, charge_point_id, default_currency=settings.stripe.currency
        )
        tariff = replace(current, **changes)
        minimum = settings.payments.min_charge_cents
        await tariffs.set_tariff(session, charge_point_id, tariff, min_hold_cents=minimum)
        return tariff

    tariff = run(in_session(settings, work), *_USER_ERRORS)
    click.echo(f"charge point {charge_point_id}: {tariffs.describe(tariff)}")
    hold = "none (free)" if tariff.free else format_money(hold_cents(tariff), tariff.currency)
    click.echo(f"card hold: {hold}")


def _decimal(text: str | None, scale: int, option: str) -> int | None:
    """The option in exact integer units; a bad value stops the command before any change."""
    if text is None:
        return None
    with user_errors(TariffError):
        return parse_money(text, scale=scale, name=option)


@main.group()
def tag() -> None:
    """Provision charge tags (RFID cards, tokens)."""


@tag.command("add")
@click.argument("tag_id")
@click.option("--name", help="Who holds it.")
@click.option("--parent", help="Group tag: tags of one group may stop each other's sessions.")
@click.option(
    "--expires",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Expiry, UTC (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS).",
)
@click.option("--blocked", is_flag=True, help="Add it blocked.")
@click.pass_context
def tag_add(
    ctx: click.Context,
    tag_id: str,
    name: str | None,
    parent: str | None,
    expires: datetime | None,
    blocked: bool,
) -> None:
    """Add a charge tag."""
    expires_at = expires.replace(tzinfo=utc_now().tzinfo) if expires else None
    new = NewTag(tag_id, name, parent, expires_at, blocked)
    run(in_session(cli_settings(ctx), lambda s: tags.add(s, new, now=utc_now())), *_USER_ERRORS)
    click.echo(f"added tag {tag_id}")


@tag.command("free")
@click.argument("tag_id")
@click.option("--charge-point", "charge_point_id", help="Only at this station (default: all).")
@click.option("--note", help="Why, for whoever reviews the privileges later.")
@click.option("--revoke", is_flag=True, help="Take the privilege away instead.")
@click.pass_context
def tag_free(
    ctx: click.Context, tag_id: str, charge_point_id: str | None, note: str | None, revoke: bool
) -> None:
    """Let a tag charge for free, at one station or at all of them."""
    where = f"at {charge_point_id}" if charge_point_id else "at every station"
    settings = cli_settings(ctx)
    if revoke:
        if note is not None:
            raise click.UsageError("--note goes with a grant, not with --revoke")
        removed = run(
            in_session(
                settings,
                lambda s: tariffs.revoke_free_charging(
                    s, tag_id=tag_id, charge_point_id=charge_point_id
                ),
            ),
            *_USER_ERRORS,
        )
        verb = "no longer charges" if removed else "had no privilege to charge"
        click.echo(f"tag {tag_id} {verb} for free {where}")
        return
    run(
        in_session(
            settings,
            lambda s: tariffs.grant_free_charging(
                s, tag_id=tag_id, charge_point_id=charge_point_id, note=note, now=utc_now()
            ),
        ),
        *_USER_ERRORS,
    )
    click.echo(f"tag {tag_id} charges for free {where}")


@main.command()
@click.option("--port", type=int, default=8081, show_default=True, help="Server port.")
@click.option("--management-port", type=int, default=8082, show_default=True)
@click.option("--stripe-port", type=int, default=12111, show_default=True)
@click.option("--chargers", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--duration", type=float, help="Stop after this many seconds.")
def demo(
    port: int, management_port: int, stripe_port: int, chargers: int, duration: float | None
) -> None:
    """Everything on a fresh SQLite file: server, management, Stripe simulator, chargers."""
    configure_logging("warning")
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(run_demo(Ports(port, management_port, stripe_port), chargers, duration))


main.add_command(simulate)
main.add_command(management_command)
main.add_command(user)
main.add_command(stripe_sim)
main.add_command(qr)


if __name__ == "__main__":
    sys.exit(main())
