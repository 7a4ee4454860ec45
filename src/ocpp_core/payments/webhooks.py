"""Verified Stripe events: the second path (beside the browser's return) that moves money state.

Only an event whose signature verifies changes anything; everything else is a
400, so Stripe retries and alerts. A verified event of a type we do not act on
(``payment_intent.created``, ``payment_intent.succeeded``, ...) is answered at
once, before any database work. Each event we act on is processed once: the
duplicate check, the change it causes and the row that remembers it commit in
one unit of work; a paid checkout's change and record commit in the unit of
work that authorizes it once Stripe was asked, where the record's key still
refuses a second delivery. An event that changed nothing (a hold reported
once the checkout had authorized it, a checkout completed after the browser's
return had) is not remembered: delivered again, it is handled again, like any
late or out-of-order event. The handlers are idempotent, so no repeated,
late or out-of-order event changes an amount.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.detached import Found
from ocpp_core.db.models import PaymentReservation, StripeWebhookEvent
from ocpp_core.db.prepared import Prepared
from ocpp_core.payments import (
    authorizing,
    event_records,
    flows,
    late,
    money,
    reservations,
    starting,
    unpaid,
)
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.gateway import InvalidSignature
from ocpp_core.payments.states import TERMINAL, Money, Status, move, status_of
from ocpp_core.payments.stripe_events import (
    EventObject,
    MalformedEvent,
    StripeEvent,
    decode_event,
    event_object,
)

CHECKOUT_COMPLETED = "checkout.session.completed"


class StripeUnavailable(Exception):
    """Checking the event with Stripe failed for now."""


@dataclass(frozen=True, slots=True)
class _Then:
    """What a handler leaves for after its unit of work has committed."""

    work: Callable[[], Awaitable[None]] | None = None
    # Instead, work that asks Stripe first: it commits the event's record itself,
    # with the change the event causes, or leaves it out if Stripe could not be asked.
    recording: Callable[[StripeWebhookEvent], Awaitable[None]] | None = None


_DONE = _Then()
Handler = Callable[[PaymentContext, PaymentReservation, EventObject], _Then]


async def handle(ctx: PaymentContext, payload: bytes, signature: str | None) -> flows.Answer:
    if ctx.gateway is None:
        return flows.Answer(400, {"status": "Disabled"})
    try:
        raw = ctx.gateway.verify_event(payload, signature)
    except InvalidSignature as error:
        logger.warning("webhook refused: %s", error)
        return flows.Answer(400, {"status": "InvalidSignature"})
    try:
        event = decode_event(raw)
        handler = _HANDLERS.get(event.type)
        if handler is None:
            return flows.Answer(200, {"status": "Ignored"})
        obj = event_object(event)
    except MalformedEvent as error:
        # Signed, so Stripe (or whoever holds the secret) should hear of it: a 400 it retries.
        logger.warning("webhook refused: not a Stripe event of the expected shape (%s)", error)
        return flows.Answer(400, {"status": "InvalidEvent"})
    try:
        processed = await _process(ctx, event, obj, handler)
    except StripeUnavailable:
        # Not remembered: Stripe delivers the event again and it is processed then.
        return flows.Answer(503, {"status": "RetryLater"})
    return flows.Answer(200, {"status": "Processed" if processed else "Duplicate"})


async def _process(
    ctx: PaymentContext, event: StripeEvent, obj: EventObject, handler: Handler
) -> bool:
    """Handle the event once; False if it had been (or is being) handled already."""
    try:
        async with (
            ctx.runtime.db.session() as session,
            _reservation(session, event, obj) as (found, seen),
        ):
            if seen:
                return False
            if found is None:
                logger.info("webhook %s for no known reservation", event.type)
            row = None if found is None else found.row
            then = _DONE if row is None else handler(ctx, row, obj)
            record = _record(ctx, event, row)
            # One that changed nothing is not remembered: delivered again, it changes nothing.
            changed = found is not None and bool(found.changes())
            if then.recording is None and (changed or then.work is not None):
                await event_records.remember(session, record)
        if then.recording is not None:
            await then.recording(record)
    except IntegrityError:
        return False  # handled before, or a concurrent delivery of the same event committed first
    if then.work is not None:
        await then.work()
    return True


def _record(
    ctx: PaymentContext, event: StripeEvent, row: PaymentReservation | None
) -> StripeWebhookEvent:
    return StripeWebhookEvent(
        id=event.id,
        type=event.type,
        reservation_id=row.id if row is not None else None,
        processed_at=ctx.now(),
    )


async def _remember(ctx: PaymentContext, record: StripeWebhookEvent) -> None:
    async with ctx.runtime.db.session() as session:
        await event_records.remember(session, record)


@asynccontextmanager
async def _reservation(
    session: AsyncSession, event: StripeEvent, obj: EventObject
) -> AsyncIterator[tuple[Found[PaymentReservation] | None, bool]]:
    """The reservation the event is about, locked, and whether the event was handled before;
    what the block changes in the reservation is written when it ends cleanly.

    One statement for both (they were three). A PaymentIntent is found by its id,
    else by the reservation its metadata names, and linked to it on first sight.
    The metadata is believed only for a reservation not yet linked: one linked to
    another PaymentIntent is not what this event's payment holds (else a cancel of
    that other payment would mark this hold released while Stripe still holds it).
    With no reservation, whether the event was seen is left to its record's insert.
    """
    intent = not event.type.startswith("checkout.session.")
    claimed = (obj.metadata or {}).get("reservation_id") if intent else None
    values = {"event_id": event.id, "object_id": obj.id}
    query = _reservation_query(intent=intent, claimed=bool(claimed))
    if claimed:
        values["claimed"] = claimed
    async with reservations.ROWS.editing(session, query, values) as found:
        if found is None:
            yield None, False
            return
        handled = bool(found.extra[0])
        if intent and not handled and found.row.payment_intent_id is None:
            found.row.payment_intent_id = obj.id
        yield found, handled


@functools.cache
def _reservation_query(*, intent: bool, claimed: bool) -> Prepared:
    """:func:`_reservation`'s statement, built once for each of its three shapes."""
    return reservations.ROWS.query(_reservation_select(intent=intent, claimed=claimed))


def _reservation_select(*, intent: bool, claimed: bool) -> Select[PaymentReservation, bool]:
    seen = exists().where(StripeWebhookEvent.id == bindparam("event_id"))
    query = select(PaymentReservation, seen).limit(1).with_for_update(of=PaymentReservation)
    if not intent:
        return query.where(PaymentReservation.checkout_session_id == bindparam("object_id"))
    by_intent = PaymentReservation.payment_intent_id == bindparam("object_id")
    unlinked = and_(
        PaymentReservation.id == bindparam("claimed"),
        PaymentReservation.payment_intent_id.is_(None),
    )
    about = or_(by_intent, unlinked) if claimed else by_intent
    return query.where(about).order_by(case((by_intent, 0), else_=1))


def _spawn(ctx: PaymentContext, work: Callable[[], Coroutine[Any, Any, Any]], name: str) -> _Then:
    """Work spawned after the commit (made only then: a rolled-back event starts nothing)."""

    async def run() -> None:
        ctx.spawn(work(), name)

    return _Then(run)


def _completed(ctx: PaymentContext, row: PaymentReservation, obj: EventObject) -> _Then:
    status = status_of(row)
    if status is Status.PENDING_PAYMENT:
        return _Then(recording=_authorizing(ctx, row.id, obj))
    # Authorized by the browser's return: its start is on its way, or may not have gone out.
    if status is Status.AUTHORIZED and not starting.in_flight(ctx, row):
        return _spawn(ctx, partial(starting.try_start, ctx, row.id), f"start-{row.id}")
    if status in TERMINAL:
        return _late(ctx, row, obj.payment_intent)
    return _DONE


def _authorizing(
    ctx: PaymentContext, reservation_id: str, obj: EventObject
) -> Callable[[StripeWebhookEvent], Awaitable[None]]:
    async def run(record: StripeWebhookEvent) -> None:
        done = await authorizing.authorize_once(ctx, reservation_id, obj.id, record)
        if authorizing.is_stripe_problem(done.problem):
            raise StripeUnavailable(done.problem)
        if done.start is not None:  # the charger's answer may take long: Stripe's request won't
            start = starting.carry_out(ctx, reservation_id, done.start)
            ctx.spawn(start, f"start-{reservation_id}")
        if done.problem in _ENDED:
            await late.release(ctx, reservation_id, obj.payment_intent)
        if not done.remembered:
            await _remember(ctx, record)

    return run


_ENDED = frozenset(status.value for status in TERMINAL)


def _late(ctx: PaymentContext, row: PaymentReservation, intent_id: object) -> _Then:
    late.arm(row, intent_id, ctx.now())
    return _spawn(ctx, partial(money.perform, ctx, row.id), f"release-{row.id}")


def _expired(ctx: PaymentContext, row: PaymentReservation, obj: EventObject) -> _Then:
    if status_of(row) is Status.PENDING_PAYMENT:
        move(row, Status.ABANDONED)
        row.failure_code = unpaid.CHECKOUT_EXPIRED
        row.updated_at = ctx.now()
    return _DONE


def _payment_failed(ctx: PaymentContext, row: PaymentReservation, obj: EventObject) -> _Then:
    # Checkout lets the driver try another card, so a decline does not end the reservation.
    error = obj.last_payment_error
    if status_of(row) is Status.PENDING_PAYMENT:
        row.failure_message = ((error and error.message) or "payment failed")[:500]
        row.updated_at = ctx.now()
    return _DONE


def _capturable(ctx: PaymentContext, row: PaymentReservation, obj: EventObject) -> _Then:
    if status_of(row) in TERMINAL and not late.owes(row):
        return _late(ctx, row, obj.id)
    return _DONE


def _canceled(ctx: PaymentContext, row: PaymentReservation, obj: EventObject) -> _Then:
    if row.money_state == Money.RELEASE_PENDING:
        row.money_state = Money.RELEASED.value
        row.released_at = ctx.now()
    elif status_of(row) in (Status.AUTHORIZED, Status.START_REQUESTED):
        move(row, Status.FAILED)
        row.failure_code = "PaymentCanceled"
        row.released_at = ctx.now()
        row.money_state = Money.RELEASED.value
    row.updated_at = ctx.now()
    return _DONE


_HANDLERS: dict[str, Handler] = {
    CHECKOUT_COMPLETED: _completed,
    "checkout.session.expired": _expired,
    "payment_intent.payment_failed": _payment_failed,
    "payment_intent.amount_capturable_updated": _capturable,
    "payment_intent.canceled": _canceled,
}
HANDLED = frozenset(_HANDLERS)  # every other type is answered at once
