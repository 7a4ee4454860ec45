"""The reservation state machine (DESIGN.md section 3).

Transitions not in the table raise, so a bug can't quietly move money-bearing
state somewhere it should never go.
"""

from __future__ import annotations

from enum import StrEnum

from ocpp_core.db.models import ACTIVE_RESERVATION_STATES, PaymentReservation


class Status(StrEnum):
    PENDING_PAYMENT = "PendingPayment"
    AUTHORIZED = "Authorized"
    START_REQUESTED = "StartRequested"
    CHARGING = "Charging"
    WAITING_FOR_DISCONNECT = "WaitingForDisconnect"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"
    FAILED = "Failed"
    START_REJECTED = "StartRejected"
    START_TIMEOUT = "StartTimeout"
    ABANDONED = "Abandoned"


class Money(StrEnum):
    """The money action of a reservation, kept apart from its lifecycle status."""

    CAPTURE_PENDING = "CapturePending"
    RELEASE_PENDING = "ReleasePending"
    CAPTURED = "Captured"
    RELEASED = "Released"
    REVIEW_REQUIRED = "ReviewRequired"


ACTIVE = frozenset(Status(s) for s in ACTIVE_RESERVATION_STATES)
CANCELABLE = frozenset({Status.PENDING_PAYMENT, Status.AUTHORIZED, Status.START_REQUESTED})
TERMINAL = frozenset(Status) - ACTIVE
START_PENDING = frozenset({Status.AUTHORIZED, Status.START_REQUESTED})
MONEY_PENDING = frozenset({Money.CAPTURE_PENDING, Money.RELEASE_PENDING})
# A hold someone must still act on: a capture or release to retry, or a meter to review.
MONEY_UNSETTLED = MONEY_PENDING | {Money.REVIEW_REQUIRED}

_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING_PAYMENT: frozenset(
        {Status.AUTHORIZED, Status.CANCELLED, Status.ABANDONED, Status.FAILED}
    ),
    Status.AUTHORIZED: frozenset(
        {
            Status.START_REQUESTED,
            Status.CHARGING,
            Status.START_REJECTED,
            Status.START_TIMEOUT,
            Status.CANCELLED,
            Status.FAILED,
        }
    ),
    Status.START_REQUESTED: frozenset(
        {Status.CHARGING, Status.START_REJECTED, Status.START_TIMEOUT, Status.CANCELLED}
    ),
    Status.CHARGING: frozenset({Status.WAITING_FOR_DISCONNECT, Status.COMPLETED, Status.FAILED}),
    Status.WAITING_FOR_DISCONNECT: frozenset({Status.COMPLETED, Status.FAILED}),
}


class IllegalTransition(RuntimeError):
    pass


def status_of(row: PaymentReservation) -> Status:
    return Status(row.status)


def move(row: PaymentReservation, target: Status) -> None:
    current = status_of(row)
    if target not in _ALLOWED.get(current, frozenset()):
        raise IllegalTransition(f"reservation {row.id}: {current} -> {target} is not allowed")
    row.status = target.value
