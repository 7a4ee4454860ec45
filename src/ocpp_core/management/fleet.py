"""The dashboard's SQL: the fleet's totals and one page of tiles, whatever the fleet's size.

A tile is one connector, or a charge point that reported none. What the
filters pick (offline, faulted, charging, reserved) is the rule the tiles show
(see :mod:`.tiles`), written as SQL, so the database counts and pages them and
a page costs the same at 20 or 20,000 charge points. Whether a charger is
online is the presence every server node writes (see domain.presence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargePoint, Connector, PaymentReservation, Transaction
from ocpp_core.domain import reporting, transactions
from ocpp_core.domain.connector_status import CHARGING, ConnectorStatus
from ocpp_core.domain.presence import online
from ocpp_core.management.numbers import money, thousandths
from ocpp_core.management.tiles import Row, Snapshot
from ocpp_core.payments import reservations

FILTERS = ("offline", "faulted", "charging", "reserved")
PAGE_SIZE = 48
MAX_SEARCH = 100  # a charge point's id or name is at most this long


@dataclass(frozen=True, slots=True)
class Totals:
    stations: int
    online: int
    charging: int  # connectors
    faulted: int
    reserved: int
    energy_wh: int  # of the sessions started today (UTC), as the reports count them
    revenue_cents: tuple[tuple[str, int], ...]  # per currency

    @property
    def offline(self) -> int:
        return self.stations - self.online

    @property
    def energy_kwh(self) -> str:
        return thousandths(self.energy_wh, 1)

    @property
    def revenue(self) -> tuple[str, ...]:
        return tuple(money(cents, currency) for currency, cents in self.revenue_cents)


@dataclass(frozen=True, slots=True)
class TileQuery:
    """Which tiles a page shows: a filter, a search, and the key the page starts after."""

    show: str = ""  # "" (every tile) or one of FILTERS
    search: str = ""
    after: tuple[str, int] | None = None


def conditions(unpaid_cutoff: datetime) -> Mapping[str, ColumnElement[bool]]:
    """Each filter as a condition on a connector joined with its charge point."""
    up = online()
    return {
        "offline": ~up,
        "faulted": and_(up, Connector.status == ConnectorStatus.FAULTED),
        "charging": and_(up, Connector.status.in_(CHARGING)),
        "reserved": and_(
            up, or_(Connector.status == ConnectorStatus.RESERVED, _held(unpaid_cutoff))
        ),
    }


def _free() -> ColumnElement[bool]:
    return or_(Connector.status.is_(None), Connector.status == ConnectorStatus.AVAILABLE)


def _held(unpaid_cutoff: datetime) -> ColumnElement[bool]:
    """A free connector a driver's reservation holds, with no session running on it.

    Few reservations hold a connector: the database finds them once and hashes
    them, instead of looking for reservations and sessions connector by connector
    (which PostgreSQL also estimates so dear that it compiles the query first).
    """
    keys = _held_keys(unpaid_cutoff)
    return and_(_free(), tuple_(Connector.charge_point_id, Connector.connector_id).in_(keys))


def _held_keys(unpaid_cutoff: datetime) -> Select[str, int]:
    running_there = exists().where(
        Transaction.charge_point_id == PaymentReservation.charge_point_id,
        Transaction.connector_id == PaymentReservation.connector_id,
        transactions.running(),
    )
    return select(PaymentReservation.charge_point_id, PaymentReservation.connector_id).where(
        reservations.holding(unpaid_cutoff), ~running_there
    )


async def totals(session: AsyncSession, unpaid_cutoff: datetime, now: datetime) -> Totals:
    stations = await session.scalar(select(func.count()).select_from(ChargePoint))
    up = await session.scalar(select(func.count()).select_from(ChargePoint).where(online()))
    # The online charge points from their partial index: no scan of their wide rows.
    on_line = Connector.charge_point_id.in_(select(ChargePoint.id).where(online()))
    by_status = await _by_status(session, on_line)
    held = await _held_free(session, on_line, unpaid_cutoff)
    day = await reporting.period_total(session, _today(now))
    return Totals(
        stations or 0,
        up or 0,
        sum(by_status.get(status, 0) for status in CHARGING),
        by_status.get(ConnectorStatus.FAULTED, 0),
        by_status.get(ConnectorStatus.RESERVED, 0) + held,
        day.energy_wh,
        tuple(sorted(day.revenue_cents.items())),
    )


async def _by_status(session: AsyncSession, on_line: ColumnElement[bool]) -> dict[str | None, int]:
    counted = await session.execute(
        select(Connector.status, func.count()).where(on_line).group_by(Connector.status)
    )
    return {status: int(count) for status, count in counted}


async def _held_free(
    session: AsyncSession, on_line: ColumnElement[bool], unpaid_cutoff: datetime
) -> int:
    """Free online connectors a reservation holds, joined from the few reservations."""
    held = _held_keys(unpaid_cutoff).subquery()
    same = and_(
        Connector.charge_point_id == held.c.charge_point_id,
        Connector.connector_id == held.c.connector_id,
    )
    counted = await session.scalar(
        select(func.count()).select_from(held).join(Connector, same).where(on_line, _free())
    )
    return counted or 0


def _today(now: datetime) -> reporting.Period:
    """The UTC day, as the reports count days."""
    day = now.astimezone(UTC).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return reporting.Period(start, start + timedelta(days=1))


async def page(
    session: AsyncSession, unpaid_cutoff: datetime, query: TileQuery, size: int = PAGE_SIZE
) -> tuple[Snapshot, tuple[str, int] | None]:
    """The page's tiles (as a snapshot to build them from) and the key of the next page."""
    rows = (await session.execute(tiles_statement(unpaid_cutoff, query).limit(size + 1))).all()
    more = len(rows) > size
    page_rows = [Row(*row) for row in rows[:size]]
    ids = sorted({row.charge_point_id for row in page_rows})
    snapshot = Snapshot(
        page_rows,
        await _connector_counts(session, ids),
        (await session.scalars(_running_on(ids))).all(),
        await _held_among(session, ids, unpaid_cutoff),
    )
    last = page_rows[-1] if page_rows else None
    return snapshot, (last.key if more and last else None)


def tiles_statement(
    unpaid_cutoff: datetime, query: TileQuery
) -> Select[str, str | None, bool, Connector]:
    base = select(ChargePoint.id, ChargePoint.name, online(), Connector)
    if query.show in ("", "offline"):
        # Every tile, a charge point without connectors included (one tile of its own).
        statement = base.select_from(ChargePoint).outerjoin(
            Connector, Connector.charge_point_id == ChargePoint.id
        )
        statement = statement.order_by(ChargePoint.id, Connector.connector_id)
    else:
        statement = base.select_from(Connector).join(
            ChargePoint, ChargePoint.id == Connector.charge_point_id
        )
        statement = statement.order_by(Connector.charge_point_id, Connector.connector_id)
    if query.show:
        statement = statement.where(conditions(unpaid_cutoff)[query.show])
    if query.search:
        statement = statement.where(_matches(query.search))
    if query.after is not None:
        statement = statement.where(_after(*query.after))
    return statement


def _matches(search: str) -> ColumnElement[bool]:
    text = search.lower()
    return or_(
        func.lower(ChargePoint.id).contains(text, autoescape=True),
        func.lower(ChargePoint.name).contains(text, autoescape=True),
    )


def _after(charge_point_id: str, connector_id: int) -> ColumnElement[bool]:
    # The redundant ``>=`` lets the database start its index scan at the key.
    return and_(
        ChargePoint.id >= charge_point_id,
        or_(
            ChargePoint.id > charge_point_id,
            Connector.connector_id > connector_id,
        ),
    )


async def _connector_counts(session: AsyncSession, ids: list[str]) -> dict[str, int]:
    """How many connectors each charge point has: one is named like its station."""
    counted = await session.execute(
        select(Connector.charge_point_id, func.count())
        .where(Connector.charge_point_id.in_(ids))
        .group_by(Connector.charge_point_id)
    )
    return {cp_id: int(count) for cp_id, count in counted}


def _running_on(ids: list[str]) -> Select[Transaction]:
    # Ordered by id, so the newest open transaction of a connector wins.
    return (
        select(Transaction)
        .where(Transaction.charge_point_id.in_(ids), transactions.running())
        .order_by(Transaction.id)
    )


async def _held_among(
    session: AsyncSession, ids: list[str], unpaid_cutoff: datetime
) -> frozenset[tuple[str, int]]:
    held = await session.execute(
        select(PaymentReservation.charge_point_id, PaymentReservation.connector_id).where(
            PaymentReservation.charge_point_id.in_(ids), reservations.holding(unpaid_cutoff)
        )
    )
    return frozenset((cp_id, number) for cp_id, number in held)
