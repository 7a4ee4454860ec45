"""A paid session's hold on its connector: the charger's own reservation, where it takes one.

With plug-first an authorized session waits for the car before its remote start
(see :mod:`.starting`). On a charger that takes reservations the connector is
reserved for the session's own id tag until its start deadline instead, and the
remote start goes at once: the charger itself waits for the cable under its
reservation. Waiting for ``Preparing`` there would not do: a 1.6 connector may
stay ``Reserved`` when the car plugs in, until the reserved tag is presented. A
charger that takes no reservations, or answers anything but Accepted, keeps the
plug-first flow.

Whether a charger takes reservations is asked when a session first needs it and
kept on the charge point until it boots again. The hold is a reservation record
tied to the session, so the operators' pages show it and the connector is held
for the public pages. It is used when the session's transaction starts; when the
session ends without one, CancelReservation is sent, and the sweep sends it again
until the charger has answered or the reservation has expired there. No amount
depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargePoint, ChargerReservation, PaymentReservation
from ocpp_core.domain import reservations as charger_reservations
from ocpp_core.domain.command_results import Outcome
from ocpp_core.domain.commands import CancelReservation, ReadReservationSupport, ReserveNow
from ocpp_core.domain.reservations import ConnectorReserved, NewReservation, ReservationStatus
from ocpp_core.ocpp.router import execute
from ocpp_core.payments import reservations
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.reservations import AtConnector
from ocpp_core.payments.states import ACTIVE, Status, status_of

CREATED_BY = "payments"
_UNREACHED = frozenset({Outcome.OFFLINE, Outcome.UNREACHABLE})


@dataclass(frozen=True, slots=True)
class Reserve:
    """The session waits for the plug: ask the charger to hold the connector for it first."""

    charge_point_id: str
    ask_support: bool  # not known yet whether the charger takes reservations


def reserved_for(found: AtConnector) -> bool:
    """The session's reservation may hold the connector: accepted, or its answer not in yet."""
    return found.hold is not None and found.hold.status in charger_reservations.ACTIVE


def holds_connector(found: AtConnector) -> bool:
    """The charger holds the connector for this session: its start need not wait for the plug."""
    return found.hold is not None and found.hold.status == ReservationStatus.ACCEPTED


def next_step(found: AtConnector, now: datetime, lease: timedelta) -> Reserve | None:
    """Whether a session waiting for the plug should reserve its connector now.

    Once per session; again only for a ReserveNow that went unanswered (the same id
    replaces the charger's reservation), once its claim has lapsed.
    """
    if found.reservable is False:
        return None
    hold = found.hold
    if hold is not None and not _lapsed(hold.status, hold.touched_at, now, lease):
        return None
    return Reserve(found.row.charge_point_id, ask_support=found.reservable is None)


def _lapsed(status: str, touched_at: datetime, now: datetime, lease: timedelta) -> bool:
    """A ReserveNow went unanswered and no node is waiting for its answer any more."""
    return status == ReservationStatus.REQUESTED and now - touched_at >= lease


async def reserve(ctx: PaymentContext, reservation_id: str, step: Reserve) -> bool:
    """Ask the charger to reserve the session's connector; whether it holds it now."""
    if step.ask_support and not await _takes_reservations(ctx, step.charge_point_id):
        return False
    command = await _claim(ctx, reservation_id)
    if command is None:
        return False
    result = await execute(ctx.runtime.router, step.charge_point_id, command)
    async with ctx.runtime.db.session() as session:
        row = await charger_reservations.get(session, command.reservation_id)
        if row is None:
            return False
        charger_reservations.move(row, charger_reservations.answered(result), now=ctx.now())
        held = row.status == ReservationStatus.ACCEPTED
    if not held:
        logger.info(
            "reservation %s: the charger holds no reservation (%s); waiting for the plug",
            reservation_id,
            result.status or result.outcome,
        )
    return held


async def _takes_reservations(ctx: PaymentContext, charge_point_id: str) -> bool:
    """Ask the charger, and keep its answer; one that does not answer takes none.

    An offline charger is asked again next time.
    """
    result = await execute(ctx.runtime.router, charge_point_id, ReadReservationSupport())
    if result.outcome in _UNREACHED:
        return False
    supported = result.outcome is Outcome.ANSWERED and result.status == "true"
    async with ctx.runtime.db.session() as session:
        await session.execute(
            update(ChargePoint)
            .where(ChargePoint.id == charge_point_id)
            .values(reservations_supported=supported)
        )
    return supported


async def _claim(ctx: PaymentContext, reservation_id: str) -> ReserveNow | None:
    """Store (or touch) the session's hold under the session's lock; its ReserveNow to send.

    None when the session no longer waits, another node claimed the ReserveNow, or
    someone else's reservation holds the connector.
    """
    now = ctx.now()
    try:
        async with ctx.runtime.db.session() as session:
            row = await reservations.get_for_writing(session, reservation_id)
            if row is None or status_of(row) is not Status.AUTHORIZED:
                return None
            if row.transaction_id is not None or row.start_deadline_at is None:
                return None
            hold = await _hold_of(session, reservation_id)
            if hold is None:
                hold = await charger_reservations.create(session, _new_hold(row), now=now)
            elif not _lapsed(hold.status, hold.updated_at, now, ctx.claim_lease()):
                return None
            hold.updated_at = now  # the claim: other nodes leave it to this one
            return charger_reservations.reserve_command(hold)
    except ConnectorReserved:
        return None


def _new_hold(row: PaymentReservation) -> NewReservation:
    assert row.start_deadline_at is not None
    return NewReservation(
        charge_point_id=row.charge_point_id,
        connector_id=row.connector_id,
        connector_type=None,
        id_tag=row.ocpp_id_tag,
        parent_id_tag=None,
        expires_at=row.start_deadline_at,
        created_by=CREATED_BY,
        payment_reservation_id=row.id,
    )


async def _hold_of(session: AsyncSession, reservation_id: str) -> ChargerReservation | None:
    query = select(ChargerReservation).where(
        ChargerReservation.payment_reservation_id == reservation_id
    )
    return await session.scalar(query.with_for_update())


async def used(
    session: AsyncSession, reservation_id: str, transaction_id: int, *, now: datetime
) -> None:
    """The session's transaction started: its hold is used, whatever the charger said of it."""
    hold = await _hold_of(session, reservation_id)
    if hold is not None and hold.status in charger_reservations.ACTIVE:
        charger_reservations.move(hold, ReservationStatus.USED, now=now)
        hold.transaction_id = transaction_id


def no_hold_coming() -> ColumnElement[bool]:
    """The charger will not hold the session's connector for it: it takes no reservations,
    or refused (or ended) the session's. For a query of payment reservations joined to
    their charge points.

    Until then a car plugged in at another connector of the station is some other
    driver's (an RFID card, another app): it is not where the session's car will be,
    and starting the session there would bill the payer for it.
    """
    hold_pending = exists().where(
        ChargerReservation.payment_reservation_id == PaymentReservation.id,
        ChargerReservation.status.in_([s.value for s in charger_reservations.ACTIVE]),
    )
    hold_ended = exists().where(
        ChargerReservation.payment_reservation_id == PaymentReservation.id, ~hold_pending
    )
    return ChargePoint.reservations_supported.is_(False) | hold_ended


async def may_follow_the_car(session: AsyncSession, reservation_id: str) -> bool:
    """Whether a session waiting for the plug may move to where a car was plugged in."""
    query = (
        select(no_hold_coming())
        .select_from(PaymentReservation)
        .join(ChargePoint, ChargePoint.id == PaymentReservation.charge_point_id)
        .where(PaymentReservation.id == reservation_id)
    )
    return bool(await session.scalar(query))


def _outlived() -> ColumnElement[bool]:
    """Live holds whose session is over: the charger must let the connector go."""
    session_active = exists().where(
        PaymentReservation.id == ChargerReservation.payment_reservation_id,
        PaymentReservation.status.in_([status.value for status in ACTIVE]),
    )
    return ChargerReservation.payment_reservation_id.is_not(None) & ~session_active


async def release(ctx: PaymentContext, reservation_id: str | None = None) -> None:
    """Cancel the holds of sessions that ended (of this one only, with ``reservation_id``).

    Safe to run twice and on any node: a charger answers Rejected for a reservation
    it no longer knows, and that ends the hold as well.
    """
    conditions = [charger_reservations.active(), _outlived()]
    if reservation_id is not None:
        conditions.append(ChargerReservation.payment_reservation_id == reservation_id)
    async with ctx.runtime.db.reading() as session:
        found = (
            await session.execute(
                select(ChargerReservation.id, ChargerReservation.charge_point_id).where(*conditions)
            )
        ).all()
    for hold_id, charge_point_id in found:
        await _cancel(ctx, hold_id, charge_point_id)


async def _cancel(ctx: PaymentContext, hold_id: int, charge_point_id: str) -> None:
    result = await execute(ctx.runtime.router, charge_point_id, CancelReservation(hold_id))
    now = ctx.now()
    async with ctx.runtime.db.session() as session:
        hold = await charger_reservations.get(session, hold_id)
        if hold is None:
            return
        if charger_reservations.cancelled(result):
            charger_reservations.move(hold, ReservationStatus.CANCELLED, now=now)
        elif hold.expires_at <= now:
            # The charger has dropped it by now: nothing is left to cancel.
            charger_reservations.move(hold, ReservationStatus.EXPIRED, now=now)
        else:
            logger.info(
                "hold %d at %s not cancelled (%s); the sweep tries again",
                hold_id,
                charge_point_id,
                result.status or result.outcome,
            )
