"""Charge points: provisioning, what they tell us at boot, when we last heard from them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.dialect import insert_ignoring_conflicts
from ocpp_core.db.models import ChargePoint
from ocpp_core.security import charger_password_problem, hash_secret

# OCPP 2.0.1 identifierString, max 48: the id travels in the websocket URL path.
_ID_PATTERN = re.compile(r"[A-Za-z0-9*\-_=:+|@.]{1,48}")
_CHUNK = 1000  # rows per INSERT: stays under SQLite's limit on bound parameters
MAX_NAME_LENGTH = 100  # the column's size: PostgreSQL refuses longer, SQLite would keep it
MAX_COMMENT_LENGTH = 200


class ProvisioningError(ValueError):
    """A charge point definition that can't be stored; the message says why."""


@dataclass(frozen=True, slots=True)
class NewChargePoint:
    id: str
    name: str | None = None
    password: str | None = None
    comment: str | None = None

    def problem(self) -> str | None:
        if not _ID_PATTERN.fullmatch(self.id):
            return f"id {self.id!r}: use 1-48 of the characters A-Z a-z 0-9 * - _ = : + | @ ."
        if self.name is not None and len(self.name) > MAX_NAME_LENGTH:
            return f"id {self.id!r}: name must be at most {MAX_NAME_LENGTH} characters"
        if self.comment is not None and len(self.comment) > MAX_COMMENT_LENGTH:
            return f"id {self.id!r}: comment must be at most {MAX_COMMENT_LENGTH} characters"
        if self.password is not None:
            problem = charger_password_problem(self.password)
            return f"id {self.id!r}: {problem}" if problem else None
        return None


@dataclass(frozen=True, slots=True)
class BootInfo:
    vendor: str | None
    model: str | None
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


async def find(session: AsyncSession, charge_point_id: str) -> ChargePoint | None:
    return await session.get(ChargePoint, charge_point_id)


async def add(session: AsyncSession, new: NewChargePoint, *, now: datetime) -> None:
    """Add one charge point; raises :class:`ProvisioningError` if invalid or taken."""
    # The insert itself detects a taken id: a look-up first would race a concurrent add.
    if await add_many(session, [new], now=now) == 0:
        raise ProvisioningError(f"charge point {new.id!r} already exists")


async def add_many(session: AsyncSession, rows: Sequence[NewChargePoint], *, now: datetime) -> int:
    """Check every row, then insert in chunks; ids that exist already are skipped.

    Checking the whole batch before the first insert means a bad file stores nothing.
    """
    check_all(rows)
    added = 0
    for start in range(0, len(rows), _CHUNK):
        chunk = [_row_values(row, now) for row in rows[start : start + _CHUNK]]
        added += await insert_ignoring_conflicts(session, ChargePoint, chunk)
    return added


def check_all(rows: Sequence[NewChargePoint]) -> None:
    problems = [p for p in (row.problem() for row in rows) if p]
    if problems:
        raise ProvisioningError("; ".join(problems[:20]))
    _reject_duplicates(row.id for row in rows)


def _reject_duplicates(ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for charge_point_id in ids:
        if charge_point_id in seen:
            raise ProvisioningError(f"id {charge_point_id!r} appears twice")
        seen.add(charge_point_id)


def _row_values(row: NewChargePoint, now: datetime) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name or row.id,
        "comment": row.comment,
        "auth_user": row.id if row.password else None,
        "password_hash": hash_secret(row.password) if row.password else None,
        "created_at": now,
    }


async def list_all(session: AsyncSession) -> Sequence[ChargePoint]:
    result = await session.scalars(select(ChargePoint).order_by(ChargePoint.id))
    return result.all()


async def record_boot(
    session: AsyncSession, charge_point_id: str, info: BootInfo, *, protocol: str, now: datetime
) -> None:
    await session.execute(
        update(ChargePoint)
        .where(ChargePoint.id == charge_point_id)
        .values(
            vendor=info.vendor,
            model=info.model,
            serial_number=info.serial_number,
            firmware_version=info.firmware_version,
            iccid=info.iccid,
            imsi=info.imsi,
            meter_type=info.meter_type,
            meter_serial_number=info.meter_serial_number,
            protocol=protocol,
            booted_at=now,
            last_seen_at=now,
        )
    )


async def mark_seen(
    session: AsyncSession, charge_point_id: str, *, now: datetime, protocol: str | None = None
) -> None:
    values: dict[str, object] = {"last_seen_at": now}
    if protocol is not None:
        values["protocol"] = protocol
    await session.execute(
        update(ChargePoint).where(ChargePoint.id == charge_point_id).values(**values)
    )


async def record_firmware_status(
    session: AsyncSession, charge_point_id: str, *, status: str, kind: str, now: datetime
) -> None:
    """Firmware and diagnostics progress, shown to operators beside the charger."""
    column = {"firmware": "firmware_status", "diagnostics": "diagnostics_status"}[kind]
    await session.execute(
        update(ChargePoint)
        .where(ChargePoint.id == charge_point_id)
        .values({column: status, f"{column}_at": now})
    )
