"""``/API/Tags``: charge tags, with their group, expiry and block, for an operator's scripts.

A change reaches the chargers' local lists by itself (see ``domain.local_lists``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from ocpp_core.db.models import ChargeTag
from ocpp_core.domain import tags
from ocpp_core.domain.tags import MAX_NAME_LENGTH, MAX_TAG_LENGTH, NewTag
from ocpp_core.server.api_auth import ApiError, RuntimeDep, api_router

router = api_router("tags")

TagId = Annotated[str, Field(min_length=1, max_length=MAX_TAG_LENGTH)]


class TagIn(BaseModel):
    """A tag to create, or the new state of one: fields left out are cleared or false."""

    id: TagId
    name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    parentId: TagId | None = None  # noqa: N815 -- the API speaks camelCase like OCPP
    expiresAt: AwareDatetime | None = None  # noqa: N815
    blocked: bool = False


class TagOut(BaseModel):
    id: str
    name: str | None
    parentId: str | None  # noqa: N815
    expiresAt: datetime | None  # noqa: N815
    blocked: bool
    created: bool = False  # True when this call created it

    @classmethod
    def of(cls, row: ChargeTag, *, created: bool = False) -> TagOut:
        return cls(
            id=row.id,
            name=row.name,
            parentId=row.parent_id,
            expiresAt=row.expires_at,
            blocked=row.blocked,
            created=created,
        )


class TagRef(BaseModel):
    id: TagId


class Deleted(BaseModel):
    status: str


@router.post("/Tags")
async def save(runtime: RuntimeDep, body: TagIn) -> TagOut:
    """Create the tag, or set an existing one's name, group, expiry and block."""
    new = NewTag(body.id, body.name, body.parentId, body.expiresAt, body.blocked)
    async with runtime.db.session() as session:
        row = await session.get(ChargeTag, body.id)
        # The body's model has checked what the domain would refuse.
        if row is None:
            await tags.add(session, new, now=runtime.clock())
        else:
            await tags.update(session, row, new)
        await session.flush()
        stored = await session.get(ChargeTag, body.id)
        assert stored is not None
        return TagOut.of(stored, created=row is None)


@router.get("/Tags")
async def listed(
    runtime: RuntimeDep,
    group: Annotated[str | None, Query(max_length=MAX_TAG_LENGTH)] = None,
    after: Annotated[str | None, Query(max_length=MAX_TAG_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TagOut]:
    """Tags in id order, ``limit`` at a time: the next page starts ``after`` the last id."""
    query = select(ChargeTag).order_by(ChargeTag.id).limit(limit)
    if group is not None:
        query = query.where(ChargeTag.parent_id == group)
    if after is not None:
        query = query.where(ChargeTag.id > after)
    async with runtime.db.reading() as session:
        return [TagOut.of(row) for row in await session.scalars(query)]


@router.get("/Tags/{tag_id}")
async def one(
    runtime: RuntimeDep, tag_id: Annotated[str, Path(max_length=MAX_TAG_LENGTH)]
) -> TagOut:
    """One tag."""
    async with runtime.db.session() as session:
        row = await session.get(ChargeTag, tag_id)
    if row is None:
        raise ApiError(404, "NotFound", error=f"no tag {tag_id!r}")
    return TagOut.of(row)


@router.post("/Tags/Delete")
async def remove(runtime: RuntimeDep, body: TagRef) -> Deleted:
    """Delete a tag; past transactions keep its id."""
    async with runtime.db.session() as session:
        if not await tags.remove(session, body.id):
            raise ApiError(404, "NotFound", error=f"no tag {body.id!r}")
    return Deleted(status="Deleted")
