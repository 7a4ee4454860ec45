"""What a charger tells about its charging limits, installed profiles and the EV's needs.

2.0.1 chargers report the profiles they hold (ReportChargingProfiles, answering
GetChargingProfiles), limits set by others (NotifyChargingLimit, e.g. a grid operator's,
and ClearedChargingLimit) and what the EV asks for (NotifyEVChargingNeeds). They are
kept as they came, for the operator to read; a charger sends them on its own, so only
the newest :data:`KEPT_PER_CHARGER` of each charger are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargingNotice

KEPT_PER_CHARGER = 200
MAX_DATA_BYTES = 65_536  # a frame may be a megabyte; a notice kept whole is at most this
_SOURCE_LENGTH = 20


class NoticeKind(StrEnum):
    PROFILES = "ReportChargingProfiles"
    LIMIT = "NotifyChargingLimit"
    LIMIT_CLEARED = "ClearedChargingLimit"
    EV_NEEDS = "NotifyEVChargingNeeds"


@dataclass(frozen=True, slots=True)
class Notice:
    kind: NoticeKind
    evse_id: int | None
    source: str | None  # who set the limit: EMS, Other, SO (system operator), CSO
    data: dict[str, Any]  # the message as the charger sent it
    request_id: int | None = None  # the GetChargingProfiles it answers


@dataclass(frozen=True, slots=True)
class StoredNotice:
    id: int
    received_at: datetime
    notice: Notice


async def store(
    session: AsyncSession, charge_point_id: str, notice: Notice, *, now: datetime
) -> None:
    session.add(
        ChargingNotice(
            charge_point_id=charge_point_id,
            kind=notice.kind,
            evse_id=notice.evse_id,
            request_id=notice.request_id,
            source=None if notice.source is None else notice.source[:_SOURCE_LENGTH],
            received_at=now,
            data=_kept(notice.data),
        )
    )
    await session.flush()
    oldest_kept = (
        select(ChargingNotice.id)
        .where(ChargingNotice.charge_point_id == charge_point_id)
        .order_by(ChargingNotice.id.desc())
        .offset(KEPT_PER_CHARGER - 1)
        .limit(1)
        .scalar_subquery()
    )
    await session.execute(
        delete(ChargingNotice).where(
            ChargingNotice.charge_point_id == charge_point_id, ChargingNotice.id < oldest_kept
        )
    )


def _kept(data: dict[str, Any]) -> str:
    text = json.dumps(data)
    if len(text) > MAX_DATA_BYTES:  # noted, not kept: what matters is that it came
        return json.dumps({"omitted": f"{len(text)} characters"})
    return text


async def listed(
    session: AsyncSession,
    charge_point_id: str,
    *,
    kind: NoticeKind | None = None,
    request_id: int | None = None,
    limit: int = 50,
) -> list[StoredNotice]:
    """The newest first."""
    query = select(ChargingNotice).where(ChargingNotice.charge_point_id == charge_point_id)
    if kind is not None:
        query = query.where(ChargingNotice.kind == kind)
    if request_id is not None:
        query = query.where(ChargingNotice.request_id == request_id)
    rows = await session.scalars(query.order_by(ChargingNotice.id.desc()).limit(limit))
    return [
        StoredNotice(
            row.id,
            row.received_at,
            Notice(
                NoticeKind(row.kind), row.evse_id, row.source, json.loads(row.data), row.request_id
            ),
        )
        for row in rows
    ]
