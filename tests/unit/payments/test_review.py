"""What an operator is offered for a session under review: readings priced by the settlement."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders import NOW
from ocpp_core.config import PaymentSettings
from ocpp_core.db.models import PaymentReservation, Transaction
from ocpp_core.payments.review import (
    Alternative,
    Reading,
    alternatives,
    amount_problem,
    auto_release_at,
)

MAX_POWER_W = 22_000
SETTINGS = PaymentSettings(min_session_energy_wh=500, min_charge_cents=50)
HOLD = 900  # 0.40 EUR/kWh up to 20 kWh, 1.00 EUR per session


def reservation(**overrides: object) -> PaymentReservation:
    values: dict[str, object] = {
        "id": "r-1",
        "free": False,
        "price_kwh_millicents": 40_000,
        "session_fee_cents": 100,
        "usage_fee_minute_millicents": 0,
        "usage_grace_minutes": 0,
        "usage_max_minutes": 0,
        "usage_after_charging": False,
        "max_energy_wh": 20_000,
        "currency": "eur",
        "hold_cents": HOLD,
        "authorized_cents": HOLD,
        "created_at": NOW,
        "authorized_at": NOW + timedelta(minutes=1),
        "usage_minutes": 0,
        "usage_cents": 0,
        "money_state": "ReviewRequired",
        "failure_code": "MeterReview",
    }
    return PaymentReservation(**(values | overrides))


def transaction(start_wh: int, last_wh: int | None, stop_wh: int, hours: float = 1) -> Transaction:
    return Transaction(
        start_at=NOW,
        stop_at=NOW + timedelta(hours=hours),
        meter_start_wh=start_wh,
        last_meter_wh=last_wh,
        meter_stop_wh=stop_wh,
    )


def offered(row: PaymentReservation, tx: Transaction | None) -> list[Alternative]:
    return alternatives(row, tx, settings=SETTINGS, max_power_w=MAX_POWER_W)


def test_a_jump_offers_the_last_plausible_reading_the_fastest_charger_and_nothing() -> None:
    options = offered(reservation(), transaction(1_000, 6_000, 900_500))

    assert options == [
        Alternative(Reading.LAST_PLAUSIBLE, 5_000, 300),  # 5 kWh x 0.40 + 1.00
        # 22 kW for an hour is more than the 20 kWh the driver paid for: the hold.
        Alternative(Reading.MAX_POWER, 20_000, HOLD),
        Alternative(Reading.NOTHING, 0, 0),
    ]


def test_the_registers_are_offered_when_the_hold_covers_them() -> None:
    # A stop register below the last sample: both readings are plausible energies.
    options = offered(reservation(), transaction(1_000, 6_000, 5_000, hours=0.25))

    assert options == [
        Alternative(Reading.REGISTERS, 4_000, 260),
        Alternative(Reading.LAST_PLAUSIBLE, 5_000, 300),
        Alternative(Reading.MAX_POWER, 5_500, 320),  # 22 kW for 15 minutes
        Alternative(Reading.NOTHING, 0, 0),
    ]


def test_a_negative_start_register_offers_only_what_time_bounds() -> None:
    options = offered(reservation(), transaction(-1, None, 7_000, hours=0.1))

    assert options == [
        Alternative(Reading.MAX_POWER, 2_200, 188),
        Alternative(Reading.NOTHING, 0, 0),
    ]


def test_below_the_minimum_energy_nothing_can_be_captured() -> None:
    options = offered(reservation(), transaction(1_000, 1_400, 900_000))

    assert options[0] == Alternative(Reading.LAST_PLAUSIBLE, 400, 0)


def test_time_fees_stay_as_they_were_settled() -> None:
    row = reservation(
        usage_fee_minute_millicents=10_000,
        usage_max_minutes=30,
        usage_minutes=25,
        usage_cents=250,
        authorized_cents=1_200,
    )

    options = offered(row, transaction(1_000, 6_000, 900_500))

    assert options[0] == Alternative(Reading.LAST_PLAUSIBLE, 5_000, 550)
    assert options[1] == Alternative(Reading.MAX_POWER, 20_000, 1_150)


def test_no_transaction_offers_nothing_but_a_release() -> None:
    assert offered(reservation(), None) == [Alternative(Reading.NOTHING, 0, 0)]


@pytest.mark.parametrize(
    ("amount", "problem"),
    [(0, "AmountNotPositive"), (-1, "AmountNotPositive"), (HOLD + 1, "AmountAboveHold")],
)
def test_an_amount_outside_the_hold_is_named(amount: int, problem: str) -> None:
    assert amount_problem(reservation(), amount) == problem


@pytest.mark.parametrize("amount", [1, HOLD])
def test_any_amount_up_to_the_hold_may_be_captured(amount: int) -> None:
    assert amount_problem(reservation(), amount) is None


def test_an_undecided_meter_review_is_released_counted_from_the_authorization() -> None:
    settings = PaymentSettings(review_release_after_hours=96)

    assert auto_release_at(reservation(), settings) == NOW + timedelta(minutes=1, hours=96)
    assert auto_release_at(reservation(review_decided_at=NOW), settings) is None
    assert auto_release_at(reservation(failure_code=None), settings) is None  # a Stripe problem


def test_a_session_stopped_the_moment_it_started_offers_no_fastest_charger_reading() -> None:
    options = offered(reservation(), transaction(1_000, 6_000, 900_500, hours=0))

    assert options == [
        Alternative(Reading.LAST_PLAUSIBLE, 5_000, 300),
        Alternative(Reading.NOTHING, 0, 0),
    ]
