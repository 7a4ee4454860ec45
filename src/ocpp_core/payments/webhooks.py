"""Verified Stripe events: the second path (beside the browser's return) that moves money state.

Only an event whose signature verifies changes anything; everything else is a
400, so Stripe retries and alerts. Each event id is processed once; the
handlers are idempotent on top of that, so an out-of-order or repeated event
changes no amount.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from ocpp_core.db.models import StripeWebhookEvent
from ocpp_core.payments import flows, late, reservations, starting, unpaid
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.gateway import InvalidSignature
from ocpp_core.payments.states import TERMINAL, Money, Status, move, status_of
from ocpp_core.payments.stripe_events import EventObject, MalformedEvent, StripeEvent, decode_event


class StripeUnavailable(Exception):
    """Checking the event with Stripe failed for now."""


async def handle(ctx: PaymentContext, payload: bytes, signature: str | None) -> flows.Answer:
    if ctx.gateway is None:
        return flows.Answer(400, {"status": "Disabled"})
    try:
        raw = ctx.gateway.verify_event(payload, signature)
    except InvalidSignature as error:
        logger.warning("webhook refused: %s", error)
        return flows.Answer(400, {"status": "InvalidSignature"})
    try:
        event, obj = decode_event(raw)
    except MalformedEvent as error:
        # Signed, so Stripe (or whoever holds the secret) should hear of it: a 400 it retries.
        logger.warning("webhook refused: not a Stripe event of the expected shape (%s)", error)
        return flows.Answer(400, {"status": "InvalidEvent"})
    async with ctx.runtime.db.session() as session:
        if await session.get(StripeWebhookEvent, event.id) is not None:
            return flows.Answer(200, {"status": "Duplicate"})
    try:
        reservation_id = await _dispatch(ctx, event.type, obj)
    except StripeUnavailable:
        # Not remembered: Stripe delivers the event again and it is processed then.
        return flows.Answer(503, {"status": "RetryLater"})
    await _remember(ctx, event, reservation_id)
    return flows.Answer(200, {"status": "Processed"})


async def _remember(ctx: PaymentContext, event: StripeEvent, reservation_id: str | None) -> None:
    try:
        async with ctx.runtime.db.session() as session:
            session.add(
                StripeWebhookEvent(
                    id=event.id,
                    type=event.type,
                    reservation_id=reservation_id,
                    processed_at=ctx.now(),
                )
            )
    except IntegrityError:
        pass  # a concurrent delivery of the same event got there first


async def _dispatch(ctx: PaymentContext, kind: str, obj: EventObject | None) -> str | None:
    if obj is None:  # not a kind of event we act on
        return None
    if kind.startswith("checkout.session."):
        row_id = await _reservation_for_session(ctx, obj)
    else:
        row_id = await _reservation_for_intent(ctx, obj)
    if row_id is None:
        logger.info("webhook %s for no known reservation", kind)
        return None
    handler = _HANDLERS.get(kind)
    if handler is not None:
        await handler(ctx, row_id, obj)
    return row_id


async def _reservation_for_session(ctx: PaymentContext, obj: EventObject) -> str | None:
    async with ctx.runtime.db.session() as session:
        row = await reservations.by_checkout_session(session, obj.id)
        return row.id if row is not None else None


async def _reservation_for_intent(ctx: PaymentContext, obj: EventObject) -> str | None:
    async with ctx.runtime.db.session() as session:
        row = await reservations.by_payment_intent(session, obj.id)
        if row is None:
            claimed = (obj.metadata or {}).get("reservation_id")
            row = await reservations.get(session, claimed) if claimed else None
            if row is not None and row.payment_intent_id is None:
                row.payment_intent_id = obj.id
        return row.id if row is not None else None


async def _completed(ctx: PaymentContext, reservation_id: str, obj: EventObject) -> None:
    async with ctx.lock(reservation_id):
        problem = await flows.authorize_payment(ctx, reservation_id)
    if problem is None:
        ctx.spawn(starting.try_start(ctx, reservation_id), f"start-{reservation_id}")
    elif problem.startswith("StripeError"):
        raise StripeUnavailable(problem)
    elif problem in {s.value for s in TERMINAL}:
        await late.release(ctx, reservation_id, obj.payment_intent)


async def _expired(ctx: PaymentContext, reservation_id: str, obj: EventObject) -> None:
    async with ctx.lock(reservation_id), ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is not None and status_of(row) is Status.PENDING_PAYMENT:
            move(row, Status.ABANDONED)
            row.failure_code = unpaid.CHECKOUT_EXPIRED
            row.updated_at = ctx.now()


async def _payment_failed(ctx: PaymentContext, reservation_id: str, obj: EventObject) -> None:
    # Checkout lets the driver try another card, so a decline does not end the reservation.
    error = obj.last_payment_error
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is not None and status_of(row) is Status.PENDING_PAYMENT:
            row.failure_message = ((error and error.message) or "payment failed")[:500]
            row.updated_at = ctx.now()


async def _capturable(ctx: PaymentContext, reservation_id: str, obj: EventObject) -> None:
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        ended = row is not None and status_of(row) in TERMINAL and not late.owes(row)
    if ended:
        await late.release(ctx, reservation_id, obj.id)


async def _canceled(ctx: PaymentContext, reservation_id: str, obj: EventObject) -> None:
    async with ctx.lock(reservation_id), ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None:
            return
        if row.money_state == Money.RELEASE_PENDING:
            row.money_state = Money.RELEASED.value
            row.released_at = ctx.now()
        elif status_of(row) in (Status.AUTHORIZED, Status.START_REQUESTED):
            move(row, Status.FAILED)
            row.failure_code = "PaymentCanceled"
            row.released_at = ctx.now()
            row.money_state = Money.RELEASED.value
        row.updated_at = ctx.now()


_HANDLERS = {
    "checkout.session.completed": _completed,
    "checkout.session.expired": _expired,
    "payment_intent.payment_failed": _payment_failed,
    "payment_intent.amount_capturable_updated": _capturable,
    "payment_intent.canceled": _canceled,
}
