"""The reservation state machine refuses a move its table does not allow."""

from __future__ import annotations

import pytest

from ocpp_core.db.models import PaymentReservation
from ocpp_core.payments.states import IllegalTransition, Status, move


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.COMPLETED, Status.CHARGING),  # a settled session can't charge again
        (Status.CANCELLED, Status.AUTHORIZED),  # nor a cancelled one be paid into life
        (Status.PENDING_PAYMENT, Status.CHARGING),  # nor an unpaid one charge
    ],
)
def test_a_move_outside_the_table_raises_and_leaves_the_status(
    current: Status, target: Status
) -> None:
    row = PaymentReservation(id="r-1", status=current.value)

    with pytest.raises(IllegalTransition, match=f"r-1: {current} -> {target}"):
        move(row, target)

    assert row.status == current.value


def test_a_move_in_the_table_changes_the_status() -> None:
    row = PaymentReservation(id="r-1", status=Status.AUTHORIZED.value)

    move(row, Status.START_REQUESTED)

    assert row.status == Status.START_REQUESTED.value
