"""Payments that complete after their reservation ended: the hold goes back at once.

A driver can still pay on a Checkout page kept open while their reservation
ended (cancelled, or abandoned and its connector freed for other drivers) in
the moment before the session was expired at Stripe. The verified webhook and
the browser's return both find such a payment; either gives the hold back and
marks the reservation, so the driver's page can say what happened.
"""

from __future__ import annotations

from datetime import datetime

from ocpp_core.db.models import PaymentReservation
from ocpp_core.payments import money, reservations
from ocpp_core.payments.context import PaymentContext
from ocpp_core.payments.gateway import GatewayError
from ocpp_core.payments.states import Money

PAID_LATE = "PaidLate"


def owes(row: PaymentReservation) -> bool:
    """Money is, or may be, taken from this hold: a capture, one due, or one under review."""
    return (
        row.captured_cents is not None
        or (row.amount_due_cents or 0) > 0
        or row.money_state == Money.REVIEW_REQUIRED
    )


def arm(row: PaymentReservation, intent_id: object, now: datetime) -> None:
    """Paid after we gave up on the reservation: arm giving the hold back (idempotent).

    Never for a session that owes money: its hold is what the capture (pending,
    or waiting for review) will take.
    """
    if isinstance(intent_id, str) and row.payment_intent_id is None:
        row.payment_intent_id = intent_id
    # Not twice for one late payment: the webhook and the browser both report it.
    if not owes(row) and row.paid_late_at is None:
        if row.authorized_at is None:
            row.paid_late_at = now  # it never held the payment it got
        row.money_state = None  # re-arm even if an earlier release found nothing held
        money.arm_release(row, now)


async def release(ctx: PaymentContext, reservation_id: str, intent_id: object) -> None:
    """:func:`arm` in a unit of work of its own, then the release."""
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None:
            return
        arm(row, intent_id, ctx.now())
    ctx.spawn(money.perform(ctx, reservation_id), f"release-{reservation_id}")


async def found(ctx: PaymentContext, reservation_id: str) -> bool:
    """Whether Stripe holds a payment for this ended, never authorized reservation.

    If so, it is released. For the browser's return, which unlike a verified
    webhook proves nothing by itself: Stripe is asked.
    """
    assert ctx.gateway is not None
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None or row.authorized_at is not None or row.checkout_session_id is None:
            return False
        session_id = row.checkout_session_id
    try:
        checkout = await ctx.gateway.checkout_session(session_id)
    except GatewayError:
        return False  # the webhook releases it, and the sweep retries
    if checkout.status != "complete":
        return False
    await release(ctx, reservation_id, checkout.payment_intent_id)
    return True
