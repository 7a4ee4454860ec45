"""Connector state: the last status and reading each charging position (and plug) reported."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, SQLColumnExpression, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.dialect import upsert
from ocpp_core.db.models import Connector, EvseConnector
from ocpp_core.domain.meter import MeterReading

FIRST_CONNECTOR = 1  # a charger that has not reported its connectors yet has this one


def known_connectors(reported: Iterable[int]) -> set[int]:
    """The connectors a session may be started on: those the charger reported, else the first.

    Connector 0 (1.6's "the whole charger") is never one a car plugs into.
    """
    return {n for n in reported if n >= FIRST_CONNECTOR} or {FIRST_CONNECTOR}


def is_known(
    charge_point_id: SQLColumnExpression[str],
    connector_id: int,
    number: SQLColumnExpression[int] | None = None,
) -> ColumnElement[bool]:
    """Whether the charger has this connector, as far as it has told us (:func:`known_connectors`).

    In SQL, so that a caller's other questions go in the same statement. With
    ``number`` (a parameter), the expression serves every connector number of
    ``connector_id``'s kind (below the first, the first, or past it), and the
    number is ``number``'s value.
    """
    if connector_id < FIRST_CONNECTOR:
        return false()
    reported = exists().where(
        Connector.charge_point_id == charge_point_id,
        Connector.connector_id == (connector_id if number is None else number),
    )
    if connector_id != FIRST_CONNECTOR:
        return reported
    any_reported = exists().where(
        Connector.charge_point_id == charge_point_id, Connector.connector_id >= FIRST_CONNECTOR
    )
    return or_(reported, ~any_reported)


async def record_status(
    session: AsyncSession,
    charge_point_id: str,
    connector_id: int,
    *,
    status: str,
    error_code: str | None,
    at: datetime,
) -> None:
    await upsert(
        session,
        Connector,
        {"charge_point_id": charge_point_id, "connector_id": connector_id},
        {"status": status, "error_code": error_code, "status_at": at},
    )


# The columns a meter reading sets; each only when the reading has its value.
LIVE_COLUMNS = ("power_w", "current_ma", "soc_percent", "meter_wh", "meter_at")


async def record_reading(
    session: AsyncSession,
    charge_point_id: str,
    connector_id: int,
    reading: MeterReading,
    *,
    at: datetime,
    include_energy: bool = True,
) -> None:
    """Keep the values the reading has (see :func:`live_values`)."""
    values = live_values(connector_id, reading, at=at, include_energy=include_energy)
    await record_live(session, charge_point_id, connector_id, values)


def live_values(
    connector_id: int, reading: MeterReading, *, at: datetime, include_energy: bool
) -> dict[str, object]:
    """The connector's columns the reading sets; energy only when it passed the plausibility check.

    Position 0 is the charger itself (or a transaction's unknown EVSE): nothing to show.
    """
    if connector_id < 1:
        return {}
    live = {
        "power_w": reading.power_w,
        "current_ma": reading.current_ma,
        "soc_percent": reading.soc_percent,
    }
    values: dict[str, object] = {k: v for k, v in live.items() if v is not None}
    if include_energy and reading.energy_wh is not None:
        values |= {"meter_wh": reading.energy_wh, "meter_at": at}
    return values


async def record_live(
    session: AsyncSession, charge_point_id: str, connector_id: int, values: dict[str, object]
) -> None:
    if not values:
        return
    await upsert(
        session,
        Connector,
        {"charge_point_id": charge_point_id, "connector_id": connector_id},
        values,
    )


async def find(session: AsyncSession, charge_point_id: str, connector_id: int) -> Connector | None:
    return await session.get(Connector, (charge_point_id, connector_id))


async def positions(session: AsyncSession, charge_point_id: str) -> list[int]:
    """The charging positions the charger has reported, in order."""
    rows = await session.scalars(
        select(Connector.connector_id)
        .where(Connector.charge_point_id == charge_point_id, Connector.connector_id >= 1)
        .order_by(Connector.connector_id)
    )
    return list(rows)


async def record_plug_status(
    session: AsyncSession,
    charge_point_id: str,
    position_id: int,
    plug_id: int,
    *,
    status: str,
    at: datetime,
) -> list[str]:
    """Keep one plug's status; the statuses of every plug of its position, this one's included."""
    await upsert(
        session,
        EvseConnector,
        {"charge_point_id": charge_point_id, "evse_id": position_id, "connector_id": plug_id},
        {"status": status, "status_at": at},
    )
    rows = await session.scalars(
        select(EvseConnector.status).where(
            EvseConnector.charge_point_id == charge_point_id,
            EvseConnector.evse_id == position_id,
        )
    )
    return list(rows)
