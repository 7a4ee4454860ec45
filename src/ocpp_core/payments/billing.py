"""What a reservation costs under its frozen tariff: pure functions of the row.

Kept apart from the flows, which need the server's runtime, so that whatever
shows a reservation's price (the driver's status, an operator's page) prices
it by exactly the settlement's rules.
"""

from __future__ import annotations

from datetime import datetime

from ocpp_core.config import PaymentSettings
from ocpp_core.db.models import PaymentReservation
from ocpp_core.domain.pricing import Settlement, Tariff, amount_to_capture


def tariff_of(row: PaymentReservation) -> Tariff:
    return Tariff(
        price_kwh_millicents=row.price_kwh_millicents,
        session_fee_cents=row.session_fee_cents,
        usage_fee_minute_millicents=row.usage_fee_minute_millicents,
        usage_grace_minutes=row.usage_grace_minutes,
        usage_max_minutes=row.usage_max_minutes,
        usage_after_charging=row.usage_after_charging,
        max_energy_wh=row.max_energy_wh,
        currency=row.currency,
        free=row.free,
    )


def usage_seconds(row: PaymentReservation, end: datetime) -> int:
    """Occupancy from the start, or idle time after charging, up to when the car left."""
    if not row.usage_after_charging:
        start = row.charging_started_at or end
        return max(0, int(((row.stopped_at or end) - start).total_seconds()))
    running = 0 if row.idle_since is None else int((end - row.idle_since).total_seconds())
    return row.idle_seconds + max(0, running)


def capture_amount(row: PaymentReservation, bill: Settlement, settings: PaymentSettings) -> int:
    """Cents to capture for ``bill``, never above the hold; 0: release it all."""
    if row.free:
        return 0
    return amount_to_capture(
        bill,
        authorized_cents=row.authorized_cents or 0,
        min_energy_wh=settings.min_session_energy_wh,
        min_charge_cents=settings.min_charge_cents,
    )
