"""``GET /API/Status``: which chargers are connected and what their connectors do."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from ocpp_core.db.models import ChargePoint, Connector
from ocpp_core.server.api_auth import RuntimeDep, api_router

router = api_router("status")


class ConnectorState(BaseModel):
    connectorId: int  # noqa: N815 -- the API speaks camelCase like OCPP
    name: str | None
    status: str | None
    errorCode: str | None  # noqa: N815
    statusAt: datetime | None  # noqa: N815
    meterWh: int | None  # noqa: N815
    meterAt: datetime | None  # noqa: N815
    powerW: int | None  # noqa: N815
    currentMa: int | None  # noqa: N815
    socPercent: int | None  # noqa: N815


class ChargerState(BaseModel):
    id: str
    name: str | None
    protocol: str
    # The last firmware update / diagnostics (2.0.1: log) upload progress the charger sent,
    # and when it came.
    firmwareStatus: str | None  # noqa: N815
    firmwareStatusAt: datetime | None  # noqa: N815
    diagnosticsStatus: str | None  # noqa: N815
    diagnosticsStatusAt: datetime | None  # noqa: N815
    connectors: list[ConnectorState]


@router.get("/Status", response_model=list[ChargerState])
async def status(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Connected chargers with the last known state of each connector."""
    online = dict(await runtime.router.online())
    if not online:
        return []
    async with runtime.db.session() as session:
        stations = await session.scalars(
            select(ChargePoint).where(ChargePoint.id.in_(list(online)))
        )
        about = {station.id: _station(station) for station in stations}
        rows = await session.scalars(
            select(Connector)
            .where(Connector.charge_point_id.in_(list(online)))
            .order_by(Connector.connector_id)
        )
        by_charger: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_charger[row.charge_point_id].append(_connector(row))
    return [
        {
            "id": cp,
            "protocol": protocol,
            **about.get(cp, _UNKNOWN_STATION),
            "connectors": by_charger[cp],
        }
        for cp, protocol in sorted(online.items())
    ]


_UNKNOWN_STATION: dict[str, Any] = {
    "name": None,
    "firmwareStatus": None,
    "firmwareStatusAt": None,
    "diagnosticsStatus": None,
    "diagnosticsStatusAt": None,
}


def _station(row: ChargePoint) -> dict[str, Any]:
    return {
        "name": row.name,
        "firmwareStatus": row.firmware_status,
        "firmwareStatusAt": row.firmware_status_at,
        "diagnosticsStatus": row.diagnostics_status,
        "diagnosticsStatusAt": row.diagnostics_status_at,
    }


def _connector(row: Connector) -> dict[str, Any]:
    return {
        "connectorId": row.connector_id,
        "name": row.name,
        "status": row.status,
        "errorCode": row.error_code,
        "statusAt": row.status_at,
        "meterWh": row.meter_wh,
        "meterAt": row.meter_at,
        "powerW": row.power_w,
        "currentMa": row.current_ma,
        "socPercent": row.soc_percent,
    }
