"""Background sweeps: every path that can stall ends, even across restarts.

Each sweep selects its rows by state and time from the database, so running it
twice, on two nodes, or after a crash does nothing a single run would not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.locks import exclusive
from ocpp_core.db.models import Connector, PaymentReservation, Transaction
from ocpp_core.domain import transactions
from ocpp_core.payments import (
    billing,
    decisions,
    holding,
    lifecycle,
    money,
    reservations,
    starting,
)
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.states import MONEY_PENDING, START_PENDING, Status, move, status_of

STOP_REASON_RECOVERED = "ConnectorAvailableWithoutStop"
UNPAID = frozenset({Status.PENDING_PAYMENT})


async def run_forever(ctx: PaymentContext) -> None:
    while True:
        try:
            async with exclusive(ctx.runtime.db, "payment-sweeps") as mine:
                if mine:
                    await sweep_once(ctx)
        except DatabaseUnavailable:
            pass  # the database's health says so; the next round tries again
        except Exception:
            logger.exception("payment sweep failed; trying again next round")
        await asyncio.sleep(ctx.settings.sweep_interval_seconds)


async def sweep_once(ctx: PaymentContext) -> None:
    await abandon_unpaid(ctx)
    await time_out_starts(ctx)
    await holding.release(ctx)
    await retry_starts(ctx)
    await recover_unplugged(ctx)
    await finish_waiting(ctx)
    await retry_money(ctx)
    await release_undecided_reviews(ctx)


async def _ids(ctx: PaymentContext, *conditions: ColumnElement[bool]) -> Sequence[str]:
    async with ctx.runtime.db.session() as session:
        result = await session.scalars(select(PaymentReservation.id).where(*conditions))
        return result.all()


async def abandon_unpaid(ctx: PaymentContext) -> None:
    cutoff = ctx.now() - timedelta(minutes=ctx.settings.pending_payment_timeout_minutes)
    for reservation_id in await _ids(
        ctx,
        PaymentReservation.status == Status.PENDING_PAYMENT.value,
        PaymentReservation.created_at < cutoff,
    ):
        await _end(ctx, reservation_id, UNPAID, Status.ABANDONED, "NotPaid", "not paid in time")


async def time_out_starts(ctx: PaymentContext) -> None:
    for reservation_id in await _ids(
        ctx,
        PaymentReservation.status.in_([Status.AUTHORIZED.value, Status.START_REQUESTED.value]),
        PaymentReservation.transaction_id.is_(None),
        PaymentReservation.start_deadline_at <= ctx.now(),
    ):
        await _end(
            ctx,
            reservation_id,
            START_PENDING,
            Status.START_TIMEOUT,
            "StartTimeout",
            "no start in time",
        )


async def _end(
    ctx: PaymentContext,
    reservation_id: str,
    sources: frozenset[Status],
    target: Status,
    code: str,
    message: str,
) -> None:
    async with ctx.lock(reservation_id), ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        # Paid, started or cancelled since it was selected: no longer this sweep's to end.
        if row is None or row.transaction_id is not None or status_of(row) not in sources:
            return
        move(row, target)
        money.fail(row, code, message, ctx.now())
    await money.perform(ctx, reservation_id)
    await holding.release(ctx, reservation_id)


async def retry_starts(ctx: PaymentContext) -> None:
    """Remote starts that timed out or found the charger offline, and starts a restart missed."""
    for reservation_id in await _ids(
        ctx,
        PaymentReservation.status == Status.AUTHORIZED.value,
        PaymentReservation.start_deadline_at > ctx.now(),
    ):
        await starting.try_start(ctx, reservation_id)


async def recover_unplugged(ctx: PaymentContext) -> None:
    """Available for a while with the transaction still open: the StopTransaction was lost."""
    grace = timedelta(seconds=ctx.settings.disconnect_grace_seconds)
    for reservation_id in await _ids(ctx, PaymentReservation.status == Status.CHARGING.value):
        await _recover(ctx, reservation_id, ctx.now() - grace)


async def _recover(ctx: PaymentContext, reservation_id: str, cutoff: datetime) -> None:
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None or row.transaction_id is None:
            return
        tx = await session.get(Transaction, row.transaction_id)
        if tx is None:
            return
        if tx.stop_at is None:
            connector = await session.get(Connector, (row.charge_point_id, row.connector_id))
            available_at = lifecycle.available_since(connector, row.charging_started_at)
            if available_at is None or available_at > cutoff:
                return
            await _close(session, tx, available_at, ctx.runtime.settings.ocpp.max_charger_power_w)
            row.disconnected_at = available_at
        assert tx.stop_at is not None
        stop, reason, transaction_id = tx.stop_at, tx.stop_reason or STOP_REASON_RECOVERED, tx.id
    logger.warning(
        "reservation %s: transaction %s ended (%s)", reservation_id, transaction_id, reason
    )
    await lifecycle.stopped(ctx, transaction_id, stop, reason)


async def _close(session: AsyncSession, tx: Transaction, at: datetime, max_power_w: int) -> None:
    end = transactions.TransactionStop(
        charge_point_id=tx.charge_point_id,
        transaction_id=tx.id,
        tag=None,
        stopped_at=at,
        meter_stop_wh=None,  # the charger never said: the newest register seen
        reason=STOP_REASON_RECOVERED,
    )
    await transactions.close(session, tx, end, max_power_w=max_power_w)


async def finish_waiting(ctx: PaymentContext) -> None:
    """Settle sessions whose car left unseen, or whose idle fee can't grow any more."""
    for reservation_id in await _ids(
        ctx, PaymentReservation.status == Status.WAITING_FOR_DISCONNECT.value
    ):
        await _finish(ctx, reservation_id)


async def _finish(ctx: PaymentContext, reservation_id: str) -> None:
    now = ctx.now()
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None or status_of(row) is not Status.WAITING_FOR_DISCONNECT:
            return
        connector = await session.get(Connector, (row.charge_point_id, row.connector_id))
        unplugged_at = lifecycle.available_since(connector, row.stopped_at)
        if unplugged_at is not None:
            row.disconnected_at = unplugged_at
        elif not _idle_fee_capped(row, now):
            return
        lifecycle.settle_now(ctx, row, await session.get(Transaction, row.transaction_id), now)
    await money.perform(ctx, reservation_id)


def _idle_fee_capped(row: PaymentReservation, now: datetime) -> bool:
    """Past grace + cap the fee no longer grows, so waiting for the unplug gains nothing."""
    billable = (row.usage_grace_minutes + row.usage_max_minutes) * 60
    return billing.usage_seconds(row, now) >= billable


async def retry_money(ctx: PaymentContext) -> None:
    for reservation_id in await _ids(
        ctx,
        PaymentReservation.money_state.in_([m.value for m in MONEY_PENDING]),
        PaymentReservation.money_next_at <= ctx.now(),
    ):
        await money.perform(ctx, reservation_id)


async def release_undecided_reviews(ctx: PaymentContext) -> None:
    """Meter reviews nobody decided, released well before Stripe drops the authorization.

    Counted from the authorization, Stripe's clock, not from when the review began.
    """
    cutoff = ctx.now() - timedelta(hours=ctx.settings.review_release_after_hours)
    held_since = func.coalesce(PaymentReservation.authorized_at, PaymentReservation.created_at)
    for reservation_id in await _ids(ctx, *decisions.UNDECIDED_METER_REVIEW, held_since <= cutoff):
        await decisions.auto_release(ctx, reservation_id)
