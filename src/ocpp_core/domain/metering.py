"""Applying a meter reading: live connector values, the transaction's register, anomalies.

:func:`assess` decides what one reading changes, on any
:class:`~ocpp_core.domain.transactions.Register`; it reads nothing from the
database itself. :func:`apply_reading` applies it within a unit of work that
holds the transaction as an ORM row (a transaction event, a stop); the
MeterValues of many chargers go through :mod:`.meter_batches` instead, which
judges each reading by the same :func:`assess`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import MeterAnomaly, Transaction
from ocpp_core.domain import connectors, transactions
from ocpp_core.domain.meter import MeterReading, implausibility
from ocpp_core.domain.transactions import Register

# A register and when it was read; (None, None) where there is none.
Meter = tuple[int | None, datetime | None]
NO_METER: Meter = (None, None)


@dataclass(frozen=True, slots=True)
class ReadingAt:
    charge_point_id: str
    connector_id: int
    transaction_id: int | None
    reading: MeterReading
    sampled_at: datetime


@dataclass(frozen=True, slots=True)
class Applied:
    anomaly: str | None
    transaction_id: int | None
    # The open transaction's energy so far, when this reading took it to its limit.
    limit_reached_wh: int | None


@dataclass(frozen=True, slots=True)
class Assessment:
    """What one reading changes; the transaction's register is already changed in place."""

    applied: Applied
    live: dict[str, object]  # the connector's columns to set (see connectors.live_values)
    anomaly: dict[str, object] | None  # a MeterAnomaly row to keep


@dataclass(frozen=True, slots=True)
class _Verdict:
    energy_wh: int | None  # the register to apply: None if there is none or it came late
    previous_wh: int | None
    anomaly: str | None


def assess(
    sample: ReadingAt,
    tx: Register | None,
    connector_meter: Meter,
    *,
    max_power_w: int,
    now: datetime,
) -> Assessment:
    """Judge the reading: what is plausible is applied to ``tx``, what is not is an anomaly.

    ``connector_meter``: the connector's register as last shown, the baseline of a
    reading outside any transaction (unused when there is a transaction).
    """
    verdict = _judge(sample, tx, connector_meter, max_power_w)
    limit_reached_wh = None
    anomaly = None
    if verdict.anomaly is not None:
        anomaly = _anomaly(sample, tx, verdict, now)
    elif tx is not None and verdict.energy_wh is not None:
        transactions.record_sample(tx, energy_wh=verdict.energy_wh, at=sample.sampled_at)
        limit_reached_wh = transactions.limit_reached(tx, verdict.energy_wh)
    live = connectors.live_values(
        sample.connector_id,
        sample.reading,
        at=sample.sampled_at,
        include_energy=verdict.anomaly is None and verdict.energy_wh is not None,
    )
    applied = Applied(verdict.anomaly, tx.id if tx is not None else None, limit_reached_wh)
    return Assessment(applied, live, anomaly)


async def apply_reading(
    session: AsyncSession, sample: ReadingAt, *, max_power_w: int, now: datetime
) -> Applied:
    """Store what is plausible; keep what is not as an anomaly."""
    tx = await _transaction_of(session, sample)
    meter = NO_METER
    if tx is None and sample.reading.energy_wh is not None:
        meter = await _connector_meter(session, sample)
    assessment = assess(sample, tx, meter, max_power_w=max_power_w, now=now)
    if assessment.anomaly is not None:
        session.add(MeterAnomaly(**assessment.anomaly))
    await connectors.record_live(
        session, sample.charge_point_id, sample.connector_id, assessment.live
    )
    return assessment.applied


def _judge(
    sample: ReadingAt, tx: Register | None, connector_meter: Meter, max_power_w: int
) -> _Verdict:
    energy = sample.reading.energy_wh
    if energy is None:
        return _Verdict(None, None, None)
    if tx is not None:
        transactions.settle_start(
            tx,
            register_wh=energy,
            at=sample.sampled_at,
            context=sample.reading.context,
            max_power_w=max_power_w,
        )
    previous_wh, previous_at = _baseline(tx) if tx is not None else connector_meter
    if previous_at is not None and sample.sampled_at < previous_at:
        # A late, queued sample: older than what we show, so it changes nothing.
        return _Verdict(None, previous_wh, None)
    reason = implausibility(
        previous_wh=previous_wh,
        previous_at=previous_at,
        new_wh=energy,
        new_at=sample.sampled_at,
        max_power_w=max_power_w,
    )
    return _Verdict(energy, previous_wh, reason)


def _baseline(tx: Register) -> Meter:
    if tx.last_meter_wh is not None:
        return tx.last_meter_wh, tx.last_meter_at
    start = transactions.start_register(tx)
    return (start, tx.start_at) if start is not None else NO_METER


async def _transaction_of(session: AsyncSession, sample: ReadingAt) -> Transaction | None:
    if sample.transaction_id is not None:
        return await transactions.find_open(session, sample.charge_point_id, sample.transaction_id)
    return await transactions.running_on(session, sample.charge_point_id, sample.connector_id)


async def _connector_meter(session: AsyncSession, sample: ReadingAt) -> Meter:
    row = await connectors.find(session, sample.charge_point_id, sample.connector_id)
    return (row.meter_wh, row.meter_at) if row is not None else NO_METER


def _anomaly(
    sample: ReadingAt, tx: Register | None, verdict: _Verdict, now: datetime
) -> dict[str, object]:
    assert verdict.anomaly is not None
    assert verdict.energy_wh is not None
    return {
        "charge_point_id": sample.charge_point_id,
        "connector_id": sample.connector_id,
        "transaction_id": tx.id if tx is not None else sample.transaction_id,
        "reason": verdict.anomaly,
        "value_wh": verdict.energy_wh,
        "previous_wh": verdict.previous_wh,
        "sampled_at": sample.sampled_at,
        "detected_at": now,
    }
