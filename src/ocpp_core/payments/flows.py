"""What the API asks of a reservation: create, confirm, cancel, stop, resume.

Answers are plain dicts shaped like the original system's (reference 4.1), with
the HTTP status the API should use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import PaymentReservation
from ocpp_core.domain import tariffs, transactions
from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.pricing import Tariff, hold_cents
from ocpp_core.ocpp.router import execute
from ocpp_core.payments import (
    authorizing,
    holding,
    late,
    money,
    reservations,
    starting,
    unpaid,
)
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.gateway import CheckoutRequest, GatewayError
from ocpp_core.payments.reservations import ConnectorBusy
from ocpp_core.payments.states import CANCELABLE, TERMINAL, Status, move, status_of
from ocpp_core.payments.station import look


@dataclass(frozen=True, slots=True)
class Answer:
    http_status: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CreateRequest:
    charge_point_id: str
    connector_id: int
    charge_tag_id: str
    origin: str | None = None
    return_base_url: str | None = None
    driver_key: str | None = None  # who asks: at most one unpaid reservation each


@dataclass(frozen=True, slots=True)
class _Found:
    tariff: Tariff
    privileged: bool
    free: bool
    way: unpaid.Way


_TRY_AGAIN = Answer(503, {"status": "TryAgain", "reason": "PaymentProviderUnavailable"})


async def create(ctx: PaymentContext, request: CreateRequest) -> Answer:
    if not await ctx.runtime.router.is_online(request.charge_point_id):
        return Answer(404, {"status": "ChargerOffline", "reason": "Offline"})
    try:
        async with ctx.runtime.db.session() as session:
            found = await _look(ctx, session, request)
            if isinstance(found, Answer):
                return found
            # Nobody gives way (the usual case): the reservation goes in with the look.
            row = None if found.way.leaving else _new_reservation(ctx, request, found)
            if row is not None:
                await reservations.ROWS.insert(session, row)
    except IntegrityError:
        return await _lost_race(ctx, request)
    if row is None:
        taken = await _take_over(ctx, request, found)
        if isinstance(taken, Answer):
            return taken
        row = taken
    if found.free:
        outcome = await starting.try_start(ctx, row.id)
        return Answer(
            200,
            {"status": _free_status(outcome), "reason": outcome.reason, "reservationId": row.id},
        )
    return await _checkout(ctx, row, request)


async def _look(
    ctx: PaymentContext, session: AsyncSession, request: CreateRequest
) -> _Found | Answer:
    """The station's tariff, and which reservations must give way; or why there is none."""
    now = ctx.now()
    station = await look(
        session,
        charge_point_id=request.charge_point_id,
        connector_id=request.connector_id,
        tag_id=request.charge_tag_id,
        now=now,
    )
    if station is None:
        return Answer(404, {"status": "UnknownChargePoint"})
    if not station.has_connector:
        return Answer(404, {"status": "UnknownConnector"})
    cutoff = reservations.unpaid_cutoff(now, ctx.settings.unpaid_hold_minutes)
    way = await unpaid.plan(session, station.holder, station.busy, request.driver_key, cutoff)
    if way.busy is not None:
        return Answer(409, {"status": "ConnectorBusy", "reason": way.busy})
    tariff = tariffs.tariff_of(station.charge_point, ctx.runtime.settings.stripe.currency)
    privileged = station.privileged
    free = tariff.is_free or privileged
    if not free and (problem := _cannot_take_payment(ctx, tariff)):
        return Answer(503 if problem == "PaymentsDisabled" else 409, {"status": problem})
    return _Found(tariff, privileged, free, way)


async def _take_over(
    ctx: PaymentContext, request: CreateRequest, found: _Found
) -> PaymentReservation | Answer:
    """A reservation in the place of others: their checkouts closed first, then one commit."""
    if (refused := await _clear_the_way(ctx, found.way.leaving)) is not None:
        return refused
    row = _new_reservation(ctx, request, found)
    retire = unpaid.retire(found.way.leaving, row.created_at)
    try:
        await reservations.insert(ctx.runtime.db, row, first=retire)
    except ConnectorBusy:
        return await _lost_race(ctx, request)
    for gone in found.way.leaving:  # their checkouts are closed: the release finds nothing held
        ctx.spawn(money.perform(ctx, gone.reservation_id), f"release-{gone.reservation_id}")
    return row


async def _clear_the_way(ctx: PaymentContext, leaving: tuple[unpaid.GiveWay, ...]) -> Answer | None:
    """Close the checkouts of the reservations that give way; why not, if one can't be."""
    for gone in leaving:
        try:
            paid_checkout = await unpaid.paid_before_closing(ctx, gone)
        except GatewayError as error:
            logger.warning("reservation %s can't give way now: %s", gone.reservation_id, error)
            return _TRY_AGAIN  # nothing changed: the earlier driver can still pay
        if paid_checkout is None:
            continue
        # Paid after all: that reservation stands, authorized now if the webhook is late.
        async with ctx.lock(gone.reservation_id):
            problem = await authorizing.authorize_payment(ctx, gone.reservation_id, paid_checkout)
        if authorizing.is_stripe_problem(problem):
            return _TRY_AGAIN
        ctx.spawn(starting.try_start(ctx, gone.reservation_id), f"start-{gone.reservation_id}")
        if gone.code == unpaid.TAKEN:
            return Answer(409, {"status": "ConnectorBusy", "reason": "ActiveReservation"})
    return None


async def _lost_race(ctx: PaymentContext, request: CreateRequest) -> Answer:
    """Another start won: for the connector, or for this driver's one unpaid reservation."""
    async with ctx.runtime.db.session() as session:
        held = await reservations.active_on(session, request.charge_point_id, request.connector_id)
    if held is not None:
        return Answer(409, {"status": "ConnectorBusy", "reason": "ActiveReservation"})
    return Answer(409, {"status": "TryAgain", "reason": "ConcurrentStart"})


def _cannot_take_payment(ctx: PaymentContext, tariff: Tariff) -> str | None:
    if ctx.gateway is None:
        return "PaymentsDisabled"
    return "PricingNotConfigured" if tariff.problem() else None


def _free_status(outcome: starting.StartOutcome) -> str:
    if outcome.reason in ("Accepted", "AwaitingPlug"):
        return "Accepted"
    return outcome.status


def _new_reservation(
    ctx: PaymentContext, request: CreateRequest, found: _Found
) -> PaymentReservation:
    now = ctx.now()
    tariff, free, privileged = found.tariff, found.free, found.privileged
    # A known driver's own tag starts the session, so reports show who charged.
    own_tag = privileged and len(request.charge_tag_id) <= reservations.MAX_ID_TAG
    return PaymentReservation(
        id=str(uuid.uuid4()),
        charge_point_id=request.charge_point_id,
        connector_id=request.connector_id,
        charge_tag_id=request.charge_tag_id,
        ocpp_id_tag=request.charge_tag_id if own_tag else reservations.new_id_tag(),
        origin=request.origin,
        driver_key=request.driver_key,
        free=free,
        status=(Status.AUTHORIZED if free else Status.PENDING_PAYMENT).value,
        price_kwh_millicents=tariff.price_kwh_millicents,
        session_fee_cents=tariff.session_fee_cents,
        usage_fee_minute_millicents=tariff.usage_fee_minute_millicents,
        usage_grace_minutes=tariff.usage_grace_minutes,
        usage_max_minutes=tariff.usage_max_minutes,
        usage_after_charging=tariff.usage_after_charging,
        max_energy_wh=tariff.max_energy_wh,
        currency=tariff.currency,
        hold_cents=0 if free else hold_cents(tariff),
        created_at=now,
        updated_at=now,
        authorized_at=now if free else None,
        start_deadline_at=authorizing.start_deadline(ctx) if free else None,
        awaiting_plug=False,
        idle_seconds=0,
        money_attempts=0,
    )


async def _checkout(ctx: PaymentContext, row: PaymentReservation, request: CreateRequest) -> Answer:
    assert ctx.gateway is not None
    stripe_settings = ctx.runtime.settings.stripe
    base = (request.return_base_url or stripe_settings.return_base_url).rstrip("/")
    query = {"reservationId": row.id} | ({"origin": request.origin} if request.origin else {})
    checkout = CheckoutRequest(
        reservation_id=row.id,
        amount_cents=row.hold_cents,
        currency=row.currency,
        product_name=stripe_settings.product_name,
        # Stripe fills in {CHECKOUT_SESSION_ID}; it must not be URL-encoded.
        success_url=f"{base}/Payments/Success?{urlencode(query)}&session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{base}/Payments/Cancel?{urlencode(query)}",
        expires_at=ctx.now() + _checkout_lifetime(ctx),
        metadata={
            "reservation_id": row.id,
            "charge_point_id": row.charge_point_id,
            "connector_id": str(row.connector_id),
            "charge_tag_id": row.charge_tag_id,
        },
    )
    try:
        session = await ctx.gateway.create_checkout(checkout)
    except GatewayError as error:
        await _fail(ctx, row.id, "CheckoutFailed", str(error))
        return Answer(502, {"status": "PaymentProviderError", "error": str(error)})
    async with ctx.runtime.db.session() as db_session:
        status = await reservations.set_checkout(
            db_session, row.id, session.id, session.url, ctx.now()
        )
        ended = status in TERMINAL
        if ended:  # replaced by the driver's next start while Stripe made the session
            stored = await reservations.get(db_session, row.id)
            assert stored is not None
            money.arm_release(stored, ctx.now())
    if ended:
        ctx.spawn(money.perform(ctx, row.id), f"release-{row.id}")
        return Answer(409, {"status": "TryAgain", "reason": "ConcurrentStart"})
    return Answer(
        200,
        {
            "status": "Redirect",
            "checkoutUrl": session.url,
            "reservationId": row.id,
            "currency": row.currency,
            "maxAmountCents": row.hold_cents,
            "maxEnergyKwh": row.max_energy_wh / 1000,
        },
    )


# Stripe refuses a session that expires less than 30 minutes after it creates it, which
# is a moment after we compute the time: the shortest lifetime keeps a minute in hand.
_SHORTEST_CHECKOUT = timedelta(minutes=31)


def _checkout_lifetime(ctx: PaymentContext) -> timedelta:
    return max(timedelta(minutes=ctx.settings.checkout_expiry_minutes), _SHORTEST_CHECKOUT)


async def _fail(ctx: PaymentContext, reservation_id: str, code: str, message: str) -> None:
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is not None and status_of(row) not in TERMINAL:
            move(row, Status.FAILED)
            money.fail(row, code, message, ctx.now())


_ENDED = frozenset(status.value for status in TERMINAL)


async def confirm(ctx: PaymentContext, reservation_id: str, session_id: str) -> Answer:
    if ctx.gateway is None:
        return Answer(400, {"status": "Disabled"})
    async with ctx.runtime.db.reading() as session:
        row = await reservations.read(session, reservation_id)
        if row is None:
            return Answer(404, {"status": "NotFound"})
        if row.checkout_session_id != session_id:
            return Answer(400, {"status": "SessionMismatch"})
        status = status_of(row)
        # The webhook started it, or is sending the start: nothing to ask the charger.
        requested = status is Status.START_REQUESTED or starting.in_flight(ctx, row)
    started = None
    if status is Status.PENDING_PAYMENT:
        authorization = await authorizing.authorize_once(ctx, reservation_id, session_id)
        problem, prepared = authorization.problem, authorization.start
        if prepared is not None:
            started = await starting.carry_out(ctx, reservation_id, prepared)
    else:
        problem = status.value if status in TERMINAL else None
    if problem in _ENDED and await late.found(ctx, reservation_id):
        return Answer(409, {"status": late.PAID_LATE, "error": late.PAID_LATE})
    if problem is not None:
        return Answer(400, {"status": problem, "error": problem})
    if requested:
        return Answer(200, {"status": status.value, "reason": starting.ALREADY_REQUESTED})
    if started is None:
        started = await starting.try_start(ctx, reservation_id)
    return Answer(200, {"status": started.status, "reason": started.reason})


async def cancel(ctx: PaymentContext, reservation_id: str, reason: str | None) -> Answer:
    async with ctx.lock(reservation_id), ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None:
            return Answer(404, {"status": "NotFound", "cancellationApplied": False})
        applied = status_of(row) in CANCELABLE and row.transaction_id is None
        if applied:
            move(row, Status.CANCELLED)
            money.fail(row, "Cancelled", reason or "cancelled", ctx.now())
        status = row.status
    if applied:
        ctx.spawn(money.perform(ctx, reservation_id), f"release-{reservation_id}")
        ctx.spawn(holding.release(ctx, reservation_id), f"unreserve-{reservation_id}")
    return Answer(200, {"status": status, "cancellationApplied": applied})


async def stop(ctx: PaymentContext, reservation_id: str) -> Answer:
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None:
            return Answer(404, {"status": "NotFound"})
        status, cp, tx = status_of(row), row.charge_point_id, row.transaction_id
        command = None if tx is None else await transactions.stop_command(session, tx)
    base = {"reservationId": reservation_id}
    if status in TERMINAL:
        return Answer(200, {"status": "AlreadyStopped", "reservationStatus": status.value, **base})
    if command is None:
        cancelled = await cancel(ctx, reservation_id, "stopped before charging")
        return Answer(200, {"status": "Cancelled", **base, **cancelled.body})
    return _stop_answer(await execute(ctx.runtime.router, cp, command), tx, base)


def _stop_answer(result: CommandResult, tx: int | None, base: dict[str, Any]) -> Answer:
    if result.outcome is Outcome.REFUSED:
        return Answer(200, {"status": "Rejected", "error": result.error, **base})
    said = result.status if result.outcome is Outcome.ANSWERED else _UNSENT[result.outcome]
    return Answer(200, {"status": said, "transactionId": tx, **base})


# A stop that never reached the charger, in the words of the API's answer.
_UNSENT = {
    Outcome.OFFLINE: "ChargerOffline",
    Outcome.UNREACHABLE: "ChargerOffline",
    Outcome.TIMEOUT: "Timeout",
}


async def resume(ctx: PaymentContext, reservation_id: str) -> Answer:
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None:
            return Answer(404, {"status": "NotFound"})
        status, url, session_id = status_of(row), row.checkout_url, row.checkout_session_id
    body: dict[str, Any] = {
        "reservationId": reservation_id,
        "reservationStatus": status.value,
        "locksConnector": status not in TERMINAL,
        "checkoutUrl": None,
    }
    if status is not Status.PENDING_PAYMENT:
        return Answer(200, {"status": "Status" if status not in TERMINAL else status.value, **body})
    if ctx.gateway is None or session_id is None:
        return Answer(200, {"status": "MissingCheckoutSession", **body})
    try:
        checkout = await ctx.gateway.checkout_session(session_id)
    except GatewayError:
        return Answer(200, {"status": "StripeError", **body})
    if checkout.status == "open":
        return Answer(200, {**body, "status": "Redirect", "checkoutUrl": url})
    return Answer(200, {"status": "ResumeUnavailable", **body})
