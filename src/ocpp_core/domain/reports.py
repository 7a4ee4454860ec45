"""Reports a charger sends about itself (its device model), kept part by part as they came.

A report arrives in numbered parts; storing each part under its number makes a
resent part overwrite itself instead of doubling the report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.dialect import upsert
from ocpp_core.db.models import ChargerReport
from ocpp_core.domain.redaction import redact


@dataclass(frozen=True, slots=True)
class ReportPart:
    charge_point_id: str
    request_id: int
    seq_no: int
    generated_at: datetime
    more_follows: bool
    entries: list[dict[str, Any]]  # as the charger sent them


@dataclass(frozen=True, slots=True)
class Report:
    request_id: int
    generated_at: datetime
    received_at: datetime  # of the newest part
    complete: bool
    entries: list[Any]


async def store(session: AsyncSession, part: ReportPart, *, now: datetime) -> None:
    await upsert(
        session,
        ChargerReport,
        {
            "charge_point_id": part.charge_point_id,
            "request_id": part.request_id,
            "seq_no": part.seq_no,
        },
        {
            "generated_at": part.generated_at,
            "received_at": now,
            "more_follows": part.more_follows,
            # A write-only variable has no business in a report; a charger may send it anyway.
            "data": json.dumps([redact(entry) for entry in part.entries]),
        },
    )


async def latest(
    session: AsyncSession, charge_point_id: str, *, request_id: int | None = None
) -> Report | None:
    """The newest report (or the one asked for), its parts joined in order."""
    if request_id is None:
        request_id = await session.scalar(
            select(ChargerReport.request_id)
            .where(ChargerReport.charge_point_id == charge_point_id)
            .order_by(ChargerReport.received_at.desc())
            .limit(1)
        )
        if request_id is None:
            return None
    parts = (
        await session.scalars(
            select(ChargerReport)
            .where(
                ChargerReport.charge_point_id == charge_point_id,
                ChargerReport.request_id == request_id,
            )
            .order_by(ChargerReport.seq_no)
        )
    ).all()
    return _joined(request_id, parts) if parts else None


def _joined(request_id: int, parts: Sequence[ChargerReport]) -> Report:
    # Complete once the last part (tbc false) and every part before it arrived.
    numbers = [part.seq_no for part in parts]
    complete = not parts[-1].more_follows and numbers == list(range(len(parts)))
    entries = [entry for part in parts for entry in json.loads(part.data)]
    received_at = max(part.received_at for part in parts)
    return Report(request_id, parts[0].generated_at, received_at, complete, entries)
