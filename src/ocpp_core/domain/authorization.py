"""Who may charge: the rules every protocol version shares.

Order (as the original system): unknown → Invalid, blocked → Blocked, expired →
Expired, then ConcurrentTx if configured and the tag already charges. A stop is
allowed without a tag, by the start tag, or by a tag of the same group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargeTag, Transaction


class AuthStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


@dataclass(frozen=True, slots=True)
class Authorization:
    status: AuthStatus
    expires_at: datetime | None = None
    group: str | None = None


async def authorize(
    session: AsyncSession, tag: str, *, now: datetime, deny_concurrent: bool = False
) -> Authorization:
    row = await session.get(ChargeTag, tag)
    if row is None:
        return Authorization(AuthStatus.INVALID)
    status = _status_of(row, now)
    if status is AuthStatus.ACCEPTED and deny_concurrent and await _is_charging(session, tag):
        status = AuthStatus.CONCURRENT_TX
    return Authorization(status, row.expires_at, row.parent_id)


async def authorize_stop(
    session: AsyncSession, *, start_tag: str, stop_tag: str | None, now: datetime
) -> Authorization:
    if stop_tag is None or stop_tag == start_tag:
        return Authorization(AuthStatus.ACCEPTED)
    stopper = await authorize(session, stop_tag, now=now)
    if stopper.status is not AuthStatus.ACCEPTED:
        return stopper
    starter = await session.get(ChargeTag, start_tag)
    same_group = starter is not None and starter.parent_id is not None
    if same_group and starter is not None and starter.parent_id == stopper.group:
        return stopper
    return Authorization(AuthStatus.INVALID, group=stopper.group)


def _status_of(row: ChargeTag, now: datetime) -> AuthStatus:
    if row.blocked:
        return AuthStatus.BLOCKED
    if row.expires_at is not None and row.expires_at < now:
        return AuthStatus.EXPIRED
    return AuthStatus.ACCEPTED


async def _is_charging(session: AsyncSession, tag: str) -> bool:
    open_tx = exists().where(
        Transaction.start_tag == tag,
        Transaction.stop_at.is_(None),
        Transaction.start_result == AuthStatus.ACCEPTED.value,
    )
    return bool(await session.scalar(select(open_tx)))
