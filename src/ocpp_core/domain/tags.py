"""Charge tags (RFID cards, app tokens): provisioning.

Every change here makes the local lists that hold the tag due (see :mod:`.local_lists`),
in the same transaction, so no change reaches the database without reaching the chargers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargeTag
from ocpp_core.domain import local_lists

MAX_TAG_LENGTH = 20  # OCPP 1.6 IdToken is CiString20; longer tags can't reach a 1.6 charger
MAX_NAME_LENGTH = 200  # the column's size: PostgreSQL refuses longer, SQLite would keep it


class TagError(ValueError):
    """A tag definition that can't be stored."""


class UnknownTag(TagError, LookupError):
    def __init__(self, tag_id: str) -> None:
        super().__init__(f"no tag {tag_id!r}")


@dataclass(frozen=True, slots=True)
class NewTag:
    id: str
    name: str | None = None
    parent_id: str | None = None
    expires_at: datetime | None = None
    blocked: bool = False


def _check(tag: NewTag) -> None:
    for value, label in ((tag.id, "tag"), (tag.parent_id, "parent")):
        if value is not None and not 0 < len(value) <= MAX_TAG_LENGTH:
            raise TagError(f"{label} {value!r} must be 1-{MAX_TAG_LENGTH} characters")
    if tag.name is not None and len(tag.name) > MAX_NAME_LENGTH:
        raise TagError(f"tag {tag.id!r}: name must be at most {MAX_NAME_LENGTH} characters")


async def add(session: AsyncSession, tag: NewTag, *, now: datetime) -> None:
    _check(tag)
    if await session.get(ChargeTag, tag.id) is not None:
        raise TagError(f"tag {tag.id!r} already exists")
    row = ChargeTag(
        id=tag.id,
        name=tag.name,
        parent_id=tag.parent_id,
        expires_at=tag.expires_at,
        blocked=tag.blocked,
        created_at=now,
    )
    session.add(row)
    await local_lists.tags_changed(session, row.id, local_lists.groups_of(row))


async def update(session: AsyncSession, row: ChargeTag, tag: NewTag) -> None:
    """Give a stored tag ``tag``'s name, group, expiry and block (its id stays)."""
    _check(tag)
    groups = local_lists.groups_of(row)
    row.name = tag.name
    row.parent_id = tag.parent_id
    row.expires_at = tag.expires_at
    row.blocked = tag.blocked
    await local_lists.tags_changed(session, row.id, groups | local_lists.groups_of(row))


async def change(session: AsyncSession, tag_id: str, **changes: Any) -> ChargeTag:
    """Change some of a stored tag's fields (``NewTag``'s names), keeping the others."""
    row = await session.get(ChargeTag, tag_id)
    if row is None:
        raise UnknownTag(tag_id)
    kept = NewTag(row.id, row.name, row.parent_id, row.expires_at, row.blocked)
    await update(session, row, replace(kept, **changes))
    return row


async def remove(session: AsyncSession, tag_id: str) -> bool:
    """Delete a tag (its privileges go with it; transactions keep its id); whether it was."""
    row = await session.get(ChargeTag, tag_id)
    if row is None:
        return False
    await local_lists.tags_changed(session, row.id, local_lists.groups_of(row))
    await session.execute(delete(ChargeTag).where(ChargeTag.id == tag_id))
    return True
