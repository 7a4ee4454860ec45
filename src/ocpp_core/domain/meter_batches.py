"""The MeterValues of many chargers applied together: a few statements per group, not per charger.

Each MeterValues used to be a unit of work of its own through the ORM: find the
transaction, maybe read the connector, update the transaction, upsert the
connector, with the ORM's bookkeeping around each statement; about 2 ms of CPU,
a fleet's MeterValues the busiest work of the server. The group commit (see
:mod:`ocpp_core.db.group`) hands this module every MeterValues that arrived
while its last transaction ran. It reads their open transactions (and, where a
reading has none, the connectors' registers) with one query each, judges every
reading by the same :func:`.metering.assess` as everything else, and writes
what changed with one executemany per kind: the transactions' registers, the
connectors' live values, the anomalies, and the messages' own message-log rows.
Those reads and writes are compiled once and run by the driver itself, within
the session's transaction (see :mod:`ocpp_core.db.prepared`).

Nothing is kept between groups: every group reads its rows afresh in the
transaction that writes them, so server processes sharing a database see each
other's writes as before. Readings of one transaction or connector within a
group see each other's effects, in the order they came.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Integer, String, Table, bindparam, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.dialect import MergingUpsert
from ocpp_core.db.models import Connector, MeterAnomaly, Transaction
from ocpp_core.db.prepared import Prepared
from ocpp_core.domain import messagelog, transactions
from ocpp_core.domain.connectors import LIVE_COLUMNS
from ocpp_core.domain.meter import MeterReading
from ocpp_core.domain.metering import NO_METER, Meter, ReadingAt, assess

_transactions = cast(Table, Transaction.__table__)
_connectors = cast(Table, Connector.__table__)
_anomalies = cast(Table, MeterAnomaly.__table__)

ConnectorKey = tuple[str, int]
T = TypeVar("T")
_SMALLEST_IN_LIST = 8


@dataclass(frozen=True, slots=True)
class MeterMessage:
    """One MeterValues: its readings in the order sent, and what to judge them by."""

    charge_point_id: str
    connector_id: int
    transaction_id: int | None  # None: the transaction running on the connector, if any
    readings: Sequence[tuple[datetime, MeterReading]]
    max_power_w: int
    received_at: datetime
    log_row: dict[str, Any] | None = None  # the message's own message-log row, if it is kept


@dataclass(slots=True)
class OpenTransaction:
    """A copy of an open transaction's meter columns (a :class:`~.transactions.Register`)."""

    id: int
    charge_point_id: str
    connector_id: int
    start_at: datetime
    meter_start_wh: int
    meter_start_source: str
    last_meter_wh: int | None
    last_meter_at: datetime | None
    energy_limit_wh: int | None
    stop_at: datetime | None = None
    energy_wh: int | None = None
    loaded: tuple[object, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        self.loaded = self._columns()

    def _columns(self) -> tuple[object, ...]:
        return (
            self.meter_start_wh,
            self.meter_start_source,
            self.last_meter_wh,
            self.last_meter_at,
        )

    @property
    def changed(self) -> bool:
        return self._columns() != self.loaded

    @property
    def start_changed(self) -> bool:
        return self._columns()[:2] != self.loaded[:2]


# Table columns, not the ORM's attributes: a plain Core query, without the ORM's work per row.
_OPEN_COLUMNS = tuple(
    _transactions.c[name]
    for name in (
        "id",
        "charge_point_id",
        "connector_id",
        "start_at",
        "meter_start_wh",
        "meter_start_source",
        "last_meter_wh",
        "last_meter_at",
        "energy_limit_wh",
    )
)

_LIVE = MergingUpsert(_connectors, ("charge_point_id", "connector_id"), LIVE_COLUMNS)
_SAMPLE = (
    update(_transactions)
    .where(_transactions.c.id == bindparam("tx"))
    .values(last_meter_wh=bindparam("last_wh"), last_meter_at=bindparam("last_at"))
)
# A transaction whose first register settled its start register: rare, its own statement,
# so the usual one writes no more than a sample changes.
_SETTLED = _SAMPLE.values(
    meter_start_wh=bindparam("start_wh"), meter_start_source=bindparam("start_source")
)
_WRITE_SAMPLE = Prepared(lambda _: _SAMPLE)
_WRITE_SETTLED = Prepared(lambda _: _SETTLED)


async def apply_messages(
    session: AsyncSession, messages: list[MeterMessage]
) -> list[dict[int, int]]:
    """Apply every message's readings; for each, the energy of its transactions at their limit."""
    found = await _Transactions.load(session, messages)
    meters = await _connector_meters(session, _without_transaction(messages, found))
    writes = _Writes(meters)
    results = [writes.apply(message, found.of(message)) for message in messages]
    await writes.flush(session, found.all())
    log_rows = [m.log_row for m in messages if m.log_row is not None]
    if log_rows:
        await messagelog.insert_rows(session, log_rows)
    return results


class _Transactions:
    """The open transactions a group's messages name, or run on their connectors."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self._by_id: dict[int, OpenTransaction] = {}
        self._running: dict[ConnectorKey, OpenTransaction] = {}
        self._named: set[int] = set()
        for row, named in rows:
            copy = OpenTransaction(*row)
            # A transaction both named and running is one copy.
            tx = self._by_id.setdefault(copy.id, copy)
            if named:
                self._named.add(tx.id)
            else:  # in the order of their ids: the newest last
                self._running[(tx.charge_point_id, tx.connector_id)] = tx

    @classmethod
    async def load(cls, session: AsyncSession, messages: list[MeterMessage]) -> _Transactions:
        metered = [m for m in messages if m.readings]
        ids = {m.transaction_id for m in metered if m.transaction_id is not None}
        keys = {(m.charge_point_id, m.connector_id) for m in metered if m.transaction_id is None}
        rows: list[tuple[Any, bool]] = []
        if ids:
            named = _padded(ids)
            query = _named_query(len(named))
            parameters = {f"id{n}": tx for n, tx in enumerate(named)}
            rows += [(row, True) for row in await query.fetch(session, parameters)]
        if keys:
            running = _padded(keys)
            query = _running_query(len(running))
            found = await query.fetch(session, _key_parameters(running))
            rows += [(row, False) for row in found]
        return cls(rows)

    def of(self, message: MeterMessage) -> OpenTransaction | None:
        """As :func:`.metering.apply_reading` finds it: named by id and charger, else running."""
        if message.transaction_id is None:
            return self._running.get((message.charge_point_id, message.connector_id))
        tx = self._by_id.get(message.transaction_id)
        if tx is None or tx.id not in self._named:
            return None
        return tx if tx.charge_point_id == message.charge_point_id else None

    def all(self) -> Iterable[OpenTransaction]:
        return self._by_id.values()


def _without_transaction(messages: list[MeterMessage], found: _Transactions) -> set[ConnectorKey]:
    """The connectors whose registers are the baseline of a reading outside a transaction."""
    return {
        (m.charge_point_id, m.connector_id)
        for m in messages
        if found.of(m) is None and any(r.energy_wh is not None for _, r in m.readings)
    }


async def _connector_meters(
    session: AsyncSession, keys: set[ConnectorKey]
) -> dict[ConnectorKey, Meter]:
    if not keys:
        return {}
    padded = _padded(keys)
    rows = await _meters_query(len(padded)).fetch(session, _key_parameters(padded))
    return {(cp, n): (wh, at) for cp, n, wh, at in rows}


# One statement per length of a padded IN list, compiled once for each (see _padded):
# powers of two up to the largest group's, a few at most.
@cache
def _named_query(size: int) -> Prepared:
    named = [bindparam(f"id{n}", type_=Integer) for n in range(size)]
    query = select(*_OPEN_COLUMNS).where(
        _transactions.c.id.in_(named), _transactions.c.stop_at.is_(None)
    )
    return Prepared(lambda _: query)


@cache
def _running_query(size: int) -> Prepared:
    query = (
        select(*_OPEN_COLUMNS)
        .where(
            tuple_(Transaction.charge_point_id, Transaction.connector_id).in_(_key_binds(size)),
            transactions.running(),
        )
        .order_by(Transaction.id)
    )
    return Prepared(lambda _: query)


@cache
def _meters_query(size: int) -> Prepared:
    query = select(
        Connector.charge_point_id, Connector.connector_id, Connector.meter_wh, Connector.meter_at
    ).where(tuple_(Connector.charge_point_id, Connector.connector_id).in_(_key_binds(size)))
    return Prepared(lambda _: query)


def _key_binds(size: int) -> list[Any]:
    return [
        tuple_(bindparam(f"cp{n}", type_=String), bindparam(f"connector{n}", type_=Integer))
        for n in range(size)
    ]


def _key_parameters(keys: list[ConnectorKey]) -> dict[str, object]:
    parameters: dict[str, object] = {}
    for n, (charge_point_id, connector_id) in enumerate(keys):
        parameters[f"cp{n}"] = charge_point_id
        parameters[f"connector{n}"] = connector_id
    return parameters


def _padded(values: set[T]) -> list[T]:
    """The values, the last repeated up to a power of two: an IN list of a few lengths only.

    Each length is another statement to the database, which PostgreSQL prepares once
    per connection and keeps among a bounded number; group sizes vary all the time.
    """
    listed = list(values)
    size = _SMALLEST_IN_LIST
    while size < len(listed):
        size *= 2
    return listed + listed[-1:] * (size - len(listed))


class _Writes:
    """What a group's readings change, merged per row, written with one statement per kind."""

    def __init__(self, meters: dict[ConnectorKey, Meter]) -> None:
        self._meters = meters
        self._live: dict[ConnectorKey, dict[str, object]] = {}
        self._anomalies: list[dict[str, object]] = []

    def apply(self, message: MeterMessage, tx: OpenTransaction | None) -> dict[int, int]:
        key = (message.charge_point_id, message.connector_id)
        at_limit: dict[int, int] = {}
        for sampled_at, reading in message.readings:
            sample = ReadingAt(*key, message.transaction_id, reading, sampled_at)
            assessment = assess(
                sample,
                tx,
                self._meters.get(key, NO_METER),
                max_power_w=message.max_power_w,
                now=message.received_at,
            )
            if assessment.anomaly is not None:
                self._anomalies.append(assessment.anomaly)
            if assessment.live:
                self._live.setdefault(key, {}).update(assessment.live)
                if "meter_wh" in assessment.live:
                    self._meters[key] = reading.energy_wh, sampled_at
            applied = assessment.applied
            if applied.transaction_id is not None and applied.limit_reached_wh is not None:
                at_limit[applied.transaction_id] = applied.limit_reached_wh
        return at_limit

    async def flush(self, session: AsyncSession, found: Iterable[OpenTransaction]) -> None:
        changed = [tx for tx in found if tx.changed]
        settled = [_settled(tx) for tx in changed if tx.start_changed]
        sampled = [_sample(tx) for tx in changed if not tx.start_changed]
        if sampled:
            await _WRITE_SAMPLE.execute_many(session, sampled)
        if settled:
            await _WRITE_SETTLED.execute_many(session, settled)
        if self._live:
            await _LIVE.execute(session, [_live_row(*k, v) for k, v in self._live.items()])
        if self._anomalies:
            await session.execute(insert(_anomalies), self._anomalies)


def _sample(tx: OpenTransaction) -> dict[str, object]:
    return {"tx": tx.id, "last_wh": tx.last_meter_wh, "last_at": tx.last_meter_at}


def _settled(tx: OpenTransaction) -> dict[str, object]:
    return {**_sample(tx), "start_wh": tx.meter_start_wh, "start_source": tx.meter_start_source}


def _live_row(
    charge_point_id: str, connector_id: int, values: dict[str, object]
) -> dict[str, object]:
    return {
        "charge_point_id": charge_point_id,
        "connector_id": connector_id,
        **dict.fromkeys(LIVE_COLUMNS),
        **values,
    }
