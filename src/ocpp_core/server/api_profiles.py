"""Smart charging: ``/API/ChargingProfiles/...`` records, and the commands that use them.

A profile is a record first (create, list, edit, delete), then sent: every answer that
sent one names its ``chargingProfileId``, so a caller clears exactly that profile. A
profile the charger can't take by what it said of itself (its stack levels, units,
how many profiles it holds) is refused with 409 and the reason before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ocpp_core.clock import format_timestamp
from ocpp_core.db.models import ChargePoint
from ocpp_core.domain import charging_notices, charging_profiles, commands
from ocpp_core.domain.charging_notices import NoticeKind
from ocpp_core.domain.charging_profiles import (
    MAX_DURATION_S,
    MAX_LIMIT_TENTHS,
    MAX_PERIODS,
    MAX_STACK_LEVEL,
    ProfileConflict,
    ProfileRecord,
    ProfileStatus,
)
from ocpp_core.domain.command_results import CommandResult
from ocpp_core.params import MAX_DB_INT, DbInt
from ocpp_core.runtime import Runtime
from ocpp_core.server.api_auth import ApiError, RuntimeDep, api_router
from ocpp_core.server.api_commands import AnyConnector, ChargerId, answer_of, send, status_of

router = api_router("charging profiles")

ProfileNo = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The profile's id")]
_LIMIT = re.compile(r"^(\d{1,7})([AW])$", re.IGNORECASE)
_MAX_LISTED = 100
Connector = Annotated[int, Field(alias="connectorId", ge=0, le=1000)]
Purpose = Literal[
    "ChargePointMaxProfile", "ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Period(_Body):
    start_period: int = Field(alias="startPeriod", ge=0, le=MAX_DURATION_S)
    # One decimal place, as OCPP 1.6 allows: kept exactly, in tenths.
    limit: Decimal = Field(ge=0, le=Decimal(MAX_LIMIT_TENTHS) / 10, decimal_places=1)
    number_phases: int | None = Field(default=None, alias="numberPhases", ge=1, le=3)


class Profile(_Body):
    """A charging profile, in the words of OCPP (2.0.1's purpose names taken too)."""

    connector_id: Connector = 0
    charging_profile_id: int | None = Field(
        default=None, alias="chargingProfileId", ge=1, le=MAX_DB_INT
    )
    stack_level: int = Field(alias="stackLevel", ge=0, le=MAX_STACK_LEVEL)
    charging_profile_purpose: Purpose = Field(alias="chargingProfilePurpose")
    charging_profile_kind: Literal["Absolute", "Recurring", "Relative"] = Field(
        alias="chargingProfileKind"
    )
    recurrency_kind: Literal["Daily", "Weekly"] | None = Field(default=None, alias="recurrencyKind")
    charging_rate_unit: Literal["A", "W"] = Field(alias="chargingRateUnit")
    start_schedule: AwareDatetime | None = Field(default=None, alias="startSchedule")
    duration: int | None = Field(default=None, ge=1, le=MAX_DURATION_S)
    valid_from: AwareDatetime | None = Field(default=None, alias="validFrom")
    valid_to: AwareDatetime | None = Field(default=None, alias="validTo")
    transaction_id: DbInt | None = Field(default=None, alias="transactionId")
    charging_schedule_period: list[Period] = Field(
        alias="chargingSchedulePeriod", min_length=1, max_length=MAX_PERIODS
    )


class ProfileOut(BaseModel):
    charge_point_id: str = Field(serialization_alias="chargePointId")
    connector_id: int = Field(serialization_alias="connectorId")
    charging_profile_id: int = Field(serialization_alias="chargingProfileId")
    stack_level: int = Field(serialization_alias="stackLevel")
    charging_profile_purpose: str = Field(serialization_alias="chargingProfilePurpose")
    charging_profile_kind: str = Field(serialization_alias="chargingProfileKind")
    recurrency_kind: str | None = Field(serialization_alias="recurrencyKind")
    charging_rate_unit: str = Field(serialization_alias="chargingRateUnit")
    start_schedule: str | None = Field(serialization_alias="startSchedule")
    duration: int | None
    valid_from: str | None = Field(serialization_alias="validFrom")
    valid_to: str | None = Field(serialization_alias="validTo")
    transaction_id: int | None = Field(serialization_alias="transactionId")
    charging_schedule_period: list[dict[str, Any]] = Field(
        serialization_alias="chargingSchedulePeriod"
    )
    status: ProfileStatus
    status_detail: str | None = Field(serialization_alias="statusDetail")
    updated_at: str = Field(serialization_alias="updatedAt")


class SentAnswer(BaseModel):
    """The charger's word on a profile, and the id to clear it by."""

    status: str
    charging_profile_id: int = Field(serialization_alias="chargingProfileId")
    error: str | None = None
    description: str | None = None


class ClearBody(_Body):
    """Clear every profile that matches all the criteria given (none: every profile)."""

    charging_profile_id: int | None = Field(
        default=None, alias="chargingProfileId", ge=1, le=MAX_DB_INT
    )
    connector_id: int | None = Field(default=None, alias="connectorId", ge=0, le=1000)
    charging_profile_purpose: Purpose | None = Field(default=None, alias="chargingProfilePurpose")
    stack_level: int | None = Field(default=None, alias="stackLevel", ge=0, le=MAX_STACK_LEVEL)


class ClearAnswer(BaseModel):
    status: str
    cleared: list[int] = Field(description="The ids of the records marked cleared")
    error: str | None = None
    description: str | None = None


class CompositeBody(_Body):
    connector_id: Connector
    duration: int = Field(ge=1, le=MAX_DURATION_S)
    charging_rate_unit: Literal["A", "W"] | None = Field(default=None, alias="chargingRateUnit")


class ChargerAnswer(BaseModel):
    status: str
    answer: dict[str, Any] = Field(description="The charger's answer, as it sent it")


class CompositeOut(BaseModel):
    charging_rate_unit: str = Field(serialization_alias="chargingRateUnit")
    schedule_start: str | None = Field(serialization_alias="scheduleStart")
    charging_schedule_period: list[dict[str, Any]] = Field(
        serialization_alias="chargingSchedulePeriod"
    )


class CompositeAnswer(ChargerAnswer):
    schedule: CompositeOut | None = Field(
        description="The schedule in the same words for every version (None: none given)"
    )


class GetProfilesBody(_Body):
    evse_id: int | None = Field(default=None, alias="evseId", ge=0, le=1000)
    charging_profile_purpose: Purpose | None = Field(default=None, alias="chargingProfilePurpose")
    stack_level: int | None = Field(default=None, alias="stackLevel", ge=0, le=MAX_STACK_LEVEL)
    charging_profile_id: list[Annotated[int, Field(ge=1, le=MAX_DB_INT)]] = Field(
        default_factory=list, alias="chargingProfileId", max_length=50
    )


class RequestAnswer(BaseModel):
    status: str
    request_id: int = Field(serialization_alias="requestId")


class NoticeOut(BaseModel):
    kind: NoticeKind
    evse_id: int | None = Field(serialization_alias="evseId")
    source: str | None
    request_id: int | None = Field(serialization_alias="requestId")
    received_at: str = Field(serialization_alias="receivedAt")
    data: dict[str, Any]


# The same purposes in both versions' words; the adapters spell them for each charger.
_PURPOSES: dict[str, commands.ProfilePurpose] = {
    "ChargePointMaxProfile": "ChargePointMaxProfile",
    "ChargingStationMaxProfile": "ChargePointMaxProfile",
    "TxDefaultProfile": "TxDefaultProfile",
    "TxProfile": "TxProfile",
}


def _purpose(purpose: str | None) -> commands.ProfilePurpose | None:
    return None if purpose is None else _PURPOSES[purpose]


def profile_of(body: Profile, profile_id: int) -> commands.ChargingProfile:
    """The body as a profile; a shape no charger takes is the caller's error (400)."""
    profile = commands.ChargingProfile(
        profile_id=profile_id,
        purpose=_PURPOSES[body.charging_profile_purpose],
        stack_level=body.stack_level,
        kind=body.charging_profile_kind,
        unit=body.charging_rate_unit,
        periods=tuple(
            commands.SchedulePeriod(p.start_period, int(p.limit * 10), p.number_phases)
            for p in body.charging_schedule_period
        ),
        recurrency=body.recurrency_kind,
        start_schedule=body.start_schedule,
        duration_s=body.duration,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        transaction_id=body.transaction_id,
    )
    problem = charging_profiles.shape_problem(body.connector_id, profile)
    if problem is not None:
        raise ApiError(400, "InvalidProfile", error=problem)
    return profile


def _time(at: datetime | None) -> str | None:
    return None if at is None else format_timestamp(at)


def _periods_out(periods: Sequence[commands.SchedulePeriod]) -> list[dict[str, Any]]:
    return [
        {
            "startPeriod": p.start_s,
            "limit": p.limit_tenths / 10,
            **({} if p.phases is None else {"numberPhases": p.phases}),
        }
        for p in periods
    ]


def profile_out(record: ProfileRecord) -> ProfileOut:
    profile = record.profile
    return ProfileOut(
        charge_point_id=record.charge_point_id,
        connector_id=record.connector_id,
        charging_profile_id=profile.profile_id,
        stack_level=profile.stack_level,
        charging_profile_purpose=profile.purpose,
        charging_profile_kind=profile.kind,
        recurrency_kind=profile.recurrency,
        charging_rate_unit=profile.unit,
        start_schedule=_time(profile.start_schedule),
        duration=profile.duration_s,
        valid_from=_time(profile.valid_from),
        valid_to=_time(profile.valid_to),
        transaction_id=profile.transaction_id,
        charging_schedule_period=_periods_out(profile.periods),
        status=record.status,
        status_detail=record.status_detail,
        updated_at=format_timestamp(record.updated_at),
    )


def _sent(result: CommandResult, profile_id: int) -> SentAnswer:
    return SentAnswer(charging_profile_id=profile_id, **status_of(result))


async def _known_charger(runtime: Runtime, cp: str) -> None:
    async with runtime.db.reading() as session:
        if await session.get(ChargePoint, cp) is None:
            raise ApiError(404, "UnknownChargePoint", chargePointId=cp)


async def _stored(runtime: Runtime, cp: str, profile_id: int) -> ProfileRecord:
    async with runtime.db.reading() as session:
        record = await charging_profiles.get(session, cp, profile_id)
    if record is None:
        raise ApiError(404, "UnknownProfile", chargingProfileId=profile_id)
    return record


async def _put(
    runtime: Runtime, cp: str, body: Profile, profile_id: int, *, replace: bool
) -> ProfileRecord:
    profile = profile_of(body, profile_id)
    await _known_charger(runtime, cp)
    store = charging_profiles.put if replace else charging_profiles.create
    try:
        async with runtime.db.session() as session:
            return await store(session, cp, body.connector_id, profile, now=runtime.clock())
    except ProfileConflict as error:
        raise ApiError(409, "ProfileConflict", error=str(error)) from None


async def send_record(runtime: Runtime, record: ProfileRecord) -> SentAnswer:
    """Send a stored profile, unless the charger said it can't take it; note its answer."""
    cp, profile_id = record.charge_point_id, record.profile.profile_id
    async with runtime.db.reading() as session:
        limits = await charging_profiles.limits_of(session, cp)
        installed = await charging_profiles.installed(session, cp, besides=profile_id)
        profile = await charging_profiles.as_sent(session, record.profile)
    reason = charging_profiles.refusal(limits, profile, installed)
    if reason is not None:
        raise ApiError(409, "ProfileRefused", error=reason, chargingProfileId=profile_id)
    result = await send(runtime, cp, commands.SetChargingProfile(record.connector_id, profile))
    async with runtime.db.session() as session:
        await charging_profiles.record_sent(session, cp, profile_id, result, now=runtime.clock())
    return _sent(result, profile_id)


async def clear(runtime: Runtime, cp: str, command: commands.ClearChargingProfile) -> ClearAnswer:
    result = await send(runtime, cp, command)
    cleared: list[int] = []
    if result.accepted:
        async with runtime.db.session() as session:
            cleared = await charging_profiles.record_cleared(
                session, cp, command, now=runtime.clock()
            )
    return ClearAnswer(cleared=cleared, **status_of(result))


@router.get("/ChargingProfiles/{cp}")
async def list_profiles(
    runtime: RuntimeDep,
    cp: ChargerId,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=_MAX_LISTED)] = 50,
) -> list[ProfileOut]:
    """The charger's profile records, by connector and id."""
    async with runtime.db.reading() as session:
        records = await charging_profiles.listed(session, cp, offset=offset, limit=limit)
    return [profile_out(record) for record in records]


@router.post("/ChargingProfiles/{cp}")
async def create_profile(runtime: RuntimeDep, cp: ChargerId, body: Profile) -> ProfileOut:
    """Make a profile record (not sent yet); without ``chargingProfileId`` one is drawn."""
    profile_id = body.charging_profile_id or commands.new_request_id()
    return profile_out(await _put(runtime, cp, body, profile_id, replace=False))


@router.get("/ChargingProfiles/{cp}/{profile_id}")
async def get_profile(runtime: RuntimeDep, cp: ChargerId, profile_id: ProfileNo) -> ProfileOut:
    return profile_out(await _stored(runtime, cp, profile_id))


@router.post("/ChargingProfiles/{cp}/{profile_id}")
async def edit_profile(
    runtime: RuntimeDep, cp: ChargerId, profile_id: ProfileNo, body: Profile
) -> ProfileOut:
    """Replace the record's profile; it is unsent again until sent (``.../Send``)."""
    if body.charging_profile_id not in (None, profile_id):
        raise ApiError(400, "InvalidParameter", error="chargingProfileId is the path's")
    await _stored(runtime, cp, profile_id)
    return profile_out(await _put(runtime, cp, body, profile_id, replace=True))


@router.post("/ChargingProfiles/{cp}/{profile_id}/Send", response_model_exclude_none=True)
async def send_profile(runtime: RuntimeDep, cp: ChargerId, profile_id: ProfileNo) -> SentAnswer:
    """Send the record's profile to the charger (SetChargingProfile)."""
    return await send_record(runtime, await _stored(runtime, cp, profile_id))


@router.post("/ChargingProfiles/{cp}/{profile_id}/Delete", response_model_exclude_none=True)
async def delete_profile(runtime: RuntimeDep, cp: ChargerId, profile_id: ProfileNo) -> ClearAnswer:
    """Delete the record; a profile the charger may hold is cleared there first.

    If the charger can't be asked (404, or an answer other than Accepted or Unknown),
    the record stays, so the profile is not forgotten while still installed.
    """
    record = await _stored(runtime, cp, profile_id)
    answer = ClearAnswer(status="Accepted", cleared=[])
    if record.status in (ProfileStatus.SENT, ProfileStatus.ACCEPTED):
        answer = await clear(runtime, cp, commands.ClearChargingProfile(profile_id=profile_id))
        if answer.status not in ("Accepted", "Unknown"):
            return answer
    async with runtime.db.session() as session:
        await charging_profiles.remove(session, cp, profile_id)
    return answer


@router.post("/SetChargingProfile/{cp}", response_model_exclude_none=True)
async def set_profile(runtime: RuntimeDep, cp: ChargerId, body: Profile) -> SentAnswer:
    """Store the profile (replacing a record with its id) and send it."""
    profile_id = body.charging_profile_id or commands.new_request_id()
    return await send_record(runtime, await _put(runtime, cp, body, profile_id, replace=True))


@router.post("/ClearChargingProfile/{cp}", response_model_exclude_none=True)
async def clear_profile(runtime: RuntimeDep, cp: ChargerId, body: ClearBody) -> ClearAnswer:
    """Clear profiles on the charger by id, connector, purpose and stack level."""
    command = commands.ClearChargingProfile(
        body.charging_profile_id,
        body.connector_id,
        _purpose(body.charging_profile_purpose),
        body.stack_level,
    )
    return await clear(runtime, cp, command)


@router.post("/GetCompositeSchedule/{cp}")
async def composite_schedule(
    runtime: RuntimeDep, cp: ChargerId, body: CompositeBody
) -> CompositeAnswer:
    """The schedule the charger will follow on a connector, all profiles combined."""
    command = commands.GetCompositeSchedule(
        body.connector_id, body.duration, body.charging_rate_unit
    )
    result = await send(runtime, cp, command)
    found = charging_profiles.composite_of(result.answer) if result.accepted else None
    schedule = (
        None
        if found is None
        else CompositeOut(
            charging_rate_unit=found.unit,
            schedule_start=found.start,
            charging_schedule_period=_periods_out(found.periods),
        )
    )
    return CompositeAnswer(
        status=status_of(result)["status"], answer=answer_of(result), schedule=schedule
    )


@router.post("/GetChargingProfiles/{cp}")
async def get_profiles(runtime: RuntimeDep, cp: ChargerId, body: GetProfilesBody) -> RequestAnswer:
    """2.0.1: the charger reports its profiles later, read at ``/API/ChargingNotices``."""
    request_id = commands.new_request_id()
    command = commands.GetChargingProfiles(
        request_id,
        body.evse_id,
        _purpose(body.charging_profile_purpose),
        body.stack_level,
        tuple(body.charging_profile_id),
    )
    result = await send(runtime, cp, command)
    return RequestAnswer(status=status_of(result)["status"], request_id=request_id)


@router.get("/ChargingNotices/{cp}")
async def notices(
    runtime: RuntimeDep,
    cp: ChargerId,
    kind: NoticeKind | None = None,
    request_id: Annotated[DbInt | None, Query(alias="requestId")] = None,
    limit: Annotated[int, Query(ge=1, le=_MAX_LISTED)] = 50,
) -> list[NoticeOut]:
    """What the charger reported of its profiles, limits and EVs' needs, newest first."""
    async with runtime.db.reading() as session:
        found = await charging_notices.listed(
            session, cp, kind=kind, request_id=request_id, limit=limit
        )
    return [
        NoticeOut(
            kind=n.notice.kind,
            evse_id=n.notice.evse_id,
            source=n.notice.source,
            request_id=n.notice.request_id,
            received_at=format_timestamp(n.received_at),
            data=n.notice.data,
        )
        for n in found
    ]


# -- today's fixed limit, a profile record like any other -------------------------------


@router.get("/SetChargingLimit/{cp}/{conn}/{limit}")
async def set_limit(
    runtime: RuntimeDep, cp: ChargerId, conn: AnyConnector, limit: str
) -> dict[str, Any]:
    """Limit charging on a connector, e.g. ``16A`` or ``11000W`` (profile 100 + connector)."""
    match = _LIMIT.match(limit)
    if match is None:
        raise ApiError(400, "InvalidLimit", error="limit must look like 16A or 11000W")
    unit: commands.RateUnit = "A" if match.group(2).upper() == "A" else "W"
    profile = charging_profiles.charging_limit(conn, int(match.group(1)), unit, runtime.clock())
    await _known_charger(runtime, cp)
    async with runtime.db.session() as session:
        record = await charging_profiles.put(session, cp, conn, profile, now=runtime.clock())
    sent = await send_record(runtime, record)
    return sent.model_dump(exclude_none=True, exclude={"charging_profile_id"})


@router.get("/ClearChargingLimit/{cp}/{conn}")
async def clear_limit(runtime: RuntimeDep, cp: ChargerId, conn: AnyConnector) -> dict[str, Any]:
    """Remove the limit set by SetChargingLimit."""
    command = commands.ClearChargingProfile(profile_id=charging_profiles.limit_profile_id(conn))
    return (await clear(runtime, cp, command)).model_dump(exclude_none=True, exclude={"cleared"})
