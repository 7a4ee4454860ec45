"""Capturing and releasing card holds, retried until Stripe has answered.

The action to take is written to the reservation (``money_state``) in the same
unit of work that decides it; the call to Stripe happens afterwards and its
result is written back. A crash between the two leaves the action pending,
and the sweep performs it again under the same idempotency key, so a capture
can neither be lost nor doubled.

Whoever performs it, on any node, first claims it in the database: under the
row's lock it writes a lease (``money_claimed_until``) and commits before
calling Stripe, with no transaction open during the call. Another node, or
another task of this one, finds the lease and leaves the action to its holder;
a node that dies holding it leaves a lease that runs out, and the sweep then
performs the action under the same idempotency key. The result is written
whatever the row became meanwhile: it is what Stripe did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ocpp_core.db.models import PaymentReservation
from ocpp_core.payments import reservations
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.gateway import GatewayError, Intent, StripeGateway
from ocpp_core.payments.states import MONEY_PENDING, Money

_MAX_BACKOFF = timedelta(hours=6)
# A performance makes at most three Stripe calls (close the checkout, look, act), each
# bounded by the Stripe timeout; past those and this margin, its node died before
# recording the result.
_CALLS_PER_ACTION = 3
_CLAIM_MARGIN = timedelta(seconds=10)


def fail(row: PaymentReservation, code: str, message: str, now: datetime) -> None:
    """Record why a reservation ended without charging, and release its hold."""
    row.failure_code = code
    row.failure_message = message[:500]
    row.updated_at = now
    arm_release(row, now)


def arm_release(row: PaymentReservation, now: datetime) -> None:
    if row.checkout_session_id is None and row.payment_intent_id is None:
        return  # nothing was ever held
    _arm(row, Money.RELEASE_PENDING, now)


def arm_capture(row: PaymentReservation, amount_cents: int, now: datetime) -> None:
    row.amount_due_cents = amount_cents
    _arm(row, Money.CAPTURE_PENDING, now)


def keep_for_review(row: PaymentReservation, now: datetime) -> None:
    """Leave the hold as it is until someone decides: nothing is captured or released."""
    row.money_state = Money.REVIEW_REQUIRED.value
    row.money_next_at = None
    row.amount_due_cents = None
    row.updated_at = now


def _arm(row: PaymentReservation, state: Money, now: datetime) -> None:
    if row.money_state in (Money.CAPTURED, Money.RELEASED):
        return
    row.money_state = state.value
    row.money_attempts = 0
    row.money_next_at = now


async def perform(ctx: PaymentContext, reservation_id: str) -> None:
    """Carry out the reservation's pending money action once (the sweep decides when)."""
    if ctx.gateway is None:
        return
    claimed = await _claim(ctx, reservation_id)
    if claimed is None:
        return
    try:
        outcome = await _act(ctx.gateway, *claimed)
    except GatewayError as error:
        await _record_failure(ctx, reservation_id, error)
        return
    await _record(ctx, reservation_id, outcome)


def lease(ctx: PaymentContext) -> timedelta:
    """How long a claimed money action stays its node's before another may take it over."""
    per_call = timedelta(seconds=ctx.runtime.settings.stripe.timeout)
    return per_call * _CALLS_PER_ACTION + _CLAIM_MARGIN


async def _claim(ctx: PaymentContext, reservation_id: str) -> tuple[Money, _Snapshot] | None:
    """Claim the pending action for this caller alone; None if none is pending or unclaimed."""
    now = ctx.now()
    async with ctx.runtime.db.session() as session:
        row = await reservations.get_for_writing(session, reservation_id)
        if row is None or row.money_state not in MONEY_PENDING:
            return None
        if row.money_claimed_until is not None and row.money_claimed_until > now:
            return None  # another node (or task) is calling Stripe for it
        row.money_claimed_until = now + lease(ctx)
        return Money(row.money_state), _Snapshot.of(row)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What the Stripe call needs, read before the database session closes."""

    id: str
    session_id: str | None
    intent_id: str | None
    amount: int
    authorized: bool  # its Checkout Session completed: nothing is left open there

    @classmethod
    def of(cls, row: PaymentReservation) -> _Snapshot:
        return cls(
            row.id,
            row.checkout_session_id,
            row.payment_intent_id,
            row.amount_due_cents or 0,
            row.authorized_at is not None and row.payment_intent_id is not None,
        )


_Outcome = tuple[Money, Intent | None, str | None]


async def _act(gateway: StripeGateway, state: Money, snap: _Snapshot) -> _Outcome:
    intent_id = snap.intent_id
    releasing = intent_id is None or state is Money.RELEASE_PENDING
    if snap.session_id is not None and not snap.authorized and releasing:
        # An open Checkout Session can still take the driver's card: close it first.
        session = await gateway.close_checkout(snap.session_id, snap.id)
        intent_id = session.payment_intent_id or intent_id
    if intent_id is None:
        return Money.RELEASED, None, None  # the driver never paid: nothing is held
    if state is Money.CAPTURE_PENDING:
        return await _capture(gateway, intent_id, snap)
    return await _release(gateway, intent_id, snap)


async def _capture(gateway: StripeGateway, intent_id: str, snap: _Snapshot) -> _Outcome:
    try:
        intent = await gateway.capture(intent_id, snap.amount, snap.id)
    except GatewayError as error:
        if error.transient:
            raise
        intent = await gateway.payment_intent(intent_id)  # what happened before us?
    if intent.status == "succeeded":
        return Money.CAPTURED, intent, None
    return Money.REVIEW_REQUIRED, intent, f"capture left the payment {intent.status}"


async def _release(gateway: StripeGateway, intent_id: str, snap: _Snapshot) -> _Outcome:
    intent = await gateway.payment_intent(intent_id)
    if intent.status == "requires_capture":
        intent = await gateway.cancel(intent_id, snap.id)
    if intent.status in ("succeeded", "requires_capture"):
        return Money.REVIEW_REQUIRED, intent, f"cannot release a payment that is {intent.status}"
    return Money.RELEASED, intent, None  # canceled, or never authorized: nothing is held


async def _record(ctx: PaymentContext, reservation_id: str, outcome: _Outcome) -> None:
    async with ctx.runtime.db.session() as session:
        row = await reservations.get_for_writing(session, reservation_id)
        assert row is not None
        _write(row, outcome, ctx.now())
    _, _, problem = outcome
    if problem:
        logger.error("reservation %s needs review: %s", reservation_id, problem)


def _write(row: PaymentReservation, outcome: _Outcome, now: datetime) -> None:
    state, intent, problem = outcome
    row.money_state = state.value
    row.money_next_at = None
    row.money_claimed_until = None
    row.money_last_error = problem
    row.updated_at = now
    if intent is not None:
        row.payment_intent_id = intent.id
    if state is Money.CAPTURED and intent is not None:
        row.captured_cents = intent.amount_received
        row.captured_at = now
    elif state is Money.RELEASED:
        row.released_at = now


async def _record_failure(ctx: PaymentContext, reservation_id: str, error: GatewayError) -> None:
    now = ctx.now()
    settings = ctx.settings
    async with ctx.runtime.db.session() as session:
        row = await reservations.get_for_writing(session, reservation_id)
        assert row is not None
        row.money_claimed_until = None
        row.money_attempts += 1
        row.money_last_error = str(error)[:500]
        row.updated_at = now
        if not error.transient or row.money_attempts >= settings.max_attempts:
            row.money_state = Money.REVIEW_REQUIRED.value
            row.money_next_at = None
            logger.error("reservation %s needs review: %s", reservation_id, error)
            return
        backoff = timedelta(seconds=settings.retry_base_seconds * 2 ** (row.money_attempts - 1))
        row.money_next_at = now + min(backoff, _MAX_BACKOFF)
        logger.warning(
            "reservation %s: %s; retrying at %s", reservation_id, error, row.money_next_at
        )
