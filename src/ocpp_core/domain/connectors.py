"""Connector state: the last status and reading each connector reported."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.dialect import upsert
from ocpp_core.db.models import Connector
from ocpp_core.domain.meter import MeterReading


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


async def record_reading(
    session: AsyncSession,
    charge_point_id: str,
    connector_id: int,
    reading: MeterReading,
    *,
    at: datetime,
    include_energy: bool = True,
) -> None:
    """Keep the values the reading has; energy only when it passed the plausibility check."""
    live = {
        "power_w": reading.power_w,
        "current_ma": reading.current_ma,
        "soc_percent": reading.soc_percent,
    }
    values: dict[str, object] = {k: v for k, v in live.items() if v is not None}
    if include_energy and reading.energy_wh is not None:
        values |= {"meter_wh": reading.energy_wh, "meter_at": at}
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
