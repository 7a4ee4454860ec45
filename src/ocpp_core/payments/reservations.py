"""Reservation rows: finding them, creating them, and whether a connector is free."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Exists,
    ScalarSelect,
    SQLColumnExpression,
    and_,
    bindparam,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db import dialect
from ocpp_core.db.detached import Rows
from ocpp_core.db.models import (
    ChargePoint,
    ChargerReservation,
    Connector,
    PaymentReservation,
    Transaction,
)
from ocpp_core.db.prepared import Prepared
from ocpp_core.db.session import Database
from ocpp_core.domain import reservations as charger_reservations
from ocpp_core.domain import transactions
from ocpp_core.domain.connector_status import STARTABLE, ConnectorStatus
from ocpp_core.payments.states import ACTIVE, START_PENDING, Status, status_of

MAX_ID_TAG = 20  # OCPP 1.6 IdToken is CiString20
# An operator reserved the connector for someone (see domain.reservations).
OPERATOR_RESERVATION = "OperatorReservation"


Retire = Callable[[AsyncSession], Awaitable[None]]


class ConnectorBusy(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_id_tag() -> str:
    """``R`` and 19 base32 characters: unguessable, and it fits OCPP 1.6's CiString20."""
    return "R" + base64.b32encode(secrets.token_bytes(15)).decode()[:19]


# The statements a paid session runs most are built once: building one (and its cache
# key) took SQLAlchemy longer than SQLite took to run it. Those of its steps run by
# the driver (see db.detached): SQLAlchemy's execution path cost more than the statements.
ROWS = Rows(PaymentReservation)
_BY_ID = select(PaymentReservation).where(PaymentReservation.id == bindparam("reservation_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
_READ_BY_ID = ROWS.query(_BY_ID)
_READ_BY_ID_LOCKED = ROWS.query(_BY_ID_LOCKED)
_SET_CHECKOUT = Prepared(
    lambda _: (
        update(PaymentReservation)
        .where(PaymentReservation.id == bindparam("reservation_id"))
        .values(
            checkout_session_id=bindparam("session_id"),
            checkout_url=bindparam("url"),
            updated_at=bindparam("now"),
        )
        .returning(PaymentReservation.status)
    )
)


async def get(
    session: AsyncSession, reservation_id: str, *, lock: bool = True
) -> PaymentReservation | None:
    query = _BY_ID_LOCKED if lock else _BY_ID
    return await session.scalar(query, {"reservation_id": reservation_id})


async def get_for_writing(session: AsyncSession, reservation_id: str) -> PaymentReservation | None:
    """The reservation, locked on SQLite too: what is read decides what is written, and
    another process on the same file must not read it in between (see
    :func:`dialect.lock_before_reading`)."""
    values = {"reservation_id": reservation_id}
    await dialect.lock_before_reading(session, _TOUCH, values)
    return await session.scalar(_BY_ID_LOCKED, values)


async def read(session: AsyncSession, reservation_id: str) -> PaymentReservation | None:
    """The reservation as it is, unlocked and tracked by no session: to look at, not to change."""
    found = await ROWS.read(session, _READ_BY_ID, {"reservation_id": reservation_id})
    return None if found is None else found.row


@asynccontextmanager
async def editing(
    session: AsyncSession, reservation_id: str
) -> AsyncIterator[PaymentReservation | None]:
    """The reservation, locked as :func:`get` locks it; what the block changes in it is
    written when the block ends cleanly (see db.detached)."""
    values = {"reservation_id": reservation_id}
    async with ROWS.editing(session, _READ_BY_ID_LOCKED, values) as found:
        yield None if found is None else found.row


async def set_checkout(
    session: AsyncSession, reservation_id: str, session_id: str, url: str | None, now: datetime
) -> Status:
    """Store the reservation's Checkout Session in one statement; the status it has now."""
    values = {"reservation_id": reservation_id, "session_id": session_id, "url": url, "now": now}
    ((status,),) = await _SET_CHECKOUT.fetch(session, values)
    return Status(status)


async def by_transaction(session: AsyncSession, transaction_id: int) -> PaymentReservation | None:
    query = select(PaymentReservation).where(PaymentReservation.transaction_id == transaction_id)
    return await session.scalar(query.with_for_update())


def holding(unpaid_cutoff: datetime | None = None) -> ColumnElement[bool]:
    """Reservations that hold their connector: the server starts nobody else there.

    With ``unpaid_cutoff``, as drivers see it: an unpaid reservation made before
    the cutoff gives way (see :func:`gives_way`) and no longer counts.
    """
    active = PaymentReservation.status.in_([s.value for s in ACTIVE])
    if unpaid_cutoff is None:
        return active
    in_its_hold = or_(
        PaymentReservation.status != Status.PENDING_PAYMENT.value,
        PaymentReservation.created_at > unpaid_cutoff,
    )
    return and_(active, in_its_hold)


async def active_on(
    session: AsyncSession, charge_point_id: str, connector_id: int, *, lock: bool = True
) -> PaymentReservation | None:
    query = select(PaymentReservation).where(
        PaymentReservation.charge_point_id == charge_point_id,
        PaymentReservation.connector_id == connector_id,
        holding(),
    )
    return await session.scalar(query.with_for_update() if lock else query)


async def starting_for(
    session: AsyncSession, charge_point_id: str, id_tag: str, remote_start_id: int | None
) -> PaymentReservation | None:
    """The reservation a started transaction belongs to, on any of its connectors.

    Its tag identifies it; so does the remote start id, where the charger echoes one.
    """
    identified = PaymentReservation.ocpp_id_tag == id_tag
    if remote_start_id is not None:
        identified = or_(identified, PaymentReservation.remote_start_id == remote_start_id)
    query = select(PaymentReservation).where(
        PaymentReservation.charge_point_id == charge_point_id,
        identified,
        PaymentReservation.status.in_([s.value for s in START_PENDING]),
    )
    return await session.scalar(query.with_for_update())


async def awaiting_plug(
    session: AsyncSession, charge_point_id: str
) -> Sequence[PaymentReservation]:
    query = select(PaymentReservation).where(
        PaymentReservation.charge_point_id == charge_point_id,
        PaymentReservation.status == Status.AUTHORIZED.value,
        PaymentReservation.awaiting_plug.is_(True),
        PaymentReservation.transaction_id.is_(None),
    )
    return (await session.scalars(query)).all()


async def plugged_connectors(session: AsyncSession, charge_point_id: str) -> Sequence[int]:
    """The station's connectors where a car is plugged in, waiting (``Preparing``)."""
    query = select(Connector.connector_id).where(
        Connector.charge_point_id == charge_point_id,
        Connector.status == ConnectorStatus.PREPARING,
    )
    return (await session.scalars(query)).all()


async def insert(db: Database, row: PaymentReservation, *, first: Retire | None = None) -> None:
    """Insert in a unit of work of its own, letting the database decide a race for the connector.

    ``first`` ends, in the same unit of work, the reservations that give way to
    this one: the connector passes from one to the other in one commit or not at all.
    """
    try:
        async with db.session() as session:
            if first is not None:
                await first(session)
                await session.flush()  # out of the unique indexes before the new row goes in
            session.add(row)
    except IntegrityError:
        raise ConnectorBusy("ActiveReservation") from None


def unpaid_cutoff(now: datetime, hold_minutes: int) -> datetime:
    """Unpaid reservations created before this no longer keep other drivers off."""
    return now - timedelta(minutes=hold_minutes)


def gives_way(row: PaymentReservation, cutoff: datetime) -> bool:
    """An unpaid reservation past its brief hold: a driver ready to pay may take the connector."""
    return status_of(row) is Status.PENDING_PAYMENT and row.created_at <= cutoff


async def unpaid_of(session: AsyncSession, driver_key: str) -> PaymentReservation | None:
    """The driver's one unpaid reservation, if any (a unique index allows no second)."""
    query = select(PaymentReservation).where(
        PaymentReservation.driver_key == driver_key,
        PaymentReservation.status == Status.PENDING_PAYMENT.value,
    )
    return await session.scalar(query)


async def busy_reason(
    session: AsyncSession, charge_point_id: str, connector_id: int, *, ignore: str | None = None
) -> str | None:
    """Why a session can't start on this connector now, or None."""
    if busy := await connector_busy(session, charge_point_id, connector_id):
        return busy
    other = await active_on(session, charge_point_id, connector_id)
    if other is not None and other.id != ignore:
        return "ActiveReservation"
    return None


async def connector_busy(
    session: AsyncSession, charge_point_id: str, connector_id: int
) -> str | None:
    """Why the connector takes no session now, reservations aside; or None."""
    query = select(
        connector_status(charge_point_id, connector_id),
        open_transaction(charge_point_id, connector_id),
        charger_reservations.holds(charge_point_id, connector_id),
    )
    status, running, reserved = (await session.execute(query)).one()
    return busy_of(status, running=bool(running), reserved=bool(reserved))


@dataclass(frozen=True, slots=True)
class ChargerHold:
    """The charger's own reservation of the connector for a paid session (see payments.holding)."""

    reservation_id: int  # the OCPP reservation id
    status: str  # as domain.reservations.ReservationStatus says it
    touched_at: datetime  # its ReserveNow was last claimed or answered then


@dataclass(frozen=True, slots=True)
class AtConnector:
    """What a start checks: the locked reservation, its connector and the charger's hold."""

    row: PaymentReservation
    connector_status: str | None  # None: the connector never said
    running: bool  # a transaction runs there
    hold: ChargerHold | None
    reservable: bool | None  # the charger takes reservations; None: not asked yet


@asynccontextmanager
async def at_connector(
    session: AsyncSession, reservation_id: str
) -> AsyncIterator[AtConnector | None]:
    """The reservation, locked, with its connector's status, whether a transaction runs
    there and the charger's hold on it; what the block changes in the reservation is
    written when it ends cleanly.

    One statement for what a start checks (five before), locked on SQLite too:
    what is read here decides whether a RemoteStart goes out, so two nodes must
    not both read it before either writes. No other reservation can hold the
    connector: this one is active there, and the partial unique index allows one.
    """
    values = {"reservation_id": reservation_id}
    await dialect.lock_before_reading(session, _TOUCH, values)
    async with ROWS.editing(session, _AT_CONNECTOR, values) as found:
        if found is None:
            yield None
            return
        status, running, hold_id, hold_status, touched_at, reservable = found.extra
        hold = None if hold_id is None else ChargerHold(hold_id, hold_status, touched_at)
        yield AtConnector(found.row, status, bool(running), hold, reservable)


def busy_of(status: str | None, *, running: bool, reserved: bool = False) -> str | None:
    """Why a connector in this status (None: it never said), with or without a running
    transaction or an operator's reservation, takes no session; None if it takes one."""
    if status is not None and status not in STARTABLE:
        return f"Status:{status}"
    if running:
        return "OpenTransaction"
    return OPERATOR_RESERVATION if reserved else None


def connector_status(
    charge_point_id: str | SQLColumnExpression[str], connector_id: int | SQLColumnExpression[int]
) -> ScalarSelect[str]:
    """The connector's last reported status, as a column of a larger query."""
    return (
        select(Connector.status)
        .where(Connector.charge_point_id == charge_point_id, Connector.connector_id == connector_id)
        .scalar_subquery()
    )


def open_transaction(
    charge_point_id: str | SQLColumnExpression[str], connector_id: int | SQLColumnExpression[int]
) -> Exists:
    """A running transaction holds the connector (see :func:`transactions.holding`)."""
    return exists().where(
        Transaction.charge_point_id == charge_point_id,
        Transaction.connector_id == connector_id,
        transactions.holding(),
    )


_TOUCH = Prepared(
    lambda _: (
        update(PaymentReservation)
        .where(PaymentReservation.id == bindparam("reservation_id"))
        .values(status=PaymentReservation.status)
    )
)


def _hold(column: SQLColumnExpression[Any]) -> ScalarSelect[Any]:
    """A column of the reservation's hold (one at most: a unique index), in a larger query."""
    return (
        select(column)
        .where(ChargerReservation.payment_reservation_id == PaymentReservation.id)
        .scalar_subquery()
    )


_AT_CONNECTOR = ROWS.query(
    select(
        PaymentReservation,
        connector_status(PaymentReservation.charge_point_id, PaymentReservation.connector_id),
        open_transaction(PaymentReservation.charge_point_id, PaymentReservation.connector_id),
        _hold(ChargerReservation.id),
        _hold(ChargerReservation.status),
        _hold(ChargerReservation.updated_at),
        select(ChargePoint.reservations_supported)
        .where(ChargePoint.id == PaymentReservation.charge_point_id)
        .scalar_subquery(),
    )
    .where(PaymentReservation.id == bindparam("reservation_id"))
    .with_for_update(of=PaymentReservation)
)
