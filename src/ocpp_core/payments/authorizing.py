"""Authorizing a paid reservation once Stripe says the driver's card is held.

Shared by the browser's return (Confirm) and the verified webhook, whichever
comes first; the second finds the reservation authorized already. Stripe is
asked once (the Checkout Session with its PaymentIntent expanded); its answer,
the claim of the charger's start and the webhook's event record are written in
one unit of work, under the row's lock; then the claimed start is sent. An
event whose authorization failed (Stripe away) is not remembered, and is
processed again when Stripe redelivers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ocpp_core.db.models import PaymentReservation, StripeWebhookEvent
from ocpp_core.payments import event_records, holding, money, reservations, starting
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


@dataclass(frozen=True, slots=True)
class Authorization:
    """What authorizing came to: why not (None: authorized), and the start it prepared."""

    problem: str | None
    # A start claimed for the caller to carry out (see starting.carry_out), or why none was.
    start: starting.StartOutcome | starting.Claimed | holding.Reserve | None = None
    remembered: bool = False  # the webhook's event committed with the change


async def authorize_once(
    ctx: PaymentContext,
    reservation_id: str,
    checkout_session_id: str,
    remember: StripeWebhookEvent | None = None,
) -> Authorization:
    """Ask Stripe, then authorize and claim the start in one unit of work.

    Confirm and the webhook arrive together: whichever waited for the other in
    this process looks at the row first instead of asking Stripe again. On
    other nodes both may ask; the row lock lets one authorize and claim the
    start, and the other finds it claimed. ``remember``, a webhook's event
    record, commits with what the event changed.
    """
    lock = ctx.lock(reservation_id)
    waited = lock.locked()
    async with lock:
        if waited and (decided := await _decide(ctx, reservation_id, None, remember)):
            return decided
        held = await held_payment(ctx, checkout_session_id)
        if isinstance(held, str):
            return Authorization(held)
        decided = await _decide(ctx, reservation_id, held, remember)
        assert decided is not None
        return decided


async def _decide(
    ctx: PaymentContext,
    reservation_id: str,
    held: Intent | None,
    remember: StripeWebhookEvent | None,
) -> Authorization | None:
    """Authorize the row on ``held`` and claim its start; None if it is unpaid and Stripe
    was not asked yet (``held`` None: nothing is written)."""
    async with (
        ctx.runtime.db.session() as session,
        reservations.at_connector(session, reservation_id) as found,
    ):
        if found is None:
            return Authorization("NotFound")
        row = found.row
        if held is None and status_of(row) is Status.PENDING_PAYMENT:
            return None
        problem = _status_problem(row) if held is None else authorize(ctx, row, held)
        prepared = None
        if problem is None and status_of(row) is Status.AUTHORIZED:
            prepared = starting.claim(ctx, found)
        # An ended reservation's event is remembered once its late payment is given back.
        remembered = remember is not None and status_of(row) not in TERMINAL
        if remember is not None and remembered:
            await event_records.remember(session, remember)
    return Authorization(problem, prepared, remembered)


def _status_problem(row: PaymentReservation) -> str | None:
    status = status_of(row)
    return status.value if status in TERMINAL else None


async def authorize_payment(
    ctx: PaymentContext, reservation_id: str, checkout_session_id: str
) -> str | None:
    """Read the reservation, ask Stripe about its paid checkout, authorize; why not, or None.

    The start is left to the caller.
    """
    async with ctx.runtime.db.reading() as session:
        row = await reservations.get(session, reservation_id, lock=False)
        if row is None:
            return "NotFound"
        status = status_of(row)
    if status is not Status.PENDING_PAYMENT:
        return status.value if status in TERMINAL else None
    held = await held_payment(ctx, checkout_session_id)
    if isinstance(held, str):
        return held
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        return "NotFound" if row is None else authorize(ctx, row, held)
