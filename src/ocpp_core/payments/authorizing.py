"""Authorizing a paid reservation once Stripe says the driver's card is held.

Shared by the browser's return (Confirm) and the verified webhook, whichever
comes first; the second finds the reservation authorized already. Stripe is
asked once (the Checkout Session with its PaymentIntent expanded), and the
answer is written to the row in a unit of work of its own, under the row's
lock. The webhook remembers its event only after that commit: an event whose
authorization failed (Stripe away) is processed again when Stripe redelivers it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ocpp_core.db.models import PaymentReservation
from ocpp_core.payments import money, reservations
from ocpp_core.payments.context import PaymentContext
from ocpp_core.payments.gateway import GatewayError, Intent
from ocpp_core.payments.states import TERMINAL, Status, move, status_of


def start_deadline(ctx: PaymentContext) -> datetime:
    """Until when an authorized reservation may start charging."""
    return ctx.now() + timedelta(minutes=ctx.settings.start_window_minutes)


def is_stripe_problem(problem: str | None) -> bool:
    """Stripe could not be asked: trying again later may help (a webhook answers 503)."""
    return problem is not None and problem.startswith("StripeError")


async def held_payment(ctx: PaymentContext, checkout_session_id: str) -> Intent | str:
    """The PaymentIntent holding the driver's card, or why there is none."""
    assert ctx.gateway is not None
    try:
        checkout = await ctx.gateway.checkout_session(checkout_session_id, with_intent=True)
    except GatewayError as error:
        return "StripeError" if error.transient else f"StripeError:{error.code}"
    if checkout.status != "complete":
        return checkout.status  # open (not paid yet) or expired
    return checkout.intent or "MissingPaymentIntent"


def authorize(ctx: PaymentContext, row: PaymentReservation, intent: Intent) -> str | None:
    """Authorize the locked row on the hold Stripe reported; why not, or None.

    None as well when the row was authorized (or further) already; an ended
    row answers its status, so the caller can give a late payment back.
    """
    row.payment_intent_id = intent.id
    status = status_of(row)
    if status is not Status.PENDING_PAYMENT:
        return status.value if status in TERMINAL else None
    now = ctx.now()
    if intent.status != "requires_capture":
        move(row, Status.FAILED)
        money.fail(row, "UnexpectedPaymentStatus", f"payment is {intent.status}", now)
        return intent.status
    move(row, Status.AUTHORIZED)
    row.authorized_cents = min(intent.amount_capturable, row.hold_cents)
    row.authorized_at = now
    row.start_deadline_at = start_deadline(ctx)
    row.failure_code = row.failure_message = None
    row.updated_at = now
    return None


async def authorize_checked(
    ctx: PaymentContext, reservation_id: str, checkout_session_id: str
) -> str | None:
    """Ask Stripe, then authorize: for a caller that has just read the reservation unpaid."""
    held = await held_payment(ctx, checkout_session_id)
    if isinstance(held, str):
        return held
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        return "NotFound" if row is None else authorize(ctx, row, held)


async def authorize_once(
    ctx: PaymentContext, reservation_id: str, checkout_session_id: str
) -> str | None:
    """Authorize under the reservation's lock, as :func:`authorize_checked`.

    Confirm and the webhook arrive together: whichever waited for the other
    reads the row again instead of asking Stripe a second time. In a cluster
    both may ask; the row lock of :func:`authorize_checked` still lets one win.
    """
    lock = ctx.lock(reservation_id)
    waited = lock.locked()
    async with lock:
        if waited:
            return await authorize_payment(ctx, reservation_id, checkout_session_id)
        return await authorize_checked(ctx, reservation_id, checkout_session_id)


async def authorize_payment(
    ctx: PaymentContext, reservation_id: str, checkout_session_id: str
) -> str | None:
    """Read the reservation, ask Stripe about its paid checkout, authorize; why not, or None."""
    async with ctx.runtime.db.reading() as session:
        row = await reservations.get(session, reservation_id, lock=False)
        if row is None:
            return "NotFound"
        status = status_of(row)
    if status is not Status.PENDING_PAYMENT:
        return status.value if status in TERMINAL else None
    return await authorize_checked(ctx, reservation_id, checkout_session_id)
