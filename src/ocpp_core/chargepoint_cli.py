"""``ocpp-core chargepoint``: provisioning charge points, from one to a file of thousands.

The database layer is imported by each command as it runs (see ``ocpp_core.cli_support``).
"""

from __future__ import annotations

import csv
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from ocpp_core.cli_support import cli_settings, in_session, run, user_errors
from ocpp_core.clock import utc_now
from ocpp_core.domain.pricing import (
    MAX_SETTING,
    MILLICENTS_PER_UNIT,
    WH_PER_KWH,
    Tariff,
    TariffError,
    format_money,
    hold_cents,
    parse_money,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ocpp_core.db.models import ChargePoint
    from ocpp_core.domain.chargepoints import NewChargePoint


def provisioning_errors() -> tuple[type[Exception], ...]:
    """What a command reports as a plain message; imported only once a command runs."""
    from ocpp_core.config import ConfigError
    from ocpp_core.domain.chargepoints import ProvisioningError

    return (ProvisioningError, TariffError, ConfigError)


@click.group()
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
    from ocpp_core.domain import chargepoints
    from ocpp_core.domain.chargepoints import NewChargePoint

    if sum((password is not None, generate_password, no_password)) > 1:
        raise click.UsageError("give one of --password, --generate-password, --no-password")
    if generate_password:
        password = secrets.token_urlsafe(24)
    new = NewChargePoint(charge_point_id, name, password, no_password=no_password)
    _check([new], "give --password or --generate-password, or --no-password to allow that")
    run(
        in_session(cli_settings(ctx), lambda s: chargepoints.add(s, new, now=utc_now())),
        *provisioning_errors(),
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
    from ocpp_core.domain import chargepoints

    rows = _read_charge_points(csv_file, allow_no_password=allow_no_password)
    _check(rows, "fill in their passwords, or import with --allow-no-password to allow that")
    now = utc_now()
    added = run(
        in_session(cli_settings(ctx), lambda s: chargepoints.add_many(s, rows, now=now)),
        *provisioning_errors(),
    )
    click.echo(f"imported {added} charge points, skipped {len(rows) - added} that already exist")


_CSV_COLUMNS = frozenset({"id", "name", "password", "display_code", "location"})


def _check(rows: list[NewChargePoint], no_password_hint: str) -> None:
    """The domain's checks before the database is opened, with this command's own hint."""
    from ocpp_core.domain import chargepoints
    from ocpp_core.domain.chargepoints import PasswordNotChosen, ProvisioningError

    try:
        chargepoints.check_all(rows)
    except PasswordNotChosen as error:
        raise click.ClickException(f"{error}; {no_password_hint}") from None
    except ProvisioningError as error:
        raise click.ClickException(str(error)) from None


def _read_charge_points(handle: Any, *, allow_no_password: bool) -> list[NewChargePoint]:
    try:
        return _rows(csv.DictReader(handle), allow_no_password)
    except UnicodeDecodeError as error:
        raise click.ClickException(
            f"{handle.name} is not UTF-8 text (byte {error.object[error.start]:#04x}); "
            'save it as UTF-8, e.g. "CSV UTF-8" in Excel or LibreOffice'
        ) from None


def _rows(reader: csv.DictReader[str], allow_no_password: bool) -> list[NewChargePoint]:
    from ocpp_core.domain.chargepoints import NewChargePoint

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
    from ocpp_core.domain import chargepoints

    rows = run(in_session(cli_settings(ctx), chargepoints.list_all), *provisioning_errors())
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
    from ocpp_core.domain import tariffs

    options: dict[str, Any] = {
        "price_kwh_millicents": _decimal(per_kwh, MILLICENTS_PER_UNIT, "--per-kwh"),
        "session_fee_cents": _decimal(session_fee, 100, "--session-fee"),
        "usage_fee_minute_millicents": _decimal(
            usage_fee_per_minute, MILLICENTS_PER_UNIT, "--usage-fee-per-minute"
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

    tariff = run(in_session(settings, work), *provisioning_errors())
    click.echo(f"charge point {charge_point_id}: {tariffs.describe(tariff)}")
    hold = "none (free)" if tariff.free else format_money(hold_cents(tariff), tariff.currency)
    click.echo(f"card hold: {hold}")


def _decimal(text: str | None, scale: int, option: str) -> int | None:
    """The option in exact integer units; a bad value stops the command before any change."""
    if text is None:
        return None
    with user_errors(TariffError):
        return parse_money(text, scale=scale, name=option)
