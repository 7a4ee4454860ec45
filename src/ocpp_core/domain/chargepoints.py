"""Charge points: provisioning, what they tell us at boot, when we last heard from them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.dialect import insert_ignoring_conflicts
from ocpp_core.db.models import ChargePoint
from ocpp_core.security import charger_password_problem, hash_secret

# OCPP 2.0.1 identifierString, at most 48 characters (the Charging Station identity of
# OCPP-J 2.0.1 Part 4); it travels as the last segment of the websocket URL's path.
_ID_PATTERN = re.compile(r"[A-Za-z0-9*\-_=:+|@.]{1,48}")
# URLs read these segments as "this folder" and "up one": clients drop them before a
# request is sent (RFC 3986 5.2.4), so no charger and no page could ever address them.
_DOT_SEGMENTS = frozenset({".", ".."})
ID_RULE = "use 1-48 of the characters A-Z a-z 0-9 * - _ = : + | @ . (not . or .. alone)"
_CHUNK = 1000  # rows per INSERT: stays under SQLite's limit on bound parameters
MAX_NAME_LENGTH = 100  # the column's size: PostgreSQL refuses longer, SQLite would keep it
MAX_COMMENT_LENGTH = 200
MAX_LOCATION_LENGTH = 200
# Printed on labels and read aloud to support: no spaces or signs that blur in print.
_DISPLAY_CODE = re.compile(r"[A-Za-z0-9._-]{1,20}")


class ProvisioningError(ValueError):
    """A charge point definition that can't be stored; the message says why."""


class PasswordNotChosen(ProvisioningError):
    """Charge points that would let any charger in, without anyone having chosen that.

    Whoever connects under such an id is taken for the charger, and knocks the
    real one off its connection; so "no password" is refused unless it was asked for.
    """

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(ids)
        listed = ", ".join(repr(i) for i in self.ids[:10])
        more = f" and {len(self.ids) - 10} more" if len(self.ids) > 10 else ""
        super().__init__(
            f"no password for {listed}{more}: any charger could connect under "
            f"{'that id' if len(self.ids) == 1 else 'those ids'} and push the real one off"
        )


@dataclass(frozen=True, slots=True)
class NewChargePoint:
    id: str
    name: str | None = None
    password: str | None = None
    comment: str | None = None
    display_code: str | None = None
    location: str | None = None
    thumbprint: str | None = None  # a pinned client certificate (security profile 3)
    no_password: bool = False  # chosen on purpose: any charger may connect under this id

    @property
    def open_by_accident(self) -> bool:
        """Neither a password nor a certificate, and nobody said that was meant."""
        return self.password is None and self.thumbprint is None and not self.no_password

    def problem(self) -> str | None:
        if charge_point_id_problem(self.id):
            return f"id {self.id!r}: {ID_RULE}"
        if self.name is not None and len(self.name) > MAX_NAME_LENGTH:
            return f"id {self.id!r}: name must be at most {MAX_NAME_LENGTH} characters"
        if self.comment is not None and len(self.comment) > MAX_COMMENT_LENGTH:
            return f"id {self.id!r}: comment must be at most {MAX_COMMENT_LENGTH} characters"
        code_problem = display_code_problem(self.display_code)
        if code_problem:
            return f"id {self.id!r}: {code_problem}"
        if self.location is not None and len(self.location) > MAX_LOCATION_LENGTH:
            return f"id {self.id!r}: location must be at most {MAX_LOCATION_LENGTH} characters"
        if self.password is not None:
            if self.no_password:
                return f"id {self.id!r}: a password and no password both given"
            problem = charger_password_problem(self.password)
            return f"id {self.id!r}: {problem}" if problem else None
        return None


def charge_point_id_problem(charge_point_id: str) -> str | None:
    """Why this can't be a charge point's id, or None: the one rule wherever ids come in."""
    if not _ID_PATTERN.fullmatch(charge_point_id) or charge_point_id in _DOT_SEGMENTS:
        return ID_RULE
    return None


def display_code_problem(code: str | None) -> str | None:
    if code is None or _DISPLAY_CODE.fullmatch(code):
        return None
    return "display code: use 1-20 of the characters A-Z a-z 0-9 - _ ."


async def display_code_owner(session: AsyncSession, code: str) -> str | None:
    """The charge point that shows ``code`` to drivers, if any."""
    owner: str | None = await session.scalar(
        select(ChargePoint.id).where(ChargePoint.display_code == code)
    )
    return owner


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


async def find_many(session: AsyncSession, ids: Iterable[str]) -> dict[str, ChargePoint]:
    rows = await session.scalars(select(ChargePoint).where(ChargePoint.id.in_(list(ids))))
    return {row.id: row for row in rows}


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
    await _reject_taken_codes(session, rows)
    added = 0
    for start in range(0, len(rows), _CHUNK):
        chunk = [_row_values(row, now) for row in rows[start : start + _CHUNK]]
        added += await insert_ignoring_conflicts(session, ChargePoint, chunk)
    return added


def check_all(rows: Sequence[NewChargePoint]) -> None:
    problems = [p for p in (row.problem() for row in rows) if p]
    if problems:
        raise ProvisioningError("; ".join(problems[:20]))
    unchosen = [row.id for row in rows if row.open_by_accident]
    if unchosen:
        raise PasswordNotChosen(unchosen)
    _reject_duplicates("id", (row.id for row in rows))
    _reject_duplicates("display code", (row.display_code for row in rows if row.display_code))


def _reject_duplicates(what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ProvisioningError(f"{what} {value!r} appears twice")
        seen.add(value)


async def _reject_taken_codes(session: AsyncSession, rows: Sequence[NewChargePoint]) -> None:
    """A code held by another charge point is refused, not skipped as the insert would."""
    wanted = {row.display_code: row.id for row in rows if row.display_code}
    if not wanted:
        return
    taken = await session.execute(
        select(ChargePoint.display_code, ChargePoint.id).where(
            ChargePoint.display_code.in_(list(wanted))
        )
    )
    owners = dict(taken.all())
    for code, charge_point_id in wanted.items():
        owner = owners.get(code)
        if owner is not None and owner != charge_point_id:
            raise ProvisioningError(f"display code {code!r} is used by charge point {owner!r}")


def _row_values(row: NewChargePoint, now: datetime) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name or row.id,
        "comment": row.comment,
        "display_code": row.display_code,
        "location": row.location,
        "auth_user": row.id if row.password else None,
        "password_hash": hash_secret(row.password) if row.password else None,
        "client_cert_thumbprint": row.thumbprint,
        "created_at": now,
    }


async def list_all(session: AsyncSession) -> Sequence[ChargePoint]:
    result = await session.scalars(select(ChargePoint).order_by(ChargePoint.id))
    return result.all()


_BOOT_FIELDS = (
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
)
_charge_points = cast(Table, ChargePoint.__table__)
# One statement for every boot, so a storm of boots is one executemany (see db.group).
BOOT = (
    update(_charge_points)
    .where(_charge_points.c.id == bindparam("cp"))
    .values(
        {
            **{name: bindparam(f"new_{name}") for name in (*_BOOT_FIELDS, "protocol")},
            "booted_at": bindparam("now"),
            "last_seen_at": bindparam("now"),
            "reservations_supported": None,  # asked again: its firmware may have changed
        }
    )
)


def boot_parameters(
    charge_point_id: str, info: BootInfo, *, protocol: str, now: datetime
) -> dict[str, Any]:
    """``BOOT``'s parameters for one charger's BootNotification."""
    return {
        "cp": charge_point_id,
        **{f"new_{name}": getattr(info, name) for name in _BOOT_FIELDS},
        "new_protocol": protocol,
        "now": now,
    }


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
