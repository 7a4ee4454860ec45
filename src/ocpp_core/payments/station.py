"""What a new reservation needs to know of its station, read in one statement.

Payments/Create asked its questions one at a time (the charger, its connectors,
the reservation holding the connector, the connector's status, a running
transaction there, the driver's privilege): six round trips through the ORM
and the driver, most of what a paid session's Create cost the server.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.detached import Rows
from ocpp_core.db.models import ChargePoint, PaymentReservation
from ocpp_core.db.prepared import Prepared
from ocpp_core.domain import connectors, tariffs
from ocpp_core.domain import reservations as charger_reservations
from ocpp_core.domain.connectors import FIRST_CONNECTOR
from ocpp_core.payments import reservations


@dataclass(frozen=True, slots=True)
class Station:
    charge_point: ChargePoint
    has_connector: bool
    busy: str | None  # why the connector takes no session now, drivers' reservations aside
    privileged: bool  # the driver's tag charges for free here
    holder: PaymentReservation | None  # the reservation that holds the connector, unlocked


async def look(
    session: AsyncSession, *, charge_point_id: str, connector_id: int, tag_id: str, now: datetime
) -> Station | None:
    """The station as a driver starting on ``connector_id`` meets it; None if there is none.

    Its rows are read by the driver and tracked by no session (see db.detached): to look at.
    """
    values = {
        "charge_point_id": charge_point_id,
        "connector_id": connector_id,
        "tag_id": tag_id,
        "now": now,
    }
    found = await _CHARGE_POINTS.read(session, _query(_kind(connector_id)), values)
    if found is None:
        return None
    holding = reservations.ROWS.found(found.extra)
    holder = None if holding.read["id"] is None else holding.row  # the outer join found none
    known, connector_status, running, reserved, privileged = holding.extra
    busy = reservations.busy_of(connector_status, running=bool(running), reserved=bool(reserved))
    return Station(found.row, bool(known), busy, bool(privileged), holder)


_CHARGE_POINTS = Rows(ChargePoint)


def _kind(connector_id: int) -> int:
    """The number standing for ``connector_id``'s kind: below the first, the first, past it."""
    return min(max(connector_id, FIRST_CONNECTOR - 1), FIRST_CONNECTOR + 1)


@functools.cache
def _query(kind: int) -> Prepared:
    """The look at a connector, built once for each kind of number: building it cost more
    than running it, and a statement for each number built one for each new connector.

    Its shape depends on the kind (see :func:`connectors.is_known`); the number is a parameter.
    """
    return _CHARGE_POINTS.query(_select(kind))


def _select(kind: int) -> Select[ChargePoint, PaymentReservation, bool, str, bool, bool, bool]:
    here = ChargePoint.id
    number = bindparam("connector_id", type_=Integer)
    holds = and_(
        PaymentReservation.charge_point_id == here,
        PaymentReservation.connector_id == number,
        reservations.holding(),
    )
    return (
        select(
            ChargePoint,
            PaymentReservation,
            connectors.is_known(here, kind, number),
            reservations.connector_status(here, number),
            reservations.open_transaction(here, number),
            charger_reservations.holds(here, number, bindparam("now")),
            tariffs.charges_free(
                tag_id=bindparam("tag_id"), charge_point_id=here, now=bindparam("now")
            ),
        )
        .outerjoin(PaymentReservation, holds)  # one at most: the partial unique index
        .where(here == bindparam("charge_point_id"))
    )
