"""Deciding a reservation under review: capture an amount, or release the hold, once.

A decision is claimed by a conditional UPDATE (the money is still
``ReviewRequired``), the first statement of its unit of work: PostgreSQL
re-checks the condition once a concurrent claim has committed, and SQLite
runs it only once it holds the write lock, so of two operators, two nodes, or
an operator and the auto-release acting at the same moment, exactly one wins
and the others find the reservation decided. The winner arms the capture or
the release in the same unit of work; :func:`money.perform` then carries it
out under the usual idempotency keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, update

from ocpp_core.db.models import PaymentReservation
from ocpp_core.payments import money, reservations
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.flows import Answer
from ocpp_core.payments.review import METER_REVIEW, Decision, amount_problem
from ocpp_core.payments.states import Money

_UNDER_REVIEW = PaymentReservation.money_state == Money.REVIEW_REQUIRED.value
# A meter review nobody decided; one decided whose Stripe call failed is a person's again.
UNDECIDED_METER_REVIEW = (
    _UNDER_REVIEW,
    PaymentReservation.failure_code == METER_REVIEW,
    PaymentReservation.review_decided_at.is_(None),
)


@dataclass(frozen=True, slots=True)
class Request:
    reservation_id: str
    decision: Decision
    amount_cents: int | None = None
    decided_by: str | None = None


async def decide(ctx: PaymentContext, request: Request) -> Answer:
    """An operator's decision: carried out at once, or refused with the reason."""
    async with ctx.runtime.db.reading() as session:
        row = await session.get(PaymentReservation, request.reservation_id)
        refusal = _refusal(row, request)
    if refusal is not None:
        return refusal
    if not await _claim(ctx, request, _UNDER_REVIEW):
        return Answer(409, {"status": "AlreadyDecided"})
    logger.info(
        "reservation %s: review decided by %s: %s %s",
        request.reservation_id,
        request.decided_by,
        request.decision.value,
        "" if request.amount_cents is None else f"{request.amount_cents} cents",
    )
    await money.perform(ctx, request.reservation_id)
    return await _outcome(ctx, request.reservation_id)


def _refusal(row: PaymentReservation | None, request: Request) -> Answer | None:
    if row is None:
        return Answer(404, {"status": "NotFound"})
    if row.money_state != Money.REVIEW_REQUIRED:
        return Answer(409, {"status": "NotUnderReview", "moneyState": row.money_state})
    if request.decision is not Decision.CAPTURE:
        return None
    if request.amount_cents is None:
        return Answer(400, {"status": "AmountRequired"})
    problem = amount_problem(row, request.amount_cents)
    if problem is not None:
        return Answer(400, {"status": problem, "authorizedCents": row.authorized_cents})
    return None


async def _claim(ctx: PaymentContext, request: Request, *conditions: ColumnElement[bool]) -> bool:
    """Record the decision and arm its money action, if no one decided first."""
    now = ctx.now()
    async with ctx.runtime.db.session() as session:
        claimed = await session.execute(
            update(PaymentReservation)
            .where(PaymentReservation.id == request.reservation_id, *conditions)
            .values(
                review_decision=request.decision.value,
                review_amount_cents=request.amount_cents,
                review_decided_by=request.decided_by,
                review_decided_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], claimed).rowcount != 1:
            return False
        row = await reservations.get(session, request.reservation_id)
        assert row is not None
        if request.decision is Decision.CAPTURE:
            assert request.amount_cents is not None
            money.arm_capture(row, request.amount_cents, now)
        else:
            row.amount_due_cents = 0
            money.arm_release(row, now)
    return True


async def _outcome(ctx: PaymentContext, reservation_id: str) -> Answer:
    async with ctx.runtime.db.reading() as session:
        row = await session.get(PaymentReservation, reservation_id)
        assert row is not None
        body = {
            "status": row.money_state,
            "capturedCents": row.captured_cents,
            "error": row.money_last_error,
        }
    return Answer(200, body)


async def auto_release(ctx: PaymentContext, reservation_id: str) -> bool:
    """Release a meter review nobody decided; False if someone decided in the meantime."""
    request = Request(reservation_id, Decision.AUTO_RELEASE)
    if not await _claim(ctx, request, *UNDECIDED_METER_REVIEW):
        return False
    logger.warning(
        "reservation %s: meter review undecided %d hours after the card hold; hold released",
        reservation_id,
        ctx.settings.review_release_after_hours,
    )
    await money.perform(ctx, reservation_id)
    return True
