"""Unpaid reservations give way: to another driver after a brief hold, and to their own next start.

An unpaid reservation (PendingPayment) keeps other drivers off its connector
for ``payments.unpaid_hold_minutes`` only; then a driver ready to pay takes the
connector. And a driver holds one unpaid reservation at a time: their next
start replaces it. Either way the earlier Checkout Session is expired at Stripe
first, so it can no longer be paid, and only then does the earlier reservation
leave the active set, in the unit of work that inserts the new one. The partial
unique indexes decide every race, however many nodes run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import PaymentReservation
from ocpp_core.payments import money, reservations
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.reservations import Retire
from ocpp_core.payments.states import Status, move, status_of

TAKEN = "ConnectorTaken"
REPLACED = "Replaced"
CHECKOUT_EXPIRED = "CheckoutExpired"  # what the webhook of an expired session records


@dataclass(frozen=True, slots=True)
class GiveWay:
    """An unpaid reservation that ends so that a new one can be made."""

    reservation_id: str
    checkout_session_id: str | None
    code: str  # why, for the driver's page: ``ConnectorTaken`` or ``Replaced``
    message: str


@dataclass(frozen=True, slots=True)
class Way:
    """What a new reservation needs: others to give way, or a reason it can't be made now."""

    leaving: tuple[GiveWay, ...] = ()
    busy: str | None = None


async def plan(
    session: AsyncSession,
    here: PaymentReservation | None,
    busy: str | None,
    driver_key: str | None,
    cutoff: datetime,
) -> Way:
    """Who must give way to a new reservation by this driver on a connector.

    ``here`` holds the connector; ``busy`` says why it takes no session, reservations
    aside (see :mod:`.station`). Decided on a look, not under locks held on:
    :func:`retire` checks again where it acts.
    """
    mine = await reservations.unpaid_of(session, driver_key) if driver_key else None
    leaving = []
    if mine is not None:
        leaving.append(_leaving(mine, REPLACED, "replaced by the driver's new start"))
    if here is not None and here.id != (mine.id if mine else None):
        if not reservations.gives_way(here, cutoff):
            return Way(busy="ActiveReservation")
        message = "connector taken by another driver"
        leaving.append(_leaving(here, TAKEN, message))
    return Way(busy=busy) if busy else Way(tuple(leaving))


def _leaving(row: PaymentReservation, code: str, message: str) -> GiveWay:
    return GiveWay(row.id, row.checkout_session_id, code, message)


async def paid_before_closing(ctx: PaymentContext, leaving: GiveWay) -> str | None:
    """Expire the reservation's checkout; its id if the driver had paid it (then it stays).

    Raises :class:`GatewayError` when Stripe can't be asked: nothing has changed then.
    """
    if leaving.checkout_session_id is None or ctx.gateway is None:
        return None  # no checkout, nothing it could still be paid with
    checkout = await ctx.gateway.close_checkout(leaving.checkout_session_id, leaving.reservation_id)
    return checkout.id if checkout.status == "complete" else None


def retire(leaving: tuple[GiveWay, ...], now: datetime) -> Retire:
    """Ends the reservations whose checkout is closed, in the new reservation's unit of work."""

    async def run(session: AsyncSession) -> None:
        # Rows locked in one order everywhere, so two starts can't wait for each other.
        for gone in sorted(leaving, key=lambda g: g.reservation_id):
            row = await reservations.get(session, gone.reservation_id)
            if row is not None:
                _end(row, gone, now)

    return run


def _end(row: PaymentReservation, gone: GiveWay, now: datetime) -> None:
    """Abandoned, as any unpaid reservation that ends; ``gone.code`` says why."""
    if status_of(row) is Status.PENDING_PAYMENT:
        move(row, Status.ABANDONED)
        money.fail(row, gone.code, gone.message, now)
        logger.info("reservation %s gives way: %s", row.id, gone.message)
    elif status_of(row) is Status.ABANDONED and row.failure_code == CHECKOUT_EXPIRED:
        # The webhook of the expiry we just caused got here first: say why it expired.
        money.fail(row, gone.code, gone.message, now)
