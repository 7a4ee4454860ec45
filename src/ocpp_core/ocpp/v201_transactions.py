"""OCPP 2.0.1 TransactionEvent: one message for a transaction's start, updates and end.

A transaction is known by the charger's own id (its ``uid``). An event for an id we
never saw means its Started event was lost (a charger that was offline queues events,
and may drop some): the transaction is recorded from what the event says rather than
refused, since a refused event is retried for ever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.clock import format_timestamp
from ocpp_core.db.models import Transaction
from ocpp_core.domain import connectors, transactions
from ocpp_core.domain.authorization import Authorization, AuthStatus
from ocpp_core.domain.meter import read_v201
from ocpp_core.ocpp import common
from ocpp_core.ocpp.adapter import ChargerContext
from ocpp_core.ocpp.common import Payload, timestamp
from ocpp_core.ocpp.framing import ErrorCode, FrameError

logger = logging.getLogger(__name__)

# The domain's connector status words; 2.0.1 splits them into the plug's status
# and the transaction's charging state.
CHARGING_STATES = {
    "Charging": "Charging",
    "SuspendedEV": "SuspendedEV",
    "SuspendedEVSE": "SuspendedEVSE",
    "EVConnected": "Preparing",
}
# Where a transaction runs when no event said and the station has several EVSEs:
# 0, the station itself, which is no charging position.
UNKNOWN_EVSE = 0


def id_token_info(auth: Authorization) -> Payload:
    info: Payload = {"status": auth.status.value}
    if auth.expires_at is not None:
        info["cacheExpiryDateTime"] = format_timestamp(auth.expires_at)
    if auth.group is not None:
        info["groupIdToken"] = {"idToken": auth.group, "type": "Central"}
    return info


def readings_of(meter_values: list[Payload]) -> common.Readings:
    return common.decode_readings(meter_values, read_v201)


@dataclass(frozen=True, slots=True)
class _Step:
    """What one TransactionEvent did, for the events published once it is committed."""

    row: Transaction
    auth: Authorization  # the answer for the event's idToken
    identified: bool = False  # the transaction got its tag now (or again): it starts for payments
    at_limit: dict[int, int] = field(default_factory=dict)
    stopped: bool = False


async def transaction_event(ctx: ChargerContext, p: Payload) -> Payload:
    readings = readings_of(p.get("meterValue", []))
    uid = p["transactionInfo"]["transactionId"]
    async with ctx.runtime.db.session() as session:
        row = await transactions.find_by_uid(session, ctx.charge_point_id, uid)
        if row is None and p["eventType"] == "Started":
            row = await _start(ctx, session, p, uid, readings)
            step = _Step(row, _recorded(row), identified=_is_identified(row))
        elif row is None:
            row = await _recover(ctx, session, p, uid)
            step = await _continue(ctx, session, row, p, readings, identified=_is_identified(row))
        else:
            step = await _continue(ctx, session, row, p, readings)
    status = _charging_status(p["transactionInfo"].get("chargingState"), p["eventType"])
    if status is not None and row.connector_id != UNKNOWN_EVSE:
        await common.record_status(ctx, row.connector_id, status, None, timestamp(p["timestamp"]))
    await _publish(ctx, step)
    return {"idTokenInfo": id_token_info(step.auth)} if "idToken" in p else {}


def _recorded(row: Transaction) -> Authorization:
    return Authorization(AuthStatus(row.start_result))


def _is_identified(row: Transaction) -> bool:
    return row.start_tag != transactions.NOT_IDENTIFIED


async def _start(
    ctx: ChargerContext, session: AsyncSession, p: Payload, uid: str, readings: common.Readings
) -> Transaction:
    evse = p.get("evse")
    if evse is None:
        raise FrameError(
            ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "a started transaction needs its evse"
        )
    # Without a register, the transaction's first register (an Updated event's) stands in.
    start_wh = next(iter(common.registers(readings)), None)
    row = await _open(ctx, session, p, uid, evse["id"], start_wh)
    await common.apply_readings(ctx, session, row.connector_id, row.id, readings)
    return row


async def _recover(ctx: ChargerContext, session: AsyncSession, p: Payload, uid: str) -> Transaction:
    """The transaction of an Updated or Ended event whose Started event never reached us.

    It starts when the event happened, as far as we can know; the event's own registers
    then settle the start register like any first register.
    """
    evse_id = await _evse_of(ctx, session, p)
    logger.warning(
        "%s: transaction %r was never started here; recorded from its %s event (seqNo %d)",
        ctx.charge_point_id,
        uid,
        p["eventType"],
        p["seqNo"],
    )
    return await _open(ctx, session, p, uid, evse_id, None)


async def _evse_of(ctx: ChargerContext, session: AsyncSession, p: Payload) -> int:
    """The EVSE the event names; else the station's only one; else unknown."""
    if "evse" in p:
        evse_id: int = p["evse"]["id"]
        return evse_id
    known = await connectors.positions(session, ctx.charge_point_id)
    return known[0] if len(known) == 1 else UNKNOWN_EVSE


async def _open(
    ctx: ChargerContext,
    session: AsyncSession,
    p: Payload,
    uid: str,
    evse_id: int,
    start_wh: int | None,
) -> Transaction:
    tag = p["idToken"]["idToken"] if "idToken" in p else None
    begin = transactions.TransactionStart(
        charge_point_id=ctx.charge_point_id,
        connector_id=evse_id,
        tag=tag or transactions.NOT_IDENTIFIED,
        started_at=timestamp(p["timestamp"]),
        meter_start_wh=start_wh,
        uid=uid,
        seq_no=p["seqNo"],
        remote_start_id=p["transactionInfo"].get("remoteStartId"),
    )
    result = (await common.authorize_start(ctx, session, tag)).status.value if tag else "Accepted"
    return await transactions.start(session, begin, result=result)


async def _continue(
    ctx: ChargerContext,
    session: AsyncSession,
    row: Transaction,
    p: Payload,
    readings: common.Readings,
    *,
    identified: bool = False,
) -> _Step:
    replayed = row.seq_no is not None and p["seqNo"] <= row.seq_no
    _note_sequence(ctx, row, p["seqNo"])
    if row.remote_start_id is None:
        row.remote_start_id = p["transactionInfo"].get("remoteStartId")
    # A replay of the event that identified the transaction announces it again: the
    # first answer may have been an error because the payments could not follow it.
    identified = identified or ("idToken" in p and replayed)
    if "idToken" in p and not _is_identified(row):
        tag = p["idToken"]["idToken"]
        auth = await common.authorize_start(ctx, session, tag)
        transactions.identify(row, tag=tag, result=auth.status.value)
        identified = True
    if p["eventType"] != "Ended" or row.stop_at is not None:
        at_limit = await common.apply_readings(ctx, session, row.connector_id, row.id, readings)
        return _Step(row, _recorded(row), identified, at_limit)
    auth = await common.finish_transaction(ctx, session, row, _end(ctx, row, p, readings), readings)
    return _Step(row, auth, identified, stopped=True)


def _note_sequence(ctx: ChargerContext, row: Transaction, seq_no: int) -> None:
    skipped = transactions.note_sequence(row, seq_no)
    if skipped:
        logger.warning(
            "%s: transaction %s skipped %d event(s) before seqNo %d",
            ctx.charge_point_id,
            row.uid,
            skipped,
            seq_no,
        )


def _end(
    ctx: ChargerContext, row: Transaction, p: Payload, readings: common.Readings
) -> transactions.TransactionStop:
    return transactions.TransactionStop(
        charge_point_id=ctx.charge_point_id,
        transaction_id=row.id,
        tag=p["idToken"]["idToken"] if "idToken" in p else None,
        stopped_at=timestamp(p["timestamp"]),
        meter_stop_wh=next(reversed(common.registers(readings)), None),
        reason=p["transactionInfo"].get("stoppedReason", "Local"),
    )


def _charging_status(state: str | None, event_type: str) -> str | None:
    if state is None or state == "Idle":
        return None
    if event_type == "Ended":
        return "Finishing"  # the transaction is over and the car still plugged in
    return CHARGING_STATES[state]


async def _publish(ctx: ChargerContext, step: _Step) -> None:
    row = step.row
    if step.identified:
        await common.publish_started(ctx, row, row.start_result == AuthStatus.ACCEPTED.value)
    await common.publish_limits(ctx, row.connector_id, step.at_limit)
    if step.stopped:
        await common.publish_stopped(ctx, row)
