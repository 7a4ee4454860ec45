"""Firmware updates, one charger at a time: the request, the charger's answer, its progress.

:func:`update` is the whole operation for one charger, so a fleet campaign is a loop
over chargers calling it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import FirmwareUpdate
from ocpp_core.db.session import Database
from ocpp_core.domain import commands, progress
from ocpp_core.domain.command_results import CommandResult


@dataclass(frozen=True, slots=True)
class FirmwareOrder:
    location: str
    retrieve_at: datetime
    retries: int | None = None
    retry_interval: int | None = None  # seconds


async def update(
    db: Database, send: progress.Send, charge_point_id: str, order: FirmwareOrder, *, now: datetime
) -> tuple[int, CommandResult]:
    """Ask one charger to update its firmware; the request's id and the charger's answer."""
    command = commands.UpdateFirmware(
        commands.new_request_id(),
        order.location,
        order.retrieve_at,
        order.retries,
        order.retry_interval,
    )
    row = FirmwareUpdate(
        charge_point_id=charge_point_id,
        request_id=command.request_id,
        location=order.location,
        retrieve_at=order.retrieve_at,
        retries=order.retries,
        retry_interval=order.retry_interval,
        requested_at=now,
        history="[]",
    )
    result, _ = await progress.send_recorded(db, row, command, send)
    return command.request_id, result


async def record_status(
    session: AsyncSession,
    charge_point_id: str,
    status: str,
    request_id: int | None,
    *,
    now: datetime,
) -> None:
    """A FirmwareStatusNotification (1.6's names no request: it is about the newest)."""
    await progress.record_status(
        session, FirmwareUpdate, charge_point_id, status, request_id, now=now
    )
