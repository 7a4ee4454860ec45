"""How a charger's answer to ReserveNow and CancelReservation leaves a reservation."""

from __future__ import annotations

import pytest

from ocpp_core.db.models import ACTIVE_CHARGER_RESERVATION_STATES
from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.reservations import ACTIVE, ReservationStatus, answered, cancelled


@pytest.mark.parametrize(
    ("result", "status"),
    [
        (CommandResult(Outcome.ANSWERED, "Accepted"), ReservationStatus.ACCEPTED),
        (CommandResult(Outcome.ANSWERED, "Occupied"), ReservationStatus.OCCUPIED),
        (CommandResult(Outcome.ANSWERED, "Faulted"), ReservationStatus.FAULTED),
        (CommandResult(Outcome.ANSWERED, "Unavailable"), ReservationStatus.UNAVAILABLE),
        (CommandResult(Outcome.ANSWERED, "Rejected"), ReservationStatus.REJECTED),
        # Words no version answers with hold nothing.
        (CommandResult(Outcome.ANSWERED, "Used"), ReservationStatus.REJECTED),
        (CommandResult(Outcome.ANSWERED, "Whatever"), ReservationStatus.REJECTED),
        (CommandResult(Outcome.ANSWERED, None), ReservationStatus.REJECTED),
        # Unanswered: the charger may hold it, so it holds until it expires.
        (CommandResult(Outcome.TIMEOUT), ReservationStatus.REQUESTED),
        (CommandResult(Outcome.OFFLINE), ReservationStatus.FAILED),
        (CommandResult(Outcome.UNREACHABLE), ReservationStatus.FAILED),
        (CommandResult(Outcome.REFUSED, error="NotSupported"), ReservationStatus.FAILED),
    ],
)
def test_the_answer_to_reserve_now(result: CommandResult, status: ReservationStatus) -> None:
    assert answered(result) is status


@pytest.mark.parametrize(
    ("result", "gone"),
    [
        (CommandResult(Outcome.ANSWERED, "Accepted"), True),
        (CommandResult(Outcome.ANSWERED, "Rejected"), True),  # it held no such reservation
        (CommandResult(Outcome.TIMEOUT), False),
        (CommandResult(Outcome.REFUSED, error="NotImplemented"), False),
    ],
)
def test_the_answer_to_cancel_reservation(result: CommandResult, gone: bool) -> None:
    assert cancelled(result) is gone


def test_the_database_index_knows_the_live_states() -> None:
    assert {s.value for s in ACTIVE} == set(ACTIVE_CHARGER_RESERVATION_STATES)
