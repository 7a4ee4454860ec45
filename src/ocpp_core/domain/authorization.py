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

from ocpp_core.db.models import ChargeTag, PaymentReservation, Transaction

_BEFORE_START = ("Authorized", "StartRequested")
_RESERVATION_TAG_STATES = (*_BEFORE_START, "Charging", "WaitingForDisconnect")


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
    reserved = await _reservation_auth(session, tag, now)
    if reserved is not None:
        return reserved
    row = await session.get(ChargeTag, tag)
    if row is None:
        return Authorization(AuthStatus.INVALID)
    status = tag_status(row, now)
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


async def _reservation_auth(session: AsyncSession, tag: str, now: datetime) -> Authorization | None:
    """A paid session's own tag is valid while its reservation lives.

    Before the start it expires with the start deadline (that is what the
    charger's cache is told); once charging it stays valid so the car can stop.
    """
    row = await session.scalar(
        select(PaymentReservation).where(
            PaymentReservation.ocpp_id_tag == tag,
            PaymentReservation.status.in_(_RESERVATION_TAG_STATES),
        )
    )
    if row is None:
        return None
    if row.status in _BEFORE_START:
        deadline = row.start_deadline_at
        if deadline is not None and deadline < now:
            return Authorization(AuthStatus.EXPIRED, deadline)
        return Authorization(AuthStatus.ACCEPTED, deadline)
    return Authorization(AuthStatus.ACCEPTED)


def tag_status(row: ChargeTag, now: datetime) -> AuthStatus:
    """A known tag's own status, before any rule that depends on its transactions."""
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
