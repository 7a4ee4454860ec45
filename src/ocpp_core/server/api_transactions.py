"""``/API/Transactions``: what was charged, where, by whom, and how much energy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

from ocpp_core.db.models import Transaction
from ocpp_core.domain import transactions
from ocpp_core.params import DbInt
from ocpp_core.server.api_auth import ApiError, RuntimeDep, api_router

router = api_router("transactions")


class TransactionOut(BaseModel):
    id: int
    uid: str | None
    chargePointId: str  # noqa: N815 -- the API speaks camelCase like OCPP
    connectorId: int  # noqa: N815
    startTag: str  # noqa: N815
    startAt: datetime  # noqa: N815
    meterStartWh: int | None  # noqa: N815 -- None: the charger has sent no register yet
    startResult: str  # noqa: N815
    stopTag: str | None  # noqa: N815
    stopAt: datetime | None  # noqa: N815
    meterStopWh: int | None  # noqa: N815
    stopReason: str | None  # noqa: N815
    energyWh: int | None  # noqa: N815
    reviewReason: str | None  # noqa: N815

    @classmethod
    def of(cls, row: Transaction) -> TransactionOut:
        return cls(
            id=row.id,
            uid=row.uid,
            chargePointId=row.charge_point_id,
            connectorId=row.connector_id,
            startTag=row.start_tag,
            startAt=row.start_at,
            meterStartWh=transactions.start_register(row),
            startResult=row.start_result,
            stopTag=row.stop_tag,
            stopAt=row.stop_at,
            meterStopWh=row.meter_stop_wh,
            stopReason=row.stop_reason,
            energyWh=row.energy_wh,
            reviewReason=row.review_reason,
        )


@router.get("/Transactions")
async def search(
    runtime: RuntimeDep,
    cp: Annotated[str | None, Query(max_length=100)] = None,
    conn: Annotated[DbInt | None, Query(ge=0)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[TransactionOut]:
    """Transactions, newest first; ``since``/``until`` bound the start time (ISO 8601)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiError(400, "InvalidTime", error=f"{name} needs a time zone, e.g. Z")
    where = transactions.TransactionFilter(cp, conn, tag, since, until, limit)
    async with runtime.db.session() as session:
        rows = await transactions.search(session, where)
    return [TransactionOut.of(row) for row in rows]


@router.get("/Transactions/{transaction_id}")
async def one(runtime: RuntimeDep, transaction_id: DbInt) -> TransactionOut:
    """One transaction by its id."""
    async with runtime.db.session() as session:
        row = await transactions.get(session, transaction_id)
    if row is None:
        raise ApiError(404, "NotFound", error=f"no transaction {transaction_id}")
    return TransactionOut.of(row)
