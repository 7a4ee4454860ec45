"""Charging profiles as records: what an operator made for a charger, and what it answered.

A record holds one profile for one charger (its id is the one sent, unique per charger:
a charger replaces a profile by id). Before a profile goes out it is checked twice: its
own shape (:func:`shape_problem`, a 400 to the caller) and what the charger said it can
take (:func:`refusal`, a 409), from the charger's configuration as ocpp-core last read
it. A limit nobody read is not enforced here: the charger refuses, and the record says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, cast

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargingProfileRecord, MessageLogEntry, Transaction
from ocpp_core.domain import commands, reports
from ocpp_core.domain.command_results import CommandResult, Outcome

MAX_PERIODS = 48  # a day in half hours; chargers commonly take 24 or fewer
MAX_PROFILES_PER_CHARGER = 100
MAX_LIMIT_TENTHS = 100_000_000  # 10 MW: above any charger
MAX_STACK_LEVEL = 1000
MAX_DURATION_S = 7 * 24 * 3600 * 4  # four weeks: a recurring weekly profile and then some
_DETAIL_LENGTH = 200


class ProfileStatus(StrEnum):
    NEW = "new"  # made, never sent
    SENT = "sent"  # sent; the charger's answer never came
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CLEARED = "cleared"


_INSTALLED = (ProfileStatus.SENT, ProfileStatus.ACCEPTED)


class ProfileConflict(Exception):
    """The record can't be stored as asked: its id is taken, or the charger has too many."""


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    charge_point_id: str
    connector_id: int
    profile: commands.ChargingProfile
    status: ProfileStatus
    status_detail: str | None
    updated_at: datetime


def limit_profile_id(connector_id: int) -> int:
    # One id per connector: a charger replaces a profile with the same id on *any* connector.
    return commands.CHARGING_LIMIT_PROFILE_ID + connector_id


def charging_limit(
    connector_id: int, limit: int, unit: commands.RateUnit, now: datetime
) -> commands.ChargingProfile:
    """The fixed limit of ``/API/SetChargingLimit``: the connector's default from now on."""
    return commands.ChargingProfile(
        profile_id=limit_profile_id(connector_id),
        purpose="TxDefaultProfile",
        stack_level=1,
        kind="Absolute",
        unit=unit,
        periods=(commands.SchedulePeriod(0, limit * 10),),
        start_schedule=now,
    )


def shape_problem(connector_id: int, profile: commands.ChargingProfile) -> str | None:
    """Why no charger could take this profile on that connector (None: it could)."""
    periods = profile.periods
    if not 1 <= len(periods) <= MAX_PERIODS:
        return f"a schedule has 1 to {MAX_PERIODS} periods"
    if periods[0].start_s != 0:
        return "the first period starts at 0"
    starts = [p.start_s for p in periods]
    if starts != sorted(set(starts)):
        return "periods start in increasing order"
    if profile.purpose == "ChargePointMaxProfile" and connector_id != 0:
        return "a ChargePointMaxProfile is for connector 0, the whole charger"
    if profile.purpose == "TxProfile" and connector_id == 0:
        return "a TxProfile is for one connector"
    if (profile.kind == "Recurring") != (profile.recurrency is not None):
        return "a Recurring profile, and only it, has a recurrency"
    if profile.kind == "Relative" and profile.start_schedule is not None:
        return "a Relative profile starts when charging does: no startSchedule"
    if profile.valid_from and profile.valid_to and profile.valid_from >= profile.valid_to:
        return "validFrom is before validTo"
    return None


@dataclass(frozen=True, slots=True)
class ChargerLimits:
    """What the charger said it can take (None: never read)."""

    max_stack_level: int | None = None
    units: frozenset[str] | None = None
    max_installed: int | None = None


def refusal(limits: ChargerLimits, profile: commands.ChargingProfile, installed: int) -> str | None:
    """Why this charger would refuse the profile, with ``installed`` others on it already."""
    if limits.max_stack_level is not None and profile.stack_level > limits.max_stack_level:
        return f"stack level {profile.stack_level} is over ChargeProfileMaxStackLevel " + str(
            limits.max_stack_level
        )
    if limits.units is not None and profile.unit not in limits.units:
        allowed = ",".join(sorted(limits.units)) or "none"
        return f"unit {profile.unit} is not in ChargingScheduleAllowedChargingRateUnit ({allowed})"
    if limits.max_installed is not None and installed >= limits.max_installed:
        return f"the charger holds MaxChargingProfilesInstalled ({limits.max_installed}) already"
    return None


# 1.6 configuration keys and where 2.0.1 reports the same (component, variable, instance).
_STACK_LEVEL = "ChargeProfileMaxStackLevel"
_UNITS = "ChargingScheduleAllowedChargingRateUnit"
_MAX_INSTALLED = "MaxChargingProfilesInstalled"
LIMIT_KEYS = (_STACK_LEVEL, _UNITS, _MAX_INSTALLED)
_REPORTED: dict[tuple[Any, Any, Any], str] = {
    ("SmartChargingCtrlr", "ProfileStackLevel", None): _STACK_LEVEL,
    ("SmartChargingCtrlr", "RateUnit", None): _UNITS,
    ("SmartChargingCtrlr", "Entries", "ChargingProfiles"): _MAX_INSTALLED,
}
_READ_ANSWERS = 20  # the newest GetConfiguration answers searched for the keys


async def limits_of(session: AsyncSession, charge_point_id: str) -> ChargerLimits:
    """The charger's limits as last read: its device-model report, else its configuration.

    A 2.0.1 charger's limits are in the report it sent (kept whole); a 1.6 charger's in
    its answers to GetConfiguration, which the message log keeps with the call.
    """
    report = await reports.latest(session, charge_point_id)
    values = reported_limits(report.entries) if report is not None else {}
    if not values:
        values = configured_limits(await _configuration_answers(session, charge_point_id))
    return _limits(values)


def reported_limits(entries: Iterable[Any]) -> dict[str, str]:
    """The limits in a device-model report's entries: the values that say the most."""
    found: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        component, variable = entry.get("component") or {}, entry.get("variable") or {}
        name = (component.get("name"), variable.get("name"), variable.get("instance"))
        key = _REPORTED.get(name)
        if key is None:
            continue
        value = _reported_value(key, entry)
        if value is not None:
            found[key] = value
    return found


def _reported_value(key: str, entry: dict[str, Any]) -> str | None:
    # How many profiles fit is the variable's maxLimit; its value is how many there are.
    if key == _MAX_INSTALLED:
        limit = (entry.get("variableCharacteristics") or {}).get("maxLimit")
        return None if limit is None else str(limit)
    attributes = entry.get("variableAttribute") or []
    actual = [a for a in attributes if isinstance(a, dict) and a.get("type", "Actual") == "Actual"]
    value = actual[0].get("value") if actual else None
    return value if isinstance(value, str) else None


def configured_limits(answers: Iterable[Any]) -> dict[str, str]:
    """The limits in GetConfiguration answers, newest first: the newest value of each key."""
    found: dict[str, str] = {}
    for answer in answers:
        keys = answer.get("configurationKey") if isinstance(answer, dict) else None
        for item in keys if isinstance(keys, list) else []:
            key, value = item.get("key"), item.get("value")
            if key in LIMIT_KEYS and isinstance(value, str):
                found.setdefault(key, value)
    return found


async def _configuration_answers(session: AsyncSession, charge_point_id: str) -> list[Any]:
    rows = await session.scalars(
        select(MessageLogEntry.answer)
        .where(
            MessageLogEntry.charge_point_id == charge_point_id,
            MessageLogEntry.direction == "out",
            MessageLogEntry.action == "GetConfiguration",
            MessageLogEntry.error_code.is_(None),
        )
        .order_by(MessageLogEntry.logged_at.desc(), MessageLogEntry.id.desc())
        .limit(_READ_ANSWERS)
    )
    answers = []
    for raw in rows:
        try:  # the log may have cut a long answer short
            answers.append(json.loads(raw or "null"))
        except ValueError:
            continue
    return answers


# 1.6 names the units Current and Power; 2.0.1 A and W.
_UNIT_NAMES = {"CURRENT": "A", "POWER": "W", "A": "A", "W": "W"}


def _limits(values: dict[str, str]) -> ChargerLimits:
    units = values.get(_UNITS)
    return ChargerLimits(
        max_stack_level=_count(values.get(_STACK_LEVEL)),
        units=None
        if units is None
        else frozenset(
            _UNIT_NAMES[name]
            for name in (u.strip().upper() for u in units.split(","))
            if name in _UNIT_NAMES
        ),
        max_installed=_count(values.get(_MAX_INSTALLED)),
    )


def _count(value: str | None) -> int | None:
    try:
        return None if value is None else int(float(value))
    except ValueError:  # a charger's odd spelling is no limit we can enforce
        return None


# -- records --------------------------------------------------------------------------


def _periods_json(periods: Sequence[commands.SchedulePeriod]) -> str:
    return json.dumps([[p.start_s, p.limit_tenths, p.phases] for p in periods])


def _record(row: ChargingProfileRecord) -> ProfileRecord:
    profile = commands.ChargingProfile(
        profile_id=row.profile_id,
        purpose=cast(commands.ProfilePurpose, row.purpose),
        stack_level=row.stack_level,
        kind=cast(commands.ProfileKind, row.kind),
        unit=cast(commands.RateUnit, row.unit),
        periods=tuple(commands.SchedulePeriod(*p) for p in json.loads(row.periods)),
        recurrency=cast(Literal["Daily", "Weekly"] | None, row.recurrency),
        start_schedule=row.start_schedule,
        duration_s=row.duration_s,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        transaction_id=row.transaction_id,
    )
    return ProfileRecord(
        row.charge_point_id,
        row.connector_id,
        profile,
        ProfileStatus(row.status),
        row.status_detail,
        row.updated_at,
    )


def _fields(connector_id: int, profile: commands.ChargingProfile) -> dict[str, Any]:
    return {
        "connector_id": connector_id,
        "purpose": profile.purpose,
        "stack_level": profile.stack_level,
        "kind": profile.kind,
        "recurrency": profile.recurrency,
        "unit": profile.unit,
        "start_schedule": profile.start_schedule,
        "duration_s": profile.duration_s,
        "valid_from": profile.valid_from,
        "valid_to": profile.valid_to,
        "transaction_id": profile.transaction_id,
        "periods": _periods_json(profile.periods),
    }


async def _row(
    session: AsyncSession, charge_point_id: str, profile_id: int
) -> ChargingProfileRecord | None:
    row: ChargingProfileRecord | None = await session.scalar(
        select(ChargingProfileRecord).where(
            ChargingProfileRecord.charge_point_id == charge_point_id,
            ChargingProfileRecord.profile_id == profile_id,
        )
    )
    return row


async def create(
    session: AsyncSession,
    charge_point_id: str,
    connector_id: int,
    profile: commands.ChargingProfile,
    *,
    now: datetime,
) -> ProfileRecord:
    if await _row(session, charge_point_id, profile.profile_id) is not None:
        raise ProfileConflict(f"profile {profile.profile_id} exists on {charge_point_id}")
    count = await session.scalar(
        select(func.count()).where(ChargingProfileRecord.charge_point_id == charge_point_id)
    )
    if (count or 0) >= MAX_PROFILES_PER_CHARGER:
        raise ProfileConflict(f"a charger has at most {MAX_PROFILES_PER_CHARGER} profiles")
    row = ChargingProfileRecord(
        charge_point_id=charge_point_id,
        profile_id=profile.profile_id,
        status=ProfileStatus.NEW,
        updated_at=now,
        **_fields(connector_id, profile),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:  # the same id, made at the same moment by another request
        raise ProfileConflict(f"profile {profile.profile_id} exists on {charge_point_id}") from None
    return _record(row)


async def put(
    session: AsyncSession,
    charge_point_id: str,
    connector_id: int,
    profile: commands.ChargingProfile,
    *,
    now: datetime,
) -> ProfileRecord:
    """Create the record, or make an existing one with that id this profile (unsent again)."""
    row = await _row(session, charge_point_id, profile.profile_id)
    if row is None:
        return await create(session, charge_point_id, connector_id, profile, now=now)
    for name, value in _fields(connector_id, profile).items():
        setattr(row, name, value)
    row.status, row.status_detail, row.updated_at = ProfileStatus.NEW, None, now
    await session.flush()
    return _record(row)


async def get(session: AsyncSession, charge_point_id: str, profile_id: int) -> ProfileRecord | None:
    row = await _row(session, charge_point_id, profile_id)
    return None if row is None else _record(row)


async def listed(
    session: AsyncSession, charge_point_id: str, *, offset: int = 0, limit: int = 50
) -> list[ProfileRecord]:
    rows = await session.scalars(
        select(ChargingProfileRecord)
        .where(ChargingProfileRecord.charge_point_id == charge_point_id)
        .order_by(ChargingProfileRecord.connector_id, ChargingProfileRecord.profile_id)
        .offset(offset)
        .limit(limit)
    )
    return [_record(row) for row in rows]


async def remove(session: AsyncSession, charge_point_id: str, profile_id: int) -> bool:
    result = await session.execute(
        delete(ChargingProfileRecord).where(
            ChargingProfileRecord.charge_point_id == charge_point_id,
            ChargingProfileRecord.profile_id == profile_id,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def installed(session: AsyncSession, charge_point_id: str, *, besides: int) -> int:
    """How many profiles other than ``besides`` the charger holds, as far as we know."""
    count = await session.scalar(
        select(func.count()).where(
            ChargingProfileRecord.charge_point_id == charge_point_id,
            ChargingProfileRecord.profile_id != besides,
            ChargingProfileRecord.status.in_(_INSTALLED),
        )
    )
    return count or 0


def status_after(result: CommandResult) -> tuple[ProfileStatus, str | None]:
    """What the charger's answer to a profile means for its record."""
    if result.accepted:
        return ProfileStatus.ACCEPTED, None
    if result.outcome is Outcome.TIMEOUT:
        return ProfileStatus.SENT, "no answer in time"
    if result.outcome is Outcome.REFUSED:
        detail = f"{result.error}: {result.description}"
        return ProfileStatus.REJECTED, detail[:_DETAIL_LENGTH]
    return ProfileStatus.REJECTED, (result.status or "")[:_DETAIL_LENGTH] or None


async def record_sent(
    session: AsyncSession,
    charge_point_id: str,
    profile_id: int,
    result: CommandResult,
    *,
    now: datetime,
) -> None:
    row = await _row(session, charge_point_id, profile_id)
    if row is not None:  # deleted meanwhile: nothing to note it on
        row.status, row.status_detail = status_after(result)
        row.updated_at = now


def clears(record: ProfileRecord, command: commands.ClearChargingProfile) -> bool:
    """Whether the charger, clearing by ``command``, took this profile off."""
    profile = record.profile
    return (
        record.status in _INSTALLED
        and command.profile_id in (None, profile.profile_id)
        and command.connector_id in (None, record.connector_id)
        and command.purpose in (None, profile.purpose)
        and command.stack_level in (None, profile.stack_level)
    )


async def record_cleared(
    session: AsyncSession,
    charge_point_id: str,
    command: commands.ClearChargingProfile,
    *,
    now: datetime,
) -> list[int]:
    """Mark the records the clear took off the charger; their profile ids."""
    rows = (
        await session.scalars(
            select(ChargingProfileRecord).where(
                ChargingProfileRecord.charge_point_id == charge_point_id,
                ChargingProfileRecord.status.in_(_INSTALLED),
            )
        )
    ).all()
    cleared = []
    for row in rows:
        if clears(_record(row), command):
            row.status, row.status_detail, row.updated_at = ProfileStatus.CLEARED, None, now
            cleared.append(row.profile_id)
    return cleared


async def as_sent(
    session: AsyncSession, profile: commands.ChargingProfile
) -> commands.ChargingProfile:
    """The profile with its transaction named as the charger knows it (2.0.1: its own id)."""
    if profile.transaction_id is None:
        return profile
    row = await session.get(Transaction, profile.transaction_id)
    return replace(profile, transaction_uid=None if row is None else row.uid)


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    unit: str
    start: str | None  # as the charger wrote it
    periods: tuple[commands.SchedulePeriod, ...]


def composite_of(answer: Mapping[str, Any]) -> CompositeSchedule | None:
    """The schedule in a charger's answer to GetCompositeSchedule (None: it gave none).

    1.6 calls it chargingSchedule, 2.0.1 schedule; inside they are spelled alike. The
    charger's decimals are rounded to tenths, the resolution of every limit here.
    """
    schedule = answer.get("chargingSchedule") or answer.get("schedule")
    if not isinstance(schedule, dict):
        return None
    periods = tuple(
        commands.SchedulePeriod(
            int(p["startPeriod"]), round(float(p["limit"]) * 10), p.get("numberPhases")
        )
        for p in schedule.get("chargingSchedulePeriod", [])
    )
    start = (
        schedule.get("startSchedule")
        or answer.get("scheduleStart")
        or schedule.get("scheduleStart")
    )
    return CompositeSchedule(str(schedule.get("chargingRateUnit", "")), start, periods)
