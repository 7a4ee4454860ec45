"""Applying a meter reading: live connector values, the transaction's register, anomalies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import MeterAnomaly, Transaction
from ocpp_core.domain import connectors, transactions
from ocpp_core.domain.meter import MeterReading, implausibility


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
class _Verdict:
    energy_wh: int | None  # the register to apply: None if there is none or it came late
    previous_wh: int | None
    anomaly: str | None


async def apply_reading(
    session: AsyncSession, sample: ReadingAt, *, max_power_w: int, now: datetime
) -> Applied:
    """Store what is plausible; keep what is not as an anomaly."""
    tx = await _transaction_of(session, sample)
    verdict = await _judge(session, sample, tx, max_power_w)
    limit_reached_wh = None
    if verdict.anomaly is not None:
        _keep_anomaly(session, sample, tx, verdict, now)
    elif tx is not None and verdict.energy_wh is not None:
        transactions.record_sample(tx, energy_wh=verdict.energy_wh, at=sample.sampled_at)
        limit_reached_wh = transactions.limit_reached(tx, verdict.energy_wh)
    await connectors.record_reading(
        session,
        sample.charge_point_id,
        sample.connector_id,
        sample.reading,
        at=sample.sampled_at,
        include_energy=verdict.anomaly is None and verdict.energy_wh is not None,
    )
    return Applied(verdict.anomaly, tx.id if tx is not None else None, limit_reached_wh)


async def _judge(
    session: AsyncSession, sample: ReadingAt, tx: Transaction | None, max_power_w: int
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
    previous_wh, previous_at = await _baseline(session, sample, tx)
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


async def _transaction_of(session: AsyncSession, sample: ReadingAt) -> Transaction | None:
    if sample.transaction_id is not None:
        return await transactions.find_open(session, sample.charge_point_id, sample.transaction_id)
    return await transactions.running_on(session, sample.charge_point_id, sample.connector_id)


async def _baseline(
    session: AsyncSession, sample: ReadingAt, tx: Transaction | None
) -> tuple[int | None, datetime | None]:
    if tx is not None:
        if tx.last_meter_wh is not None:
            return tx.last_meter_wh, tx.last_meter_at
        start = transactions.start_register(tx)
        return (start, tx.start_at) if start is not None else (None, None)
    row = await connectors.find(session, sample.charge_point_id, sample.connector_id)
    return (row.meter_wh, row.meter_at) if row is not None else (None, None)


def _keep_anomaly(
    session: AsyncSession,
    sample: ReadingAt,
    tx: Transaction | None,
    verdict: _Verdict,
    now: datetime,
) -> None:
    assert verdict.anomaly is not None
    assert verdict.energy_wh is not None
    session.add(
        MeterAnomaly(
            charge_point_id=sample.charge_point_id,
            connector_id=sample.connector_id,
            transaction_id=tx.id if tx is not None else sample.transaction_id,
            reason=verdict.anomaly,
            value_wh=verdict.energy_wh,
            previous_wh=verdict.previous_wh,
            sampled_at=sample.sampled_at,
            detected_at=now,
        )
    )
