"""Labels for the charge points in the database, one per known connector."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargePoint, Connector
from ocpp_core.domain.pricing import Tariff, format_money, hold_cents
from ocpp_core.domain.tariffs import describe, tariff_of
from ocpp_core.qr.links import short_url, start_url
from ocpp_core.qr.sheet import SCAN_AND_PAY, SCAN_FREE, Label

FIRST_CONNECTOR = 1  # what a charger that has not reported its connectors yet gets


class LabelError(LookupError):
    """A charge point asked for is not in the database; the message names it."""


def price_text(tariff: Tariff) -> str:
    """The price as the label prints it: the tariff, then the card hold on its own line."""
    if tariff.free:
        return "Free charging"
    text = describe(tariff)
    if text == "no price":
        return "Price not set yet"
    hold = format_money(hold_cents(tariff), tariff.currency)
    return f"{text[:1].upper()}{text[1:]}\nCard hold {hold}, the unused part is released"


async def labels_for(
    session: AsyncSession,
    base_url: str,
    charge_point_ids: Sequence[str] | None,
    default_currency: str,
) -> list[Label]:
    """A label for every known connector of each charge point (``None``: all, by id).

    A charge point with no connector rows yet (it has not reported a status)
    gets connector 1. Unknown ids raise :class:`LabelError` naming all of them.
    """
    charge_points = await _charge_points(session, charge_point_ids)
    ids = None if charge_point_ids is None else [row.id for row in charge_points]
    connectors = await _connectors(session, ids)
    labels = []
    for charge_point in charge_points:
        tariff = tariff_of(charge_point, default_currency)
        rows = connectors.get(charge_point.id) or [(FIRST_CONNECTOR, None)]
        for connector_id, connector_name in rows:
            labels.append(
                Label(
                    charge_point_id=charge_point.id,
                    connector_id=connector_id,
                    station_name=charge_point.name or charge_point.id,
                    price_text=price_text(tariff),
                    url=start_url(base_url, charge_point.id, connector_id),
                    connector_name=connector_name,
                    short_url=short_url(base_url, charge_point.id, connector_id),
                    call_to_action=SCAN_FREE if tariff.free else SCAN_AND_PAY,
                    display_code=charge_point.display_code,
                )
            )
    return labels


async def connector_ids(session: AsyncSession, charge_point_id: str) -> list[int]:
    """The connectors the charger has reported, in order; raises if it is unknown."""
    await _charge_points(session, [charge_point_id])
    rows = await _connectors(session, [charge_point_id])
    return [connector_id for connector_id, _name in rows.get(charge_point_id, [])]


async def _charge_points(session: AsyncSession, ids: Sequence[str] | None) -> list[ChargePoint]:
    if ids is None:
        # Sorted here: a database's collation may order "CP+2" and "CP-1" either way.
        return sorted(await session.scalars(select(ChargePoint)), key=lambda row: row.id)
    wanted = list(dict.fromkeys(ids))  # in the order given, once each
    found = {
        row.id: row
        for row in await session.scalars(select(ChargePoint).where(ChargePoint.id.in_(wanted)))
    }
    missing = [charge_point_id for charge_point_id in wanted if charge_point_id not in found]
    if missing:
        names = ", ".join(repr(charge_point_id) for charge_point_id in missing)
        what = "charge point" if len(missing) == 1 else "charge points"
        them = "it" if len(missing) == 1 else "them"
        raise LabelError(f"unknown {what} {names}: add {them} with `ocpp-core chargepoint add`")
    return [found[charge_point_id] for charge_point_id in wanted]


async def _connectors(
    session: AsyncSession, charge_point_ids: Sequence[str] | None
) -> dict[str, list[tuple[int, str | None]]]:
    query = (
        select(Connector.charge_point_id, Connector.connector_id, Connector.name)
        .where(Connector.connector_id >= FIRST_CONNECTOR)
        .order_by(Connector.charge_point_id, Connector.connector_id)
    )
    if charge_point_ids is not None:
        query = query.where(Connector.charge_point_id.in_(charge_point_ids))
    found: dict[str, list[tuple[int, str | None]]] = {}
    for charge_point_id, connector_id, name in await session.execute(query):
        found.setdefault(charge_point_id, []).append((connector_id, name))
    return found
