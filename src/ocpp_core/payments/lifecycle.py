"""Following a reservation through the charger's events: plug, start, idle, stop, unplug.

These run in the charger's message loop (see :mod:`ocpp_core.domain.events`):
database work only; anything that sends a command to a charger is spawned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from ocpp_core.db.models import Connector, PaymentReservation, Transaction
from ocpp_core.domain import events, transactions
from ocpp_core.domain.command_errors import CommandError
from ocpp_core.domain.connector_status import ConnectorStatus
from ocpp_core.domain.pricing import settle
from ocpp_core.ocpp.router import execute
from ocpp_core.payments import holding, money, reservations, review, starting
from ocpp_core.payments.billing import capture_amount, tariff_of, usage_seconds
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.states import Status, move, status_of

DISCONNECT_REASONS = frozenset({"EVDisconnected", "EVDeparted"})
UNPLUG_BEFORE_STOP = timedelta(seconds=30)


async def on_event(ctx: PaymentContext, event: events.Event) -> None:
    match event:
        case events.ConnectorStatusChanged():
            await _status_changed(ctx, event)
        case events.TransactionStarted(accepted=True):
            await _link(ctx, event)
        case events.EnergyLimitReached():
            await _limit_reached(ctx, event)
        case events.TransactionStopped():
            await stopped(ctx, event.transaction_id, event.at, event.reason)


async def _status_changed(ctx: PaymentContext, event: events.ConnectorStatusChanged) -> None:
    if event.status == ConnectorStatus.PREPARING:
        await starting.plugged_in(ctx, event.charge_point_id, event.connector_id)
        return
    async with ctx.runtime.db.session() as session:
        row = await reservations.active_on(session, event.charge_point_id, event.connector_id)
        if row is None:
            return
        _track_idle(row, event.status, event.at)
        unplugged = (
            event.status == ConnectorStatus.AVAILABLE
            and status_of(row) is Status.WAITING_FOR_DISCONNECT
        )
        if unplugged:
            row.disconnected_at = event.at
            settle_now(ctx, row, await session.get(Transaction, row.transaction_id), event.at)
    if unplugged:
        ctx.spawn(money.perform(ctx, row.id), f"settle-{row.id}")


def _track_idle(row: PaymentReservation, status: str, at: datetime) -> None:
    """Idle time runs while the car sits there not charging (SuspendedEV)."""
    if status_of(row) is not Status.CHARGING:
        return
    if status == ConnectorStatus.SUSPENDED_EV and row.idle_since is None:
        row.idle_since = at
    elif status == ConnectorStatus.CHARGING and row.idle_since is not None:
        row.idle_seconds += max(0, int((at - row.idle_since).total_seconds()))
        row.idle_since = None


async def _link(ctx: PaymentContext, event: events.TransactionStarted) -> None:
    async with ctx.runtime.db.session() as session:
        row = await reservations.starting_for(
            session, event.charge_point_id, event.tag, event.remote_start_id
        )
        if row is None:
            return
        move(row, Status.CHARGING)
        row.transaction_id = event.transaction_id
        if event.connector_id >= 1:  # 0: the charger never said where; the reservation knows
            row.connector_id = event.connector_id
        row.charging_started_at = event.at
        row.awaiting_plug = False
        row.updated_at = ctx.now()
        await holding.used(session, row.id, event.transaction_id, now=row.updated_at)
        # The meter path stops the transaction at the reservation's cap (None: it has none).
        cap = update(Transaction).where(Transaction.id == event.transaction_id)
        await session.execute(cap.values(energy_limit_wh=row.max_energy_wh or None))


async def _limit_reached(ctx: PaymentContext, event: events.EnergyLimitReached) -> None:
    """Ask the charger to stop, once: the stop not answered yet is not asked again."""
    async with ctx.runtime.db.session() as session:
        row = await reservations.by_transaction(session, event.transaction_id)
        if row is None or status_of(row) is not Status.CHARGING:
            return
        if row.max_energy_stop_sent_at is not None:
            return
        row.max_energy_stop_sent_at = ctx.now()
    logger.info("reservation %s reached its %d Wh; stopping", row.id, row.max_energy_wh)
    ctx.spawn(_remote_stop(ctx, event.charge_point_id, event.transaction_id), f"cap-{row.id}")


async def _remote_stop(ctx: PaymentContext, charge_point_id: str, transaction_id: int) -> None:
    """Stop at the energy cap; if the charger refuses, the next reading asks again."""
    async with ctx.runtime.db.session() as session:
        command = await transactions.stop_command(session, transaction_id)
    try:
        result = await execute(ctx.runtime.router, charge_point_id, command)
    except CommandError as error:  # the charger's version can't say it
        logger.warning("stopping transaction %s failed: %s", transaction_id, error)
    else:
        if result.accepted:
            return
        logger.warning(
            "stopping transaction %s: %s", transaction_id, result.status or result.outcome
        )
    ask_again = (
        update(PaymentReservation)
        .where(
            PaymentReservation.transaction_id == transaction_id,
            PaymentReservation.status == Status.CHARGING.value,
        )
        .values(max_energy_stop_sent_at=None)
    )
    async with ctx.runtime.db.session() as session:
        await session.execute(ask_again)


async def stopped(ctx: PaymentContext, transaction_id: int, at: datetime, reason: str) -> None:
    """The transaction ended: settle now, or once the car leaves if an idle fee runs."""
    async with ctx.runtime.db.session() as session:
        row = await reservations.by_transaction(session, transaction_id)
        if row is None or status_of(row) is not Status.CHARGING:
            return
        row.stopped_at = at
        if row.idle_since is None:
            row.idle_since = at
        if reason in DISCONNECT_REASONS:
            row.disconnected_at = at
        elif row.disconnected_at is None:
            connector = await session.get(Connector, (row.charge_point_id, row.connector_id))
            # Chargers report Available before their StopTransaction: a moment before, or
            # long before when they end the transaction later (not on the EV's unplug).
            # An Available since charging began means the car left then; without a start
            # time, only one just before the stop can't be a stale one.
            not_before = row.charging_started_at or at - UNPLUG_BEFORE_STOP
            row.disconnected_at = available_since(connector, not_before)
        if row.disconnected_at is None and tariff_of(row).waits_for_unplug:
            move(row, Status.WAITING_FOR_DISCONNECT)
            row.updated_at = ctx.now()
            return
        settle_now(ctx, row, await session.get(Transaction, transaction_id), at)
    ctx.spawn(money.perform(ctx, row.id), f"settle-{row.id}")


def available_since(connector: Connector | None, not_before: datetime | None) -> datetime | None:
    """When the connector became Available, if it still is and became so after ``not_before``."""
    if (
        connector is None
        or connector.status != ConnectorStatus.AVAILABLE
        or connector.status_at is None
    ):
        return None
    if not_before is not None and connector.status_at < not_before:
        return None
    return connector.status_at


def settle_now(
    ctx: PaymentContext, row: PaymentReservation, tx: Transaction | None, at: datetime
) -> None:
    """Decide what the session costs and arm the capture (or the release).

    Energy under review is never billed blindly, nor given away: the hold is
    kept for an operator to decide (see :mod:`ocpp_core.payments.decisions`).
    """
    now = ctx.now()
    end = row.disconnected_at or at
    energy = tx.energy_wh if tx is not None else None
    bill = settle(tariff_of(row), energy_wh=energy or 0, usage_seconds=usage_seconds(row, end))
    row.usage_minutes = bill.usage_minutes
    row.usage_cents = bill.usage_cents
    move(row, Status.COMPLETED)
    row.updated_at = now
    if energy is None:
        _under_review(row, tx, now)
        return
    row.energy_wh = bill.energy_wh
    row.energy_cents = bill.energy_cents
    amount = capture_amount(row, bill, ctx.settings)
    row.amount_due_cents = amount
    if amount > 0:
        money.arm_capture(row, amount, now)
    else:
        money.arm_release(row, now)


def _under_review(row: PaymentReservation, tx: Transaction | None, now: datetime) -> None:
    row.failure_code = review.METER_REVIEW
    row.failure_message = ((tx.review_reason if tx else None) or "no transaction")[:500]
    if row.free or not row.authorized_cents:
        row.amount_due_cents = 0
        money.arm_release(row, now)  # nothing to decide: no card is held for this session
        return
    logger.warning(
        "reservation %s: energy under review (%s); the hold is kept for an operator's decision",
        row.id,
        row.failure_message,
    )
    money.keep_for_review(row, now)
