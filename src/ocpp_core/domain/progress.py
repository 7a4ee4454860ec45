"""A request's progress as the charger reports it: the latest status and a bounded history.

Firmware updates and log uploads are both told in status notifications, first the
charger's answer to the request, then one notification per step. The history is
kept per request row, cut to its newest steps so a chatty charger can't grow it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, cast

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.clock import format_timestamp, parse_timestamp
from ocpp_core.db.models import FirmwareUpdate, LogUpload
from ocpp_core.db.session import Database
from ocpp_core.domain.command_results import ACCEPTED, CommandResult, Outcome
from ocpp_core.domain.commands import Command

HISTORY_KEPT = 20  # a firmware update has about ten steps, with retries a few more
REQUESTS_KEPT = 50  # per charger and kind; older ones (and their files) are removed
# "Nothing in progress": a charger's answer to a trigger while idle, no step of a request.
IDLE = "Idle"


@dataclass(frozen=True, slots=True)
class Step:
    status: str
    at: datetime


def with_step(history: str, status: str, at: datetime) -> str:
    steps = json.loads(history)[-(HISTORY_KEPT - 1) :]
    return json.dumps([*steps, [status, format_timestamp(at)]])


def steps_of(history: str) -> list[Step]:
    return [Step(status, parse_timestamp(at)) for status, at in json.loads(history)]


def answer_of(result: CommandResult) -> str:
    """The charger's answer as one word: its status, or why there is none.

    1.6 answers UpdateFirmware and GetDiagnostics with no status: taking the request is
    all an empty answer says.
    """
    if result.outcome is Outcome.ANSWERED:
        return result.status or ACCEPTED
    return result.outcome.value


Request = FirmwareUpdate | LogUpload
R = TypeVar("R", FirmwareUpdate, LogUpload)


Send = Callable[[Command], Awaitable[CommandResult]]


async def send_recorded(
    db: Database, row: Request, command: Command, send: Send
) -> tuple[CommandResult, list[int]]:
    """Store the request, send it, keep the charger's answer; and the ids of requests pruned.

    Stored first, so a status notification that overtakes the answer finds its request.
    ``send`` delivers the command through the router; if it raises, nothing was sent
    and the request is forgotten.
    """
    model = type(row)
    async with db.session() as session:
        session.add(row)
        await session.flush()
        pruned = await prune(session, model, row.charge_point_id)
    try:
        result = await send(command)
    except Exception:
        async with db.session() as session:
            await session.execute(delete(model).where(model.id == row.id))
        raise
    async with db.session() as session:
        answer = answer_of(result)
        await session.execute(update(model).where(model.id == row.id).values(answer=answer))
    return result, pruned


async def prune(session: AsyncSession, model: type[Request], charge_point_id: str) -> list[int]:
    """Forget all but the charger's newest requests of a kind; the ids forgotten."""
    kept = (
        select(model.id)
        .where(model.charge_point_id == charge_point_id)
        .order_by(model.id.desc())
        .limit(REQUESTS_KEPT)
    )
    gone = await session.scalars(
        delete(model)
        .where(model.charge_point_id == charge_point_id, model.id.not_in(kept))
        .returning(model.id)
    )
    return list(gone.all())


async def record_status(
    session: AsyncSession,
    model: type[Request],
    charge_point_id: str,
    status: str,
    request_id: int | None,
    *,
    now: datetime,
) -> None:
    """A status notification, on the request it names (without an id: the charger's newest).

    Idle says no request is in progress, so it is no request's step.
    """
    if status == IDLE:
        return
    query = select(model).where(model.charge_point_id == charge_point_id)
    if request_id is not None:
        query = query.where(model.request_id == request_id)
    found = await session.scalars(query.order_by(model.id.desc()).limit(1))
    row = cast(Request | None, found.first())
    if row is not None:
        row.status, row.status_at = status, now
        row.history = with_step(row.history, status, now)


async def recent(
    session: AsyncSession, model: type[R], charge_point_id: str, *, limit: int = REQUESTS_KEPT
) -> Sequence[R]:
    """The charger's requests of a kind, newest first."""
    found = await session.scalars(
        select(model)
        .where(model.charge_point_id == charge_point_id)
        .order_by(model.id.desc())
        .limit(limit)
    )
    return found.all()
