"""The driver's view of a reservation: stage, live values, cost so far, the receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp_core.db.models import Connector, PaymentReservation, Transaction
from ocpp_core.domain import transactions
from ocpp_core.domain.pricing import settle
from ocpp_core.payments import reservations
from ocpp_core.payments.billing import tariff_of, usage_seconds
from ocpp_core.payments.context import PaymentContext
from ocpp_core.payments.review import METER_REVIEW
from ocpp_core.payments.states import START_PENDING, Money, Status, status_of

_ERROR = frozenset(
    {Status.CANCELLED, Status.FAILED, Status.START_REJECTED, Status.START_TIMEOUT, Status.ABANDONED}
)


def stage(row: PaymentReservation) -> str:
    status = status_of(row)
    if status in _ERROR:
        return "error"
    if status is Status.COMPLETED:
        return "done"
    if status is Status.WAITING_FOR_DISCONNECT:
        return "waitingForDisconnect"
    if status is Status.CHARGING:
        return "charging"
    # Started under the charger's reservation, a session still waits for the plug.
    if status in START_PENDING and row.awaiting_plug:
        return "awaitingPlug"
    return "waiting"


async def view(ctx: PaymentContext, reservation_id: str) -> dict[str, Any] | None:
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
        if row is None:
            return None
        connector = await session.get(Connector, (row.charge_point_id, row.connector_id))
        tx = await session.get(Transaction, row.transaction_id) if row.transaction_id else None
    return _describe(row, connector, tx, ctx.now())


def _describe(
    row: PaymentReservation, connector: Connector | None, tx: Transaction | None, now: datetime
) -> dict[str, Any]:
    energy = _session_energy(row, connector, tx)
    end = row.disconnected_at or now
    so_far = settle(tariff_of(row), energy_wh=energy or 0, usage_seconds=usage_seconds(row, end))
    # Energy under review has no price until an operator decides one.
    unpriced = row.free or (status_of(row) is Status.COMPLETED and energy is None)
    return {
        "reservationId": row.id,
        "status": row.status,
        "sessionStage": stage(row),
        "chargePointId": row.charge_point_id,
        "connectorId": row.connector_id,
        "free": row.free,
        "currency": row.currency,
        "maxAmountCents": row.hold_cents,
        "authorizedCents": row.authorized_cents,
        "maxEnergyWh": row.max_energy_wh,
        "prices": _prices(row),
        "awaitingPlug": row.awaiting_plug,
        "startDeadlineAt": row.start_deadline_at,
        "transactionId": row.transaction_id,
        "chargingStartedAt": row.charging_started_at,
        "stoppedAt": row.stopped_at,
        "disconnectedAt": row.disconnected_at,
        "live": _live(connector),
        "energyWh": energy,
        "costSoFarCents": None if unpriced else so_far.total_cents,
        "money": _money(row),
        "receipt": _receipt(row),
        "failureCode": row.failure_code,
        "failureMessage": row.failure_message,
        "paidLate": row.paid_late_at is not None,
    }


def _session_energy(
    row: PaymentReservation, connector: Connector | None, tx: Transaction | None
) -> int | None:
    if row.energy_wh is not None or status_of(row) is Status.COMPLETED:
        return row.energy_wh  # None when settled under review: the registers are not believed
    if tx is None:
        return None
    return transactions.energy_so_far(tx, connector.meter_wh if connector is not None else None)


def _prices(row: PaymentReservation) -> dict[str, Any]:
    return {
        "perKwhMillicents": row.price_kwh_millicents,
        "sessionFeeCents": row.session_fee_cents,
        "usageFeePerMinuteMillicents": row.usage_fee_minute_millicents,
        "usageGraceMinutes": row.usage_grace_minutes,
        "usageMaxMinutes": row.usage_max_minutes,
        "usageAfterCharging": row.usage_after_charging,
    }


def _live(connector: Connector | None) -> dict[str, Any] | None:
    if connector is None:
        return None
    return {
        "status": connector.status,
        "powerW": connector.power_w,
        "meterWh": connector.meter_wh,
        "socPercent": connector.soc_percent,
        "at": connector.meter_at,
    }


def _money(row: PaymentReservation) -> dict[str, Any]:
    """Where the driver's money stands, whatever the ending: held, captured, released."""
    held = row.authorized_cents or 0
    captured = row.captured_cents or 0
    settled = row.money_state in (Money.CAPTURED, Money.RELEASED)
    return {
        "state": row.money_state,
        "capturedCents": row.captured_cents,
        "releasedCents": held - captured if settled else None,
    }


def _receipt(row: PaymentReservation) -> dict[str, Any] | None:
    if status_of(row) is not Status.COMPLETED:
        return None
    money = _money(row)
    return {
        "energyWh": row.energy_wh,
        "energyCents": row.energy_cents,
        "usageMinutes": row.usage_minutes,
        "usageCents": row.usage_cents,
        "sessionFeeCents": row.session_fee_cents,
        "amountDueCents": row.amount_due_cents,
        "capturedCents": money["capturedCents"],
        "releasedCents": money["releasedCents"],
        "moneyState": money["state"],
        # The energy could not be believed: an operator sets the amount (at most the hold).
        "meterReview": row.failure_code == METER_REVIEW,
        "durationSeconds": _duration(row),
    }


def _duration(row: PaymentReservation) -> int | None:
    if row.charging_started_at is None or row.stopped_at is None:
        return None
    return int((row.stopped_at - row.charging_started_at).total_seconds())
