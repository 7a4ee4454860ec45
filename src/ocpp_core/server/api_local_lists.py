"""``/API/LocalList/...``, ``/API/GetLocalListVersion``, ``/API/AuthSettings``: chargers'
local authorization lists and their authorization cache, for an operator's scripts.

A list is assigned once (every tag, one tag group, or tags chosen for the charger) and
then kept up to date by the server itself; ``Sync`` only does now what the sweep would do
within seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field, model_validator

from ocpp_core.db.models import LocalList
from ocpp_core.domain import auth_settings, commands, local_lists
from ocpp_core.domain.local_lists import (
    MAX_CHANGE,
    ListError,
    ListKind,
    Lists,
    NotChosen,
    Summary,
    TooLong,
    UnknownCharger,
    UnknownTags,
)
from ocpp_core.ocpp.router import execute
from ocpp_core.runtime import Runtime
from ocpp_core.server.api_auth import ApiError, RuntimeDep, api_router
from ocpp_core.server.api_commands import answer_of, send
from ocpp_core.server.api_tags import TagId

router = api_router("local lists")

ChargerId = Annotated[str, Field(min_length=1, max_length=100)]
TagIds = Annotated[list[TagId], Field(max_length=MAX_CHANGE)]


class Charger(BaseModel):
    chargePointId: ChargerId  # noqa: N815 -- the API speaks camelCase like OCPP


class Assignment(BaseModel):
    """Which tags the charger's list holds: All, one Group, the Tags chosen for it in
    ``tagIds`` (at most the charger's LocalAuthListMaxLength), or None (stop keeping it)."""

    chargePointId: ChargerId  # noqa: N815
    tags: ListKind
    group: str | None = Field(default=None, min_length=1, max_length=20)
    tagIds: TagIds | None = None  # noqa: N815

    @model_validator(mode="after")
    def _group_with_group(self) -> Assignment:
        if (self.tags == "Group") != (self.group is not None):
            raise ValueError("a group is given exactly when tags is Group")
        if (self.tags == "Tags") != (self.tagIds is not None):
            raise ValueError("tagIds are given exactly when tags is Tags")
        return self


class TagChanges(Charger):
    """Tags to add to and remove from a list of chosen tags (one tag in neither both)."""

    add: TagIds = []
    remove: TagIds = []


class ListState(BaseModel):
    chargePointId: str  # noqa: N815
    tags: ListKind
    group: str | None = None
    tagIds: list[str] | None = None  # noqa: N815 -- the chosen tags, of a Tags list
    listVersion: int = 0  # noqa: N815 -- what the charger holds, as it last told us
    entries: int = 0
    maxLength: int | None = None  # noqa: N815 -- the charger's LocalAuthListMaxLength, as read
    upToDate: bool = False  # noqa: N815
    result: str | None = None  # how the last sync ended
    checkedAt: datetime | None = None  # noqa: N815
    retryAt: datetime | None = None  # noqa: N815

    @classmethod
    def of(cls, charge_point_id: str, kept: Summary) -> ListState:
        row = kept.row
        if row is None:
            return cls(chargePointId=charge_point_id, tags="None")
        return cls(
            chargePointId=charge_point_id,
            tags=kept.kind,
            group=row.tag_group,
            tagIds=list(kept.tags) if row.chosen_tags else None,
            listVersion=row.version,
            entries=row.entries,
            maxLength=row.max_length,
            upToDate=kept.up_to_date,
            result=row.result,
            checkedAt=row.checked_at,
            retryAt=row.retry_at,
        )


class SyncRequest(Charger):
    full: bool = False  # send the whole list even when a differential update would do


class SyncAnswer(BaseModel):
    status: str  # Accepted, or the charger's refusal, Timeout, ChargerOffline, TooLong...
    listVersion: int  # noqa: N815
    entriesSent: int  # noqa: N815


class VersionAnswer(BaseModel):
    status: str
    listVersion: int | None = None  # noqa: N815 -- -1: the charger has no local list
    error: str | None = None


class AuthSettingsRequest(Charger):
    """Settings to change (left out: unchanged); the answer reads them all afterwards."""

    authorizationCacheEnabled: bool | None = None  # noqa: N815
    localAuthListEnabled: bool | None = None  # noqa: N815


class AuthSettingsAnswer(BaseModel):
    changes: dict[str, str]  # each changed setting's status as the charger answered
    authorizationCacheEnabled: bool | None  # noqa: N815 -- None: the charger did not say
    localAuthListEnabled: bool | None  # noqa: N815
    localAuthListMaxLength: int | None  # noqa: N815
    sendLocalListMaxLength: int | None  # noqa: N815


def lists_of(runtime: Runtime) -> Lists:
    return Lists(runtime.db, partial(execute, runtime.router), runtime.clock)


@router.post("/LocalList/Assign")
async def assign(runtime: RuntimeDep, body: Assignment) -> ListState:
    """Choose the tags of the charger's local list; the server then keeps it up to date."""
    cp = body.chargePointId
    with _refusals():
        async with runtime.db.session() as session:
            if body.tags == "None":
                await local_lists.unassign(session, cp)
            else:  # the body's model has checked the group already
                await local_lists.assign(
                    session, cp, group=body.group, tags=body.tagIds, now=runtime.clock()
                )
            await session.flush()
            return ListState.of(cp, await local_lists.summary(session, cp))


@router.post("/LocalList/Tags")
async def change_tags(runtime: RuntimeDep, body: TagChanges) -> ListState:
    """Add tags to and remove tags from a list of chosen tags; the charger gets the
    difference. Adding a tag it holds, or removing one it doesn't, changes nothing."""
    cp = body.chargePointId
    with _refusals():
        async with runtime.db.session() as session:
            await local_lists.change_tags(session, cp, add=body.add, remove=body.remove)
            await session.flush()
            return ListState.of(cp, await local_lists.summary(session, cp))


@contextmanager
def _refusals() -> Iterator[None]:
    """The domain's refusals of a list change as the API's answers: 404 for an unknown
    charger or tag, 409 NotChosen or TooLong, 400 for the rest."""
    try:
        yield
    except (UnknownCharger, UnknownTags) as error:
        raise ApiError(404, "NotFound", error=str(error)) from None
    except NotChosen as error:
        raise ApiError(409, "NotChosen", error=str(error)) from None
    except TooLong as error:
        raise ApiError(409, "TooLong", error=str(error)) from None
    except ListError as error:
        raise ApiError(400, "InvalidParameter", error=str(error)) from None


@router.get("/LocalList/{cp}")
async def state(runtime: RuntimeDep, cp: Annotated[str, Path(max_length=100)]) -> ListState:
    """The charger's list as the server keeps it: its tags, version, and the last sync."""
    async with runtime.db.session() as session:
        return ListState.of(cp, await local_lists.summary(session, cp))


@router.post("/LocalList/Sync")
async def sync(runtime: RuntimeDep, body: SyncRequest) -> SyncAnswer:
    """Bring the charger's list up to date now (SendLocalList, in as many messages as needed)."""
    if not await runtime.router.is_online(body.chargePointId):
        raise ApiError(404, "ChargerOffline", chargePointId=body.chargePointId)
    lists = lists_of(runtime)
    if not await lists.claim(body.chargePointId):
        async with runtime.db.session() as session:
            assigned = await session.get(LocalList, body.chargePointId) is not None
        if not assigned:
            raise ApiError(409, "NotAssigned", error="assign the charger's list first")
        raise ApiError(409, "SyncInProgress", error="the list is being brought up to date")
    synced = await lists.sync(body.chargePointId, full=body.full)
    return SyncAnswer(status=synced.result, listVersion=synced.version, entriesSent=synced.sent)


@router.post("/GetLocalListVersion")
async def get_version(runtime: RuntimeDep, body: Charger) -> VersionAnswer:
    """The version of the local list the charger holds."""
    result = await send(runtime, body.chargePointId, commands.GetLocalListVersion())
    version = local_lists.version_of(result)
    if version is None:
        answer = answer_of(result)
        return VersionAnswer(status=answer.get("status", "Rejected"), error=answer.get("error"))
    return VersionAnswer(status="Accepted", listVersion=version)


@router.post("/AuthSettings")
async def settings(runtime: RuntimeDep, body: AuthSettingsRequest) -> AuthSettingsAnswer:
    """Change (optionally) and read the charger's authorization cache and local list settings."""
    if not await runtime.router.is_online(body.chargePointId):
        raise ApiError(404, "ChargerOffline", chargePointId=body.chargePointId)
    wanted = {
        auth_settings.CACHE_ENABLED: body.authorizationCacheEnabled,
        auth_settings.LIST_ENABLED: body.localAuthListEnabled,
    }
    changes: dict[str, str] = {}
    for key, value in wanted.items():
        if value is not None:
            command = commands.ChangeConfiguration(key, "true" if value else "false")
            result = await send(runtime, body.chargePointId, command)
            changes[key] = result.status or answer_of(result).get("status", "Rejected")
    read = await auth_settings.read(partial(execute, runtime.router), body.chargePointId)
    return AuthSettingsAnswer(
        changes=changes,
        authorizationCacheEnabled=read.cache_enabled,
        localAuthListEnabled=read.list_enabled,
        localAuthListMaxLength=read.list_max_length,
        sendLocalListMaxLength=read.per_message,
    )
