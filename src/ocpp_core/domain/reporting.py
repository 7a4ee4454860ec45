"""Energy, revenue and connector use over a period, for the operator's reports and charts.

A transaction belongs to the period in which it *started*, as on the
transactions page, so a report and the matching transaction list add up to
the same energy. Energy under meter review has no billable value: it is
counted apart and never estimated. Revenue is the linked payment
reservation's: what was captured, or what is due while the capture is
pending; a free reservation earns 0. Currencies are never added together.

Sums are done by the database where SQL is the same on SQLite and
PostgreSQL; the split into UTC days or months is done here, over a query
bounded by the period, because the two databases have no date function in
common.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargePoint, ChargeTag, Connector, PaymentReservation, Transaction
from ocpp_core.domain import transactions

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])

MAX_REVIEW_LINES = 200
DAYS_PER_BAR_LIMIT = 62  # beyond about two months, one bar per day is too thin to read


@dataclass(frozen=True, slots=True)
class Period:
    """``since`` inclusive, ``until`` exclusive, both aware UTC."""

    since: datetime
    until: datetime
    charge_point_id: str | None = None

    @property
    def last_day(self) -> date:
        return (self.until - timedelta(microseconds=1)).astimezone(UTC).date()


@dataclass
class Tally:
    sessions: int = 0
    energy_wh: int = 0
    under_review: int = 0
    running: int = 0
    revenue_cents: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.sessions += other.sessions
        self.energy_wh += other.energy_wh
        self.under_review += other.under_review
        self.running += other.running
        for currency, cents in other.revenue_cents.items():
            self.revenue_cents[currency] = self.revenue_cents.get(currency, 0) + cents


@dataclass
class TagLine:
    """One registered tag, or (``tag_id`` None) every tag the system doesn't know."""

    tag_id: str | None
    name: str | None
    tally: Tally = field(default_factory=Tally)


@dataclass
class GroupLine:
    group_id: str | None  # the tags' parent; None: tags without a group
    tags: list[TagLine] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)


@dataclass(frozen=True, slots=True)
class ChargeReport:
    groups: list[GroupLine]
    total: Tally
    under_review: Sequence[Transaction]


def _cost() -> ColumnElement[Any]:
    """The reservation's amount in cents, by the rule of the module docstring."""
    return case(
        (PaymentReservation.free, 0),
        else_=func.coalesce(PaymentReservation.captured_cents, PaymentReservation.amount_due_cents),
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _in_period(query: _Query, period: Period) -> _Query:
    query = query.outerjoin(
        PaymentReservation, PaymentReservation.transaction_id == Transaction.id
    ).where(Transaction.start_at >= period.since, Transaction.start_at < period.until)
    if period.charge_point_id is not None:
        query = query.where(Transaction.charge_point_id == period.charge_point_id)
    return query


async def charge_report(session: AsyncSession, period: Period) -> ChargeReport:
    """Energy and revenue per tag, grouped by the tags' group (their parent tag).

    A paid session runs under a short generated OCPP id tag; the tag it is
    booked to is the reservation's, which is what decides the group.
    """
    tag = func.coalesce(PaymentReservation.charge_tag_id, Transaction.start_tag)
    query = (
        select(
            ChargeTag.parent_id,
            ChargeTag.id,
            func.max(ChargeTag.name),
            PaymentReservation.currency,
            func.count(Transaction.id),
            func.sum(Transaction.energy_wh),
            func.count(Transaction.review_reason),
            _count_if(Transaction.stop_at.is_(None)),
            func.sum(_cost()),
        )
        .select_from(Transaction)
        .group_by(ChargeTag.parent_id, ChargeTag.id, PaymentReservation.currency)
    )
    query = _in_period(query, period).outerjoin(ChargeTag, ChargeTag.id == tag)
    groups = _grouped(await session.execute(query))
    total = Tally()
    for group in groups:
        total.add(group.tally)
    return ChargeReport(groups, total, await _under_review(session, period))


async def period_total(session: AsyncSession, period: Period) -> Tally:
    """The report's total alone (one row per currency), for the dashboard's "today"."""
    query = (
        select(
            PaymentReservation.currency,
            func.count(Transaction.id),
            func.sum(Transaction.energy_wh),
            func.count(Transaction.review_reason),
            _count_if(Transaction.stop_at.is_(None)),
            func.sum(_cost()),
        )
        .select_from(Transaction)
        .group_by(PaymentReservation.currency)
    )
    total = Tally()
    for currency, *sums in await session.execute(_in_period(query, period)):
        total.add(_tally(currency, *sums))
    return total


def _tally(
    currency: str | None, sessions: Any, wh: Any, review: Any, running: Any, cents: Any
) -> Tally:
    tally = Tally(int(sessions), int(wh or 0), int(review), int(running or 0))
    if currency is not None and cents is not None:
        tally.revenue_cents[currency] = int(cents)
    return tally


def _grouped(rows: Iterable[tuple[Any, ...]]) -> list[GroupLine]:
    groups: dict[str | None, GroupLine] = {}
    lines: dict[str | None, TagLine] = {}
    for parent, tag_id, name, currency, sessions, wh, review, running, cents in rows:
        group = groups.setdefault(parent, GroupLine(parent))
        line = lines.get(tag_id)
        if line is None:
            line = lines[tag_id] = TagLine(tag_id, name)
            group.tags.append(line)
        tally = _tally(currency, sessions, wh, review, running, cents)
        line.tally.add(tally)
        group.tally.add(tally)
    for group in groups.values():
        group.tags.sort(key=lambda line: (line.tag_id is None, line.tag_id or ""))
    return sorted(groups.values(), key=lambda group: (group.group_id is None, group.group_id or ""))


async def _under_review(session: AsyncSession, period: Period) -> Sequence[Transaction]:
    query = select(Transaction).where(
        Transaction.review_reason.is_not(None),
        Transaction.start_at >= period.since,
        Transaction.start_at < period.until,
    )
    if period.charge_point_id is not None:
        query = query.where(Transaction.charge_point_id == period.charge_point_id)
    query = query.order_by(Transaction.start_at, Transaction.id).limit(MAX_REVIEW_LINES)
    return (await session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class Amounts:
    """Energy and revenue of one bar: a day, a month or a charge point."""

    label: str | date
    energy_wh: int
    revenue_cents: dict[str, int]


def by_month(period: Period) -> bool:
    return period.until - period.since > timedelta(days=DAYS_PER_BAR_LIMIT)


def buckets(period: Period) -> list[date]:
    """The first day of every day (or month) in the period, empty ones included."""
    first = period.since.astimezone(UTC).date()
    last = period.last_day
    if not by_month(period):
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]
    months = (last.year - first.year) * 12 + last.month - first.month
    return [_month_start(first, n) for n in range(months + 1)]


def _month_start(day: date, months_after: int) -> date:
    index = day.year * 12 + day.month - 1 + months_after
    return date(index // 12, index % 12 + 1, 1)


def _bucket_of(at: datetime, monthly: bool) -> date:
    day = at.astimezone(UTC).date()
    return day.replace(day=1) if monthly else day


async def over_time(session: AsyncSession, period: Period) -> list[Amounts]:
    """Energy and revenue per UTC day, or per month for a long period."""
    query = _in_period(
        select(Transaction.start_at, Transaction.energy_wh, PaymentReservation.currency, _cost())
        .select_from(Transaction)
        .where(or_(Transaction.energy_wh.is_not(None), PaymentReservation.id.is_not(None))),
        period,
    )
    monthly = by_month(period)
    energy: dict[date, int] = {}
    revenue: dict[date, dict[str, int]] = {}
    for start_at, wh, currency, cents in await session.execute(query):
        key = _bucket_of(start_at, monthly)
        energy[key] = energy.get(key, 0) + (wh or 0)
        if currency is not None and cents is not None:
            money = revenue.setdefault(key, {})
            money[currency] = money.get(currency, 0) + int(cents)
    return [Amounts(key, energy.get(key, 0), revenue.get(key, {})) for key in buckets(period)]


async def per_charge_point(session: AsyncSession, period: Period) -> list[Amounts]:
    """Energy and revenue per charge point; stations with nothing in the period show 0."""
    query = _in_period(
        select(
            Transaction.charge_point_id,
            PaymentReservation.currency,
            func.sum(Transaction.energy_wh),
            func.sum(_cost()),
        )
        .select_from(Transaction)
        .group_by(Transaction.charge_point_id, PaymentReservation.currency),
        period,
    )
    energy: dict[str, int] = dict.fromkeys(await _station_ids(session, period), 0)
    revenue: dict[str, dict[str, int]] = {}
    for cp_id, currency, wh, cents in await session.execute(query):
        energy[cp_id] = energy.get(cp_id, 0) + int(wh or 0)
        if currency is not None and cents is not None:
            revenue.setdefault(cp_id, {})[currency] = int(cents)
    return [Amounts(cp_id, energy[cp_id], revenue.get(cp_id, {})) for cp_id in sorted(energy)]


async def _station_ids(session: AsyncSession, period: Period) -> Sequence[str]:
    if period.charge_point_id is not None:
        return [period.charge_point_id]
    return (await session.scalars(select(ChargePoint.id))).all()


@dataclass(frozen=True, slots=True)
class ConnectorUse:
    """How long a connector had a transaction open, out of the period so far."""

    charge_point_id: str
    connector_id: int
    name: str | None
    busy_seconds: int
    period_seconds: int

    @property
    def basis_points(self) -> int:
        """The share in hundredths of a percent, rounded down: integers until shown."""
        return self.busy_seconds * 10_000 // self.period_seconds


async def utilisation(
    session: AsyncSession, period: Period, *, now: datetime
) -> list[ConnectorUse]:
    """Each known connector's busy share of the period, up to ``now`` if the period runs on.

    Busy means a transaction was open (started, not yet stopped), which is
    also the time a car stood plugged in without drawing power. The status
    history isn't kept, so time in the ``Charging`` state can't be told apart.
    A transaction still open counts up to ``now``.
    """
    end = min(period.until, now)
    if end <= period.since:
        return []
    busy = await _busy_intervals(session, period, end)
    names = await _connector_names(session, period)
    total = int((end - period.since).total_seconds())
    keys = sorted(set(busy) | set(names))
    return [
        ConnectorUse(
            cp, number, names.get((cp, number)), _covered(busy.get((cp, number), [])), total
        )
        for cp, number in keys
    ]


async def _busy_intervals(
    session: AsyncSession, period: Period, end: datetime
) -> dict[tuple[str, int], list[tuple[datetime, datetime]]]:
    query = select(
        Transaction.charge_point_id,
        Transaction.connector_id,
        Transaction.start_at,
        Transaction.stop_at,
    ).where(
        Transaction.start_at < end,
        or_(Transaction.stop_at.is_(None), Transaction.stop_at > period.since),
        transactions.accepted(),  # a refused start kept the connector busy for nobody
    )
    if period.charge_point_id is not None:
        query = query.where(Transaction.charge_point_id == period.charge_point_id)
    found: dict[tuple[str, int], list[tuple[datetime, datetime]]] = {}
    for cp, number, start, stop in await session.execute(query):
        interval = (max(start, period.since), min(stop or end, end))
        if interval[0] < interval[1]:
            found.setdefault((cp, number), []).append(interval)
    return found


async def _connector_names(
    session: AsyncSession, period: Period
) -> dict[tuple[str, int], str | None]:
    query = select(Connector.charge_point_id, Connector.connector_id, Connector.name)
    if period.charge_point_id is not None:
        query = query.where(Connector.charge_point_id == period.charge_point_id)
    return {(cp, number): name for cp, number, name in await session.execute(query)}


def _covered(intervals: list[tuple[datetime, datetime]]) -> int:
    """Seconds covered by the intervals, overlaps counted once."""
    seconds = 0.0
    reach: datetime | None = None
    for start, stop in sorted(intervals):
        if reach is not None and start < reach:
            start = reach
        if stop > start:
            seconds += (stop - start).total_seconds()
            reach = stop
    return int(seconds)
