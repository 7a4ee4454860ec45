"""Test data: provisioning through the real domain functions, plus deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime

from ocpp_core.db.session import Database
from ocpp_core.domain import chargepoints, tags
from ocpp_core.domain.chargepoints import NewChargePoint
from ocpp_core.domain.tags import NewTag

PASSWORD = "correct-horse-battery-staple"  # 28 characters: a valid AuthorizationKey
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def add_charge_point(
    db: Database, charge_point_id: str, *, password: str | None = None, name: str | None = None
) -> None:
    async with db.session() as session:
        new = NewChargePoint(charge_point_id, name, password, no_password=password is None)
        await chargepoints.add(session, new, now=NOW)


async def add_tag(
    db: Database,
    tag_id: str,
    *,
    parent: str | None = None,
    expires_at: datetime | None = None,
    blocked: bool = False,
) -> None:
    async with db.session() as session:
        await tags.add(session, NewTag(tag_id, None, parent, expires_at, blocked), now=NOW)


def timestamp(at: datetime = NOW) -> str:
    return at.isoformat().replace("+00:00", "Z")
