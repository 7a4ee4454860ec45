"""``GET /API/Status``: which chargers are connected and what their connectors do.

Whether a charger is connected is read from the database (see domain.presence),
so every node answers for the whole cluster. The fleet's list comes a page at a
time in id order: a small fleet gets it whole as before, a big one follows the
``Link: <...>; rel="next"`` header. ``chargePointId=`` (repeated, at most a
page's worth) narrows it to the chargers a page shows: the answer is computed on
the loop that serves the chargers, so a list of 50 connectors must not cost the
whole fleet's. ``/API/Status/{chargePointId}`` answers for one charger,
connected or not, which is what a page about one charger needs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargePoint, Connector
from ocpp_core.domain.chargepoints import charge_point_id_problem
from ocpp_core.domain.presence import online
from ocpp_core.server.api_auth import ApiError, RuntimeDep, api_router

router = api_router("status")

PAGE_LIMIT = 500  # chargers per answer: about 300 KB of JSON with their connectors
_MAX_ID = 100  # the column's length


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
    protocol: str | None
    # The last firmware update / diagnostics (2.0.1: log) upload progress the charger sent,
    # and when it came.
    firmwareStatus: str | None  # noqa: N815
    firmwareStatusAt: datetime | None  # noqa: N815
    diagnosticsStatus: str | None  # noqa: N815
    diagnosticsStatusAt: datetime | None  # noqa: N815
    connectors: list[ConnectorState]


class OneChargerState(ChargerState):
    online: bool


@router.get("/Status", response_model=list[ChargerState])
async def status(
    runtime: RuntimeDep,
    response: Response,
    after: Annotated[str, Query(max_length=_MAX_ID)] = "",
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = PAGE_LIMIT,
    chargePointId: Annotated[list[str] | None, Query(max_length=PAGE_LIMIT)] = None,  # noqa: N803
) -> list[dict[str, Any]]:
    """Connected chargers after ``after`` in id order, with each connector's last known state.

    With ``chargePointId``, only those of them that are connected.
    """
    query = select(ChargePoint).where(online()).order_by(ChargePoint.id).limit(limit + 1)
    if after:
        query = query.where(ChargePoint.id > after)
    if chargePointId is not None:
        for charge_point_id in chargePointId:
            if problem := charge_point_id_problem(charge_point_id):
                shown = charge_point_id[:_MAX_ID]  # the id is echoed: not a whole URL of it
                raise ApiError(400, "InvalidChargePointId", error=f"{shown}: {problem}")
        query = query.where(ChargePoint.id.in_(chargePointId))
    async with runtime.db.reading() as session:
        stations = (await session.scalars(query)).all()
        page = await _states(session, stations[:limit])
    if len(stations) > limit:
        asked = {"chargePointId": chargePointId} if chargePointId is not None else {}
        next_query = urlencode(
            {**asked, "after": stations[limit - 1].id, "limit": limit}, doseq=True
        )
        response.headers["Link"] = f'</API/Status?{next_query}>; rel="next"'
    return page


@router.get("/Status/{chargePointId}", response_model=OneChargerState)
async def one_status(runtime: RuntimeDep, chargePointId: str) -> dict[str, Any]:  # noqa: N803
    """One charger, connected or not (``online``), with each connector's last known state."""
    if problem := charge_point_id_problem(chargePointId):
        raise ApiError(400, "InvalidChargePointId", error=problem)
    async with runtime.db.reading() as session:
        station = await session.get(ChargePoint, chargePointId)
        if station is None:
            raise ApiError(404, "NotFound", error=f"no charge point {chargePointId}")
        [state] = await _states(session, [station])
    return {**state, "online": station.online_node is not None}


async def _states(session: AsyncSession, stations: Sequence[ChargePoint]) -> list[dict[str, Any]]:
    if not stations:
        return []
    rows = await session.scalars(
        select(Connector)
        .where(Connector.charge_point_id.in_([station.id for station in stations]))
        .order_by(Connector.connector_id)
    )
    by_charger: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_charger[row.charge_point_id].append(_connector(row))
    return [{**_station(station), "connectors": by_charger[station.id]} for station in stations]


def _station(row: ChargePoint) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "protocol": row.protocol,
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
