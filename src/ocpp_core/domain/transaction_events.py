"""A transaction told in several messages (OCPP 2.x's TransactionEvent): its start, updates, end.

A transaction is known by the charger's own id (its ``uid``). An event for an id we
never saw means its Started event was lost (a charger that was offline queues events,
and may drop some): the transaction is recorded from what the event says rather than
refused, since a refused event is retried for ever.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import Transaction
from ocpp_core.domain import connectors, transactions
from ocpp_core.domain.authorization import Authorization, AuthStatus
from ocpp_core.domain.charging import Charging, Readings, registers

logger = logging.getLogger(__name__)

# Where a transaction runs when no event said and the station has several charging
# positions: 0, the station itself, which is no charging position.
UNKNOWN_POSITION = 0


class EventType(enum.Enum):
    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


class MissingPosition(ValueError):
    """A Started event that names no charging position: nothing can be recorded."""


@dataclass(frozen=True, slots=True)
class TransactionEvent:
    """One event of a transaction, in domain words (the adapter reads its version's payload)."""

    uid: str
    type: EventType
    seq_no: int
    at: datetime
    position: int | None  # the EVSE it names, if it names one
    tag: str | None
    remote_start_id: int | None
    readings: Readings
    stopped_reason: str  # Local when the charger gave none
    status: str | None  # the connector status the event's charging state says, if any
    reservation_id: int | None = None  # the operator's reservation it says it used


@dataclass(frozen=True, slots=True)
class _Step:
    """What one event did, for the events published once it is committed."""

    row: Transaction
    auth: Authorization  # the answer for the event's tag
    identified: bool = False  # the transaction got its tag now (or again): it starts for payments
    at_limit: dict[int, int] = field(default_factory=dict)
    stopped: bool = False


async def handle(charging: Charging, event: TransactionEvent) -> Authorization:
    """Record the event; the answer for its tag (the transaction's own when it has none)."""
    async with charging.parts.db.session() as session:
        row = await transactions.find_by_uid(session, charging.charge_point_id, event.uid)
        if row is None and event.type is EventType.STARTED:
            row = await _start(charging, session, event)
            step = _Step(row, _recorded(row), identified=_is_identified(row))
        elif row is None:
            row = await _recover(charging, session, event)
            step = await _continue(charging, session, row, event, identified=_is_identified(row))
        else:
            step = await _continue(charging, session, row, event)
    if event.status is not None and row.connector_id != UNKNOWN_POSITION:
        await charging.record_status(row.connector_id, event.status, None, event.at)
    await _publish(charging, step)
    return step.auth


def _recorded(row: Transaction) -> Authorization:
    return Authorization(AuthStatus(row.start_result))


def _is_identified(row: Transaction) -> bool:
    return row.start_tag != transactions.NOT_IDENTIFIED


async def _start(charging: Charging, session: AsyncSession, event: TransactionEvent) -> Transaction:
    if event.position is None:
        raise MissingPosition("a started transaction needs its evse")
    # Without a register, the transaction's first register (an Updated event's) stands in.
    start_wh = next(iter(registers(event.readings)), None)
    row = await _open(charging, session, event, event.position, start_wh)
    await charging.apply_readings(session, row.connector_id, row.id, event.readings)
    return row


async def _recover(
    charging: Charging, session: AsyncSession, event: TransactionEvent
) -> Transaction:
    """The transaction of an Updated or Ended event whose Started event never reached us.

    It starts when the event happened, as far as we can know; the event's own registers
    then settle the start register like any first register.
    """
    position = event.position
    if position is None:  # the station's only position, else unknown
        known = await connectors.positions(session, charging.charge_point_id)
        position = known[0] if len(known) == 1 else UNKNOWN_POSITION
    logger.warning(
        "%s: transaction %r was never started here; recorded from its %s event (seqNo %d)",
        charging.charge_point_id,
        event.uid,
        event.type.value,
        event.seq_no,
    )
    return await _open(charging, session, event, position, None)


async def _open(
    charging: Charging,
    session: AsyncSession,
    event: TransactionEvent,
    position: int,
    start_wh: int | None,
) -> Transaction:
    begin = transactions.TransactionStart(
        charge_point_id=charging.charge_point_id,
        connector_id=position,
        tag=event.tag or transactions.NOT_IDENTIFIED,
        started_at=event.at,
        meter_start_wh=start_wh,
        uid=event.uid,
        seq_no=event.seq_no,
        remote_start_id=event.remote_start_id,
    )
    if not event.tag:  # none, or 2.x's NoAuthorization token (an empty one): nothing to refuse
        return await transactions.start(session, begin, result=AuthStatus.ACCEPTED.value)
    known = None if position == UNKNOWN_POSITION else position
    auth = await charging.authorize_start(session, event.tag, known)
    row = await transactions.start(session, begin, result=auth.status.value)
    await charging.use_reservation(session, row, auth, event.reservation_id)
    return row


async def _continue(
    charging: Charging,
    session: AsyncSession,
    row: Transaction,
    event: TransactionEvent,
    *,
    identified: bool = False,
) -> _Step:
    replayed = row.seq_no is not None and event.seq_no <= row.seq_no
    _note_sequence(charging, row, event.seq_no)
    if row.remote_start_id is None:
        row.remote_start_id = event.remote_start_id
    # A replay of the event that identified the transaction announces it again: the
    # first answer may have been an error because the payments could not follow it.
    identified = identified or (event.tag is not None and replayed)
    if event.tag is not None and not _is_identified(row):
        known = None if row.connector_id == UNKNOWN_POSITION else row.connector_id
        auth = await charging.authorize_start(session, event.tag, known)
        transactions.identify(row, tag=event.tag, result=auth.status.value)
        await charging.use_reservation(session, row, auth, event.reservation_id)
        identified = True
    if event.type is not EventType.ENDED or row.stop_at is not None:
        at_limit = await charging.apply_readings(session, row.connector_id, row.id, event.readings)
        return _Step(row, _recorded(row), identified, at_limit)
    end = transactions.TransactionStop(
        charge_point_id=charging.charge_point_id,
        transaction_id=row.id,
        tag=event.tag,
        stopped_at=event.at,
        meter_stop_wh=next(reversed(registers(event.readings)), None),
        reason=event.stopped_reason,
    )
    auth = await charging.finish(session, row, end, event.readings)
    return _Step(row, auth, identified, stopped=True)


def _note_sequence(charging: Charging, row: Transaction, seq_no: int) -> None:
    skipped = transactions.note_sequence(row, seq_no)
    if skipped:
        logger.warning(
            "%s: transaction %s skipped %d event(s) before seqNo %d",
            charging.charge_point_id,
            row.uid,
            skipped,
            seq_no,
        )


async def _publish(charging: Charging, step: _Step) -> None:
    row = step.row
    if step.identified:
        await charging.publish_started(row, accepted=row.start_result == AuthStatus.ACCEPTED.value)
    await charging.publish_limits(row.connector_id, step.at_limit)
    if step.stopped:
        await charging.publish_stopped(row)
