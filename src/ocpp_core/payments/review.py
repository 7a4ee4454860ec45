"""A reservation under review: what an operator is shown and may decide.

Pure functions of the stored rows, shared by the server, which acts, and the
management pages, which show: each plausible reading is priced with the
settlement's own rules (``settle`` and ``amount_to_capture``), so none is
ever above the hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ocpp_core.config import PaymentSettings
from ocpp_core.db.models import PaymentReservation, Transaction
from ocpp_core.domain.pricing import Settlement, settle
from ocpp_core.payments.billing import capture_amount, tariff_of
from ocpp_core.payments.states import Money

# The failure code of a session whose energy no charger could have delivered.
METER_REVIEW = "MeterReview"


class Decision(StrEnum):
    CAPTURE = "Capture"
    RELEASE = "Release"
    AUTO_RELEASE = "AutoRelease"  # nobody decided in time: the sweep released the hold


class Reading(StrEnum):
    """Where an alternative's energy comes from."""

    LAST_PLAUSIBLE = "lastPlausible"  # up to the last reading that passed the checks
    REGISTERS = "registers"  # the stop register less the start register, as sent
    MAX_POWER = "maxPower"  # the fastest plausible charger, for the whole session
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class Alternative:
    reading: Reading
    energy_wh: int
    amount_cents: int  # 0: nothing can be captured for it, the hold is released


def amount_problem(row: PaymentReservation, amount_cents: int) -> str | None:
    """Why an operator may not capture this amount, or None."""
    if amount_cents <= 0:
        return "AmountNotPositive"
    if amount_cents > (row.authorized_cents or 0):
        return "AmountAboveHold"
    return None


def awaits_meter_decision(row: PaymentReservation) -> bool:
    """A meter review nobody has decided yet: the auto-release's to take if it lasts."""
    return (
        row.money_state == Money.REVIEW_REQUIRED
        and row.failure_code == METER_REVIEW
        and row.review_decided_at is None
    )


def authorized_since(row: PaymentReservation) -> datetime:
    """When the card hold began: Stripe's authorization clock runs from there."""
    return row.authorized_at or row.created_at


def auto_release_at(row: PaymentReservation, settings: PaymentSettings) -> datetime | None:
    if not awaits_meter_decision(row):
        return None
    return authorized_since(row) + timedelta(hours=settings.review_release_after_hours)


def alternatives(
    row: PaymentReservation,
    tx: Transaction | None,
    *,
    settings: PaymentSettings,
    max_power_w: int,
) -> list[Alternative]:
    """The amounts a careful operator would consider, largest energy last, then nothing."""
    found: dict[int, Alternative] = {}
    for reading, energy in _energies(row, tx, max_power_w):
        bill = _bill(row, energy)
        if reading is Reading.REGISTERS and bill.total_cents > (row.authorized_cents or 0):
            continue  # more than the hold covers: not a reading anyone could bill
        found.setdefault(energy, Alternative(reading, energy, capture_amount(row, bill, settings)))
    options = sorted(found.values(), key=lambda option: option.energy_wh)
    return [*options, Alternative(Reading.NOTHING, 0, 0)]


def _energies(
    row: PaymentReservation, tx: Transaction | None, max_power_w: int
) -> list[tuple[Reading, int]]:
    if tx is None:
        return []
    energies = []
    start = tx.meter_start_wh
    if start >= 0 and tx.last_meter_wh is not None and tx.last_meter_wh > start:
        energies.append((Reading.LAST_PLAUSIBLE, tx.last_meter_wh - start))
    if start >= 0 and tx.meter_stop_wh is not None and tx.meter_stop_wh > start:
        energies.append((Reading.REGISTERS, tx.meter_stop_wh - start))
    if tx.stop_at is not None and tx.stop_at > tx.start_at:
        seconds = (tx.stop_at - tx.start_at) // timedelta(seconds=1)
        most = max_power_w * seconds // 3600
        energies.append((Reading.MAX_POWER, min(most, row.max_energy_wh or most)))
    return energies


def _bill(row: PaymentReservation, energy_wh: int) -> Settlement:
    """The session's bill had the meter read ``energy_wh``; the time fees stay as settled."""
    bill = settle(tariff_of(row), energy_wh=energy_wh, usage_seconds=0)
    return replace(bill, usage_minutes=row.usage_minutes or 0, usage_cents=row.usage_cents or 0)
