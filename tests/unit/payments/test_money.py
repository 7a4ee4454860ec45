"""Money that has moved stays as it moved: nothing armed afterwards moves it again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders import NOW
from ocpp_core.db.models import PaymentReservation
from ocpp_core.payments import money
from ocpp_core.payments.states import Money


def settled(state: Money) -> PaymentReservation:
    return PaymentReservation(
        id="r-1",
        checkout_session_id="cs_1",
        payment_intent_id="pi_1",
        money_state=state.value,
        money_attempts=3,
        money_next_at=None,
        amount_due_cents=600,
    )


@pytest.mark.parametrize("state", [Money.CAPTURED, Money.RELEASED])
def test_a_capture_or_release_armed_after_the_money_moved_changes_nothing(state: Money) -> None:
    row = settled(state)
    later = NOW + timedelta(hours=1)

    money.arm_release(row, later)
    money.arm_capture(row, 600, later)

    assert (row.money_state, row.money_attempts, row.money_next_at) == (state.value, 3, None)


def test_a_hold_never_taken_is_not_released() -> None:
    row = PaymentReservation(id="r-2", money_state=None, money_next_at=None)

    money.arm_release(row, NOW)

    assert (row.money_state, row.money_next_at) == (None, None)


def test_a_capture_is_armed_for_now() -> None:
    row = settled(Money.REVIEW_REQUIRED)

    money.arm_capture(row, 450, NOW)

    assert (row.money_state, row.money_attempts, row.money_next_at, row.amount_due_cents) == (
        Money.CAPTURE_PENDING.value,
        0,
        NOW,
        450,
    )
