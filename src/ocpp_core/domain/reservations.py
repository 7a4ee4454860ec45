"""Operators' reservations of a connector for one tag: their states, and who may start there.

A reservation is stored before its ReserveNow goes out (its id is the OCPP reservation
id), takes the charger's answer as its state, and ends when the charger says it was
used (1.6 StartTransaction's reservationId, 2.0.1 TransactionEvent's), when its tag
starts there, when an operator cancels it, when the charger removes it (2.0.1
ReservationStatusUpdate) or when it expires. While it holds its connector, only its
tag, or a tag of the same parent, may start there; everyone else's start is answered
Invalid, and the public pages offer the connector to nobody.

A paid session may hold its connector with one too, for its own tag (see
payments.holding); that one ends with the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Exists, SQLColumnExpression, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.clock import Clock
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.models import ACTIVE_CHARGER_RESERVATION_STATES, ChargerReservation
from ocpp_core.db.session import Database
from ocpp_core.domain import commands
from ocpp_core.domain.authorization import Authorization, AuthStatus
from ocpp_core.domain.command_results import CommandResult, Outcome

logger = logging.getLogger(__name__)

EXPIRY_SWEEP_SECONDS = 30.0


class ReservationStatus(StrEnum):
    REQUESTED = "Requested"  # stored; the ReserveNow is on its way, or was never answered
    ACCEPTED = "Accepted"
    # The charger's refusals, in its own words.
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"
    REJECTED = "Rejected"
    UNAVAILABLE = "Unavailable"
    FAILED = "Failed"  # never reached the charger: offline, or it refused the call itself
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"
    REMOVED = "Removed"  # 2.0.1: the charger ended it itself
    USED = "Used"


# A timed-out ReserveNow may have reached the charger: it holds until it expires.
ACTIVE = frozenset({ReservationStatus.REQUESTED, ReservationStatus.ACCEPTED})
_ACTIVE_VALUES = list(ACTIVE_CHARGER_RESERVATION_STATES)  # the partial unique index's
_ANSWERS = frozenset(
    {
        ReservationStatus.ACCEPTED,
        ReservationStatus.FAULTED,
        ReservationStatus.OCCUPIED,
        ReservationStatus.REJECTED,
        ReservationStatus.UNAVAILABLE,
    }
)
# What a 2.0.1 charger's ReservationStatusUpdate says happened.
CHARGER_ENDINGS = {"Expired": ReservationStatus.EXPIRED, "Removed": ReservationStatus.REMOVED}


class ConnectorReserved(Exception):
    """Another live reservation holds that connector."""


@dataclass(frozen=True, slots=True)
class NewReservation:
    charge_point_id: str
    connector_id: int  # the connector (2.0.1: the EVSE); 0 for any
    connector_type: str | None
    id_tag: str
    parent_id_tag: str | None
    expires_at: datetime
    created_by: str
    payment_reservation_id: str | None = None  # a paid session's hold (see payments.holding)


def active(now: datetime | ColumnElement[datetime] | None = None) -> ColumnElement[bool]:
    """Reservations that hold their connector; with ``now``, only those not past their expiry.

    Without it, one past its expiry holds until the sweep marks it (see :func:`run_forever`).
    """
    live = ChargerReservation.status.in_(_ACTIVE_VALUES)
    if now is None:
        return live
    return live & (ChargerReservation.expires_at > now)


def holds(
    charge_point_id: str | SQLColumnExpression[str],
    connector_id: int | SQLColumnExpression[int],
    now: datetime | ColumnElement[datetime] | None = None,
) -> Exists:
    """An operator's reservation holds this connector, as a clause of a larger query."""
    return exists().where(
        ChargerReservation.charge_point_id == charge_point_id,
        ChargerReservation.connector_id == connector_id,
        active(now),
    )


async def create(
    session: AsyncSession, new: NewReservation, *, now: datetime
) -> ChargerReservation:
    """Store a reservation as Requested; :class:`ConnectorReserved` if one holds the connector.

    The unique index decides a race for the connector; the session is spoilt then, and
    the caller's unit of work rolls back.
    """
    await expire_due(session, now=now, charge_point_id=new.charge_point_id)
    row = ChargerReservation(
        charge_point_id=new.charge_point_id,
        connector_id=new.connector_id,
        connector_type=new.connector_type,
        id_tag=new.id_tag,
        parent_id_tag=new.parent_id_tag,
        expires_at=new.expires_at,
        status=ReservationStatus.REQUESTED.value,
        created_by=new.created_by,
        created_at=now,
        updated_at=now,
        payment_reservation_id=new.payment_reservation_id,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise ConnectorReserved(f"connector {new.connector_id} is reserved already") from None
    return row


def reserve_command(row: ChargerReservation) -> commands.ReserveNow:
    return commands.ReserveNow(
        reservation_id=row.id,
        expires_at=row.expires_at,
        id_tag=row.id_tag,
        connector_id=row.connector_id,
        connector_type=row.connector_type,
        parent_id_tag=row.parent_id_tag,
    )


def answered(result: CommandResult) -> ReservationStatus:
    """The state the charger's answer to ReserveNow leaves a reservation in."""
    if result.outcome is Outcome.TIMEOUT:
        return ReservationStatus.REQUESTED
    if result.outcome is not Outcome.ANSWERED:
        return ReservationStatus.FAILED
    try:
        status = ReservationStatus(result.status or "")
    except ValueError:
        return ReservationStatus.REJECTED
    return status if status in _ANSWERS else ReservationStatus.REJECTED


def cancelled(result: CommandResult) -> bool:
    """Whether the charger no longer holds the reservation after a CancelReservation.

    A charger answers Rejected for an id it does not know: it held nothing either way.
    """
    return result.outcome is Outcome.ANSWERED and result.status in {"Accepted", "Rejected"}


async def get(session: AsyncSession, reservation_id: int) -> ChargerReservation | None:
    return await session.get(ChargerReservation, reservation_id, with_for_update=True)


def move(row: ChargerReservation, status: ReservationStatus, *, now: datetime) -> None:
    """Set the state of a live reservation; one that has ended keeps how it ended."""
    if row.status in _ACTIVE_VALUES:
        row.status = status.value
        row.updated_at = now


async def end_by_charger(
    session: AsyncSession,
    charge_point_id: str,
    reservation_id: int,
    status: ReservationStatus,
    *,
    now: datetime,
) -> None:
    """The charger ended the reservation itself (2.0.1 ReservationStatusUpdate)."""
    row = await get(session, reservation_id)
    if row is None or row.charge_point_id != charge_point_id:
        logger.info("%s: update for unknown reservation %d", charge_point_id, reservation_id)
        return
    move(row, status, now=now)


async def holder(
    session: AsyncSession, charge_point_id: str, connector_id: int, *, now: datetime
) -> ChargerReservation | None:
    """The live reservation of this very connector, if any."""
    return await session.scalar(
        select(ChargerReservation).where(
            ChargerReservation.charge_point_id == charge_point_id,
            ChargerReservation.connector_id == connector_id,
            active(now),
        )
    )


def may_start(row: ChargerReservation, tag: str, auth: Authorization) -> bool:
    """Its tag may start on it, and so may a tag of the reservation's parent (1.6 §5.13)."""
    same_parent = row.parent_id_tag is not None and auth.group == row.parent_id_tag
    return tag == row.id_tag or same_parent


async def admit(
    session: AsyncSession,
    charge_point_id: str,
    connector_id: int,
    tag: str,
    auth: Authorization,
    *,
    now: datetime,
) -> Authorization:
    """The answer for a start on this connector: Invalid if another's reservation holds it."""
    if auth.status is not AuthStatus.ACCEPTED:
        return auth
    row = await holder(session, charge_point_id, connector_id, now=now)
    if row is None or may_start(row, tag, auth):
        return auth
    return Authorization(AuthStatus.INVALID, auth.expires_at, auth.group)


async def use(
    session: AsyncSession,
    charge_point_id: str,
    connector_id: int,
    *,
    tag: str,
    auth: Authorization,
    reservation_id: int | None,
    transaction_id: int,
    now: datetime,
) -> None:
    """An accepted start ends the reservation it used: the one it names, else its connector's."""
    if reservation_id is not None:
        row = await get(session, reservation_id)
        if row is not None and row.charge_point_id != charge_point_id:
            row = None
    else:
        row = await holder(session, charge_point_id, connector_id, now=now)
        if row is not None and not may_start(row, tag, auth):
            row = None
    if row is not None and row.status in _ACTIVE_VALUES:
        move(row, ReservationStatus.USED, now=now)
        row.transaction_id = transaction_id


async def expire_due(
    session: AsyncSession, *, now: datetime, charge_point_id: str | None = None
) -> int:
    """Mark the live reservations past their expiry Expired; how many there were.

    A paid session's hold ends with its session instead (see payments.holding): it is
    cancelled at the charger then, whose clock may lag ours.
    """
    conditions = [
        active(),
        ChargerReservation.expires_at <= now,
        ChargerReservation.payment_reservation_id.is_(None),
    ]
    if charge_point_id is not None:
        conditions.append(ChargerReservation.charge_point_id == charge_point_id)
    statement = (
        update(ChargerReservation)
        .where(*conditions)
        .values(status=ReservationStatus.EXPIRED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class ReservationFilter:
    charge_point_id: str | None = None
    active_only: bool = False
    limit: int = 50
    offset: int = 0


async def search(
    session: AsyncSession, where: ReservationFilter, *, now: datetime
) -> tuple[Sequence[ChargerReservation], int]:
    """A page of reservations, newest first, and how many match in all."""
    await expire_due(session, now=now, charge_point_id=where.charge_point_id)
    conditions = []
    if where.charge_point_id is not None:
        conditions.append(ChargerReservation.charge_point_id == where.charge_point_id)
    if where.active_only:
        conditions.append(active(now))
    query = (
        select(ChargerReservation)
        .where(*conditions)
        .order_by(ChargerReservation.created_at.desc(), ChargerReservation.id.desc())
        .limit(where.limit)
        .offset(where.offset)
    )
    total = await session.scalar(select(func.count(ChargerReservation.id)).where(*conditions))
    return (await session.scalars(query)).all(), int(total or 0)


async def run_forever(db: Database, clock: Clock) -> None:
    """Mark expired reservations, so what reads states alone (the payments) sees them end.

    Any node may run it, as often as it likes: the update changes only what is due.
    """
    while True:
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
        try:
            async with db.session() as session:
                await expire_due(session, now=clock())
        except DatabaseUnavailable:
            pass  # the database's health says so; the next round tries again
        except Exception:
            logger.exception("reservation expiry failed; trying again next round")
