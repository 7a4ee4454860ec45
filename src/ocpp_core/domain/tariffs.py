"""A charge point's tariff and the tags that charge for free, as stored.

Tariffs are checked when they are set, not when a driver pays: a price that
cannot produce a card hold is the operator's mistake and is refused at once,
so the public page never meets it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, SQLColumnExpression, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from ocpp_core.db.models import ChargePoint, ChargeTag, ChargeTagPrivilege
from ocpp_core.domain.pricing import (
    MILLICENTS_PER_UNIT,
    WH_PER_KWH,
    Tariff,
    TariffError,
    format_money,
    hold_cents,
)

_NO_CHARGE_POINT = "charge point {!r} does not exist: add it with `ocpp-core chargepoint add`"
MAX_NOTE_LENGTH = 200  # the column's size: PostgreSQL refuses longer, SQLite would keep it


def tariff_of(charge_point: ChargePoint, default_currency: str) -> Tariff:
    """The row's tariff; a row without a currency is priced in the configured one."""
    return Tariff(
        price_kwh_millicents=charge_point.price_kwh_millicents,
        session_fee_cents=charge_point.session_fee_cents,
        usage_fee_minute_millicents=charge_point.usage_fee_minute_millicents,
        usage_grace_minutes=charge_point.usage_grace_minutes,
        usage_max_minutes=charge_point.usage_max_minutes,
        usage_after_charging=charge_point.usage_after_charging,
        max_energy_wh=charge_point.max_session_wh,
        currency=charge_point.currency or default_currency,
        free=charge_point.free_charging,
    )


async def current_tariff(
    session: AsyncSession, charge_point_id: str, *, default_currency: str
) -> Tariff:
    """The stored tariff, locked until the transaction ends so a change builds on it."""
    row = await session.get(ChargePoint, charge_point_id, with_for_update=True)
    if row is None:
        raise TariffError(_NO_CHARGE_POINT.format(charge_point_id))
    return tariff_of(row, default_currency)


async def set_tariff(
    session: AsyncSession, charge_point_id: str, tariff: Tariff, *, min_hold_cents: int = 0
) -> None:
    """Store the tariff, or raise :class:`TariffError` and store nothing.

    ``min_hold_cents`` is the smallest amount the payment settings capture: a
    paid station whose whole hold is below it could never charge anyone.
    """
    problem = tariff.problem() or _below_minimum(tariff, min_hold_cents)
    if problem:
        raise TariffError(f"charge point {charge_point_id!r}: {problem}")
    row = await session.get(ChargePoint, charge_point_id)
    if row is None:
        raise TariffError(_NO_CHARGE_POINT.format(charge_point_id))
    row.free_charging = tariff.free
    row.price_kwh_millicents = tariff.price_kwh_millicents
    row.session_fee_cents = tariff.session_fee_cents
    row.usage_fee_minute_millicents = tariff.usage_fee_minute_millicents
    row.usage_grace_minutes = tariff.usage_grace_minutes
    row.usage_max_minutes = tariff.usage_max_minutes
    row.usage_after_charging = tariff.usage_after_charging
    row.max_session_wh = tariff.max_energy_wh
    # Stored even when it is the default: the prices were entered in this currency.
    row.currency = tariff.currency


def _below_minimum(tariff: Tariff, min_hold_cents: int) -> str | None:
    hold = hold_cents(tariff)
    if tariff.free or hold >= min_hold_cents:
        return None
    minimum = format_money(min_hold_cents, tariff.currency)
    return (
        f"the hold of {format_money(hold, tariff.currency)} is below the {minimum} "
        "the payment settings capture: no session could be charged"
    )


def describe(tariff: Tariff) -> str:
    """One line an operator can check against the price sign at the station."""
    if tariff.free:
        return "free"
    parts = []
    if tariff.price_kwh_millicents:
        parts.append(f"{_rate(tariff.price_kwh_millicents, tariff.currency)}/kWh")
    if tariff.session_fee_cents:
        parts.append(f"session fee {format_money(tariff.session_fee_cents, tariff.currency)}")
    if tariff.usage_fee_minute_millicents:
        anchor = "after charging" if tariff.usage_after_charging else "from start"
        parts.append(
            f"usage fee {_rate(tariff.usage_fee_minute_millicents, tariff.currency)}/min {anchor},"
            f" {tariff.usage_grace_minutes} min grace, at most {tariff.usage_max_minutes} min"
        )
    if tariff.max_energy_wh:
        parts.append(f"max {Decimal(tariff.max_energy_wh) / WH_PER_KWH} kWh")
    return ", ".join(parts) or "no price"


def _rate(millicents: int, currency: str) -> str:
    """A rate with the decimals it needs and at least two: 35_500 → ``0.355 EUR``."""
    units = Decimal(millicents) / MILLICENTS_PER_UNIT
    cents = units.quantize(Decimal("0.01"))
    return f"{units if units != cents else cents} {currency.upper()}"


async def grant_free_charging(
    session: AsyncSession,
    *,
    tag_id: str,
    charge_point_id: str | None,
    note: str | None,
    now: datetime,
) -> None:
    """Let the tag charge for free at one station, or at every one (``None``).

    Granting again is harmless: it keeps the one privilege and replaces its note.
    """
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise TariffError(f"--note must be at most {MAX_NOTE_LENGTH} characters")
    if await session.get(ChargeTag, tag_id) is None:
        raise TariffError(f"tag {tag_id!r} does not exist: add it with `ocpp-core tag add`")
    if charge_point_id is not None and await session.get(ChargePoint, charge_point_id) is None:
        raise TariffError(_NO_CHARGE_POINT.format(charge_point_id))
    existing = await session.scalar(
        select(ChargeTagPrivilege).where(*_privilege_of(tag_id, charge_point_id))
    )
    if existing is None:
        session.add(
            ChargeTagPrivilege(
                tag_id=tag_id,
                charge_point_id=charge_point_id,
                free_charging=True,
                note=note,
                created_at=now,
            )
        )
        return
    existing.free_charging = True
    existing.note = note if note is not None else existing.note


async def revoke_free_charging(
    session: AsyncSession, *, tag_id: str, charge_point_id: str | None
) -> bool:
    """Remove the privilege exactly as granted; False if there was none.

    Revoking one station leaves an all-stations privilege in place, and the
    other way round: each is its own grant.
    """
    result = await session.execute(
        delete(ChargeTagPrivilege).where(*_privilege_of(tag_id, charge_point_id))
    )
    return cast(CursorResult[Any], result).rowcount > 0


async def has_free_charging(
    session: AsyncSession, *, tag_id: str, charge_point_id: str, now: datetime
) -> bool:
    """Whether the tag charges for free here: a privilege for this station or for all."""
    free = charges_free(tag_id=tag_id, charge_point_id=charge_point_id, now=now)
    return bool(await session.scalar(select(free)))


def charges_free(
    *,
    tag_id: str | SQLColumnExpression[str],
    charge_point_id: str | SQLColumnExpression[str],
    now: datetime | SQLColumnExpression[datetime],
) -> ColumnElement[bool]:
    """:func:`has_free_charging` in SQL, for a statement that asks more at once.

    A blocked or expired tag has no privilege: the card was withdrawn, and
    with it whatever it was allowed.
    """
    return exists().where(
        ChargeTagPrivilege.tag_id == tag_id,
        ChargeTagPrivilege.free_charging.is_(True),
        or_(
            ChargeTagPrivilege.charge_point_id.is_(None),
            ChargeTagPrivilege.charge_point_id == charge_point_id,
        ),
        ChargeTag.id == ChargeTagPrivilege.tag_id,
        ChargeTag.blocked.is_(False),
        or_(ChargeTag.expires_at.is_(None), ChargeTag.expires_at >= now),
    )


def _privilege_of(tag_id: str, charge_point_id: str | None) -> tuple[ColumnElement[bool], ...]:
    # ``= NULL`` matches nothing in SQL: the all-stations grant needs ``IS NULL``.
    station = (
        ChargeTagPrivilege.charge_point_id.is_(None)
        if charge_point_id is None
        else ChargeTagPrivilege.charge_point_id == charge_point_id
    )
    return (ChargeTagPrivilege.tag_id == tag_id, station)
