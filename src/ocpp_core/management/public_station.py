"""What a driver sees of a connector before paying: the station, its status, every price.

The live status comes from the server (``/API/Status/{id}``); when the server can't
be asked, the last status stored in the database is shown and marked as such.
Values are formatted here; the words around them live in the templates, so
they can be translated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargePoint, Connector, PaymentReservation, Transaction
from ocpp_core.domain import reservations as charger_reservations
from ocpp_core.domain import transactions
from ocpp_core.domain.connector_status import IN_USE, OUT_OF_ORDER, STARTABLE, ConnectorStatus
from ocpp_core.domain.connectors import FIRST_CONNECTOR, known_connectors
from ocpp_core.domain.pricing import Tariff, hold_cents, usage_cents
from ocpp_core.domain.tariffs import tariff_of
from ocpp_core.management.numbers import kwh, money, rate
from ocpp_core.management.server_api import LiveCharger
from ocpp_core.payments import reservations


@dataclass(frozen=True, slots=True)
class Prices:
    """Every price component, formatted; ``None`` where the tariff has none."""

    free: bool
    configured: bool  # a paid station with a usable tariff
    per_kwh: str | None
    session_fee: str | None
    usage_fee: str | None  # per minute
    usage_grace_minutes: int
    usage_max_minutes: int
    usage_max_amount: str | None
    usage_after_charging: bool
    max_kwh: str | None
    hold: str | None


@dataclass(frozen=True, slots=True)
class Station:
    charge_point_id: str
    name: str
    display_code: str | None  # the code on the label, which drivers quote to support
    location: str | None
    connector_id: int
    connector_label: str | None  # the operator's name for it, if any
    status: str  # available | reserved | occupied | out_of_order | offline | unknown
    reported: str | None  # the OCPP status behind it
    live: bool  # False: the server could not be asked, the status is the stored one
    prices: Prices


def prices_of(tariff: Tariff) -> Prices:
    currency = tariff.currency
    configured = not tariff.free and tariff.problem() is None
    usage = tariff.usage_fee_minute_millicents
    return Prices(
        free=tariff.free,
        configured=configured,
        per_kwh=rate(tariff.price_kwh_millicents, currency)
        if tariff.price_kwh_millicents
        else None,
        session_fee=money(tariff.session_fee_cents, currency) if tariff.session_fee_cents else None,
        usage_fee=rate(usage, currency) if usage else None,
        usage_grace_minutes=tariff.usage_grace_minutes,
        usage_max_minutes=tariff.usage_max_minutes,
        usage_max_amount=money(usage_cents(tariff, tariff.usage_max_minutes), currency)
        if usage
        else None,
        usage_after_charging=tariff.usage_after_charging,
        max_kwh=kwh(tariff.max_energy_wh) if tariff.max_energy_wh else None,
        hold=money(hold_cents(tariff), currency) if configured else None,
    )


async def load_station(
    session: AsyncSession,
    charge_point_id: str,
    connector_id: int,
    live: Sequence[LiveCharger] | None,
    default_currency: str,
    *,
    unpaid_cutoff: datetime,
) -> Station | None:
    """The connector as a driver sees it; None if the charger or connector is unknown.

    An unpaid reservation made before ``unpaid_cutoff`` no longer holds the connector.
    """
    charge_point = await session.get(ChargePoint, charge_point_id)
    if charge_point is None:
        return None
    rows = {
        row.connector_id: row
        for row in await session.scalars(
            select(Connector).where(
                Connector.charge_point_id == charge_point_id,
                Connector.connector_id >= FIRST_CONNECTOR,
            )
        )
    }
    charger = next((c for c in live or () if c.id == charge_point_id), None)
    reported = {c.connectorId: c.status for c in charger.connectors} if charger else {}
    if connector_id not in known_connectors(set(rows) | set(reported)):
        return None
    busy = await session.scalar(
        select(Transaction.id)
        .where(
            Transaction.charge_point_id == charge_point_id,
            Transaction.connector_id == connector_id,
            transactions.holding(),  # what keeps the server from starting anyone else
        )
        .limit(1)
    )
    row = rows.get(connector_id)
    last = reported.get(connector_id) or (row.status if row else None)
    held = await _held(session, charge_point_id, connector_id, unpaid_cutoff)
    return Station(
        charge_point_id=charge_point.id,
        name=charge_point.name or charge_point.id,
        display_code=charge_point.display_code,
        location=charge_point.location,
        connector_id=connector_id,
        connector_label=row.name if row else None,
        status=_public_status(
            last,
            online=None if live is None else charger is not None,
            busy=busy is not None,
            held=held,
        ),
        reported=last,
        live=live is not None,
        prices=prices_of(tariff_of(charge_point, default_currency)),
    )


async def _held(
    session: AsyncSession, charge_point_id: str, connector_id: int, unpaid_cutoff: datetime
) -> bool:
    """Whether a driver's reservation, or an operator's, holds the connector: the server
    starts nobody else there."""
    paid = exists().where(
        PaymentReservation.charge_point_id == charge_point_id,
        PaymentReservation.connector_id == connector_id,
        reservations.holding(unpaid_cutoff),
    )
    operator = charger_reservations.holds(charge_point_id, connector_id)
    return bool(await session.scalar(select(or_(paid, operator))))


def _public_status(reported: str | None, *, online: bool | None, busy: bool, held: bool) -> str:
    """``held``: a driver has paid (or is paying) and not plugged in yet; nobody else may start."""
    if busy:
        return "occupied"
    if online is False:
        return "offline"
    if held or reported == ConnectorStatus.RESERVED:
        return "reserved"
    if reported in STARTABLE:  # a plugged-in car (Preparing) may be this driver's own
        return "available"
    if reported in OUT_OF_ORDER:
        return "out_of_order"
    if reported in IN_USE:
        return "occupied"
    return "unknown"


async def station_name(session: AsyncSession, charge_point_id: str) -> str:
    charge_point = await session.get(ChargePoint, charge_point_id)
    return (charge_point.name if charge_point else None) or charge_point_id
