"""Transactions: start, meter samples, stop, and the energy that may be billed.

Energy comes from the start and stop registers, cross-checked with the samples
seen in between; a result no charger can produce is stored with a review reason
and no billable energy, so nothing downstream bills it blindly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import MeterAnomaly, Transaction
from ocpp_core.domain.authorization import AuthStatus
from ocpp_core.domain.commands import RemoteStop
from ocpp_core.domain.meter import END_CONTEXT, JUMP, implausibility

# The tag of a transaction the charger started before anyone identified (2.0.1 can
# start at plug-in); a later event names the tag, and only then is it "started" for us.
NOT_IDENTIFIED = "NotIdentified"


class StartSource(StrEnum):
    """Where a transaction's start register came from; the first two may still change."""

    # The charger said 0. Often true (a new meter), but common firmware counts from 0
    # at the start and then sends its lifetime register: the first register decides.
    REPORTED_ZERO = "ReportedZero"
    # None at the start (2.0.1 allows it: the register follows in an Updated event).
    MISSING = "Missing"
    REPORTED = "Reported"
    # The transaction's first register took the place of a missing start register.
    FIRST_REGISTER = "FirstRegister"
    # ... or of a reported 0 that the first register proved a placeholder.
    REPLACED_ZERO = "ReplacedZero"


PENDING = frozenset({StartSource.REPORTED_ZERO, StartSource.MISSING})
# Stored while the start register is unknown: negative, so anything that reads the column
# alone (an export, a node running an older version) sees an impossible register, not a 0
# that would bill the whole meter.
UNKNOWN_REGISTER_WH = -1


class Register(Protocol):
    """The columns of a transaction that its meter readings read and change.

    The ORM row is one; a batch of MeterValues works on plain copies of these
    columns instead (see :mod:`.meter_batches`), so the rules below serve both.
    """

    id: int
    start_at: datetime
    stop_at: datetime | None
    meter_start_wh: int
    meter_start_source: str
    last_meter_wh: int | None
    last_meter_at: datetime | None
    energy_wh: int | None
    energy_limit_wh: int | None


@dataclass(frozen=True, slots=True)
class TransactionStart:
    charge_point_id: str
    connector_id: int
    tag: str
    started_at: datetime
    meter_start_wh: int | None  # None: the charger sent no register with the start
    uid: str | None = None
    seq_no: int | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None  # the operator's reservation the charger says it used


@dataclass(frozen=True, slots=True)
class TransactionStop:
    charge_point_id: str
    transaction_id: int
    tag: str | None
    stopped_at: datetime
    meter_stop_wh: int | None  # None: the charger sent no register with the stop
    reason: str


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    charge_point_id: str | None = None
    connector_id: int | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 1000


async def find_replay(session: AsyncSession, begin: TransactionStart) -> Transaction | None:
    """The transaction an identical earlier start created: chargers resend unanswered calls."""
    if begin.uid is not None:
        return await find_by_uid(session, begin.charge_point_id, begin.uid)
    same_register = Transaction.meter_start_wh == _or_unknown(begin.meter_start_wh)
    if begin.meter_start_wh == 0:  # which the transaction's first register may have replaced
        same_register = or_(
            same_register, Transaction.meter_start_source == StartSource.REPLACED_ZERO
        )
    return await session.scalar(
        select(Transaction).where(
            Transaction.charge_point_id == begin.charge_point_id,
            Transaction.connector_id == begin.connector_id,
            Transaction.start_tag == begin.tag,
            Transaction.start_at == begin.started_at,
            same_register,
        )
    )


async def start(session: AsyncSession, begin: TransactionStart, *, result: str) -> Transaction:
    """Record every start, accepted or not, so the charger's later stop finds its row."""
    row = Transaction(
        uid=begin.uid,
        charge_point_id=begin.charge_point_id,
        connector_id=begin.connector_id,
        start_tag=begin.tag,
        start_at=begin.started_at,
        meter_start_wh=_or_unknown(begin.meter_start_wh),
        meter_start_source=_source_of(begin.meter_start_wh),
        start_result=result,
        seq_no=begin.seq_no,
        seq_gaps=0,
        remote_start_id=begin.remote_start_id,
    )
    session.add(row)
    await session.flush()
    return row


def _or_unknown(register_wh: int | None) -> int:
    return UNKNOWN_REGISTER_WH if register_wh is None else register_wh


def _source_of(register_wh: int | None) -> StartSource:
    if register_wh is None:
        return StartSource.MISSING
    return StartSource.REPORTED_ZERO if register_wh == 0 else StartSource.REPORTED


async def find_open(
    session: AsyncSession, charge_point_id: str, transaction_id: int
) -> Transaction | None:
    return await session.scalar(
        select(Transaction).where(
            Transaction.id == transaction_id,
            Transaction.charge_point_id == charge_point_id,
            Transaction.stop_at.is_(None),
        )
    )


def accepted() -> ColumnElement[bool]:
    """Transactions whose start the server accepted; a refused one charged nobody."""
    return Transaction.start_result == AuthStatus.ACCEPTED.value


def running() -> ColumnElement[bool]:
    """Transactions something charges under: open, and started with an accepted id.

    A start answered Invalid, Blocked, Expired or ConcurrentTx is recorded and stays
    open until the charger stops it (its StopTransaction must still find the row), but
    it keeps no connector busy and is nobody's to stop.
    """
    return and_(Transaction.stop_at.is_(None), accepted())


def holding() -> ColumnElement[bool]:
    """Running transactions that keep another driver off their connector.

    All but one nobody has identified yet (2.0.1 can start at plug-in): that one is the
    car of the driver about to identify, whose start takes it over.
    """
    return and_(running(), Transaction.start_tag != NOT_IDENTIFIED)


async def running_on(
    session: AsyncSession, charge_point_id: str, connector_id: int
) -> Transaction | None:
    """The newest transaction running on a connector."""
    return await session.scalar(
        select(Transaction)
        .where(
            Transaction.charge_point_id == charge_point_id,
            Transaction.connector_id == connector_id,
            running(),
        )
        .order_by(Transaction.id.desc())
        .limit(1)
    )


def start_register(row: Register) -> int | None:
    """The register billing starts from; None while the transaction has none."""
    if row.meter_start_source == StartSource.MISSING:
        return None
    return row.meter_start_wh


def start_register_column() -> ColumnElement[int | None]:
    """:func:`start_register` in SQL, for reading many transactions without loading each."""
    return case(
        (Transaction.meter_start_source == StartSource.MISSING.value, None),
        else_=Transaction.meter_start_wh,
    )


def settle_start(
    row: Register, *, register_wh: int, at: datetime, context: str | None, max_power_w: int
) -> None:
    """Let the transaction's first register settle a start register the charger left open.

    A missing start takes it. A reported 0 stays, unless the first register cannot follow
    from 0 (the lifetime register of firmware that reports 0 at the start); billing then
    starts from that register, and a jump later in the session is still a jump. An end
    register never stands in for the start: it would bill nothing.
    """
    source = StartSource(row.meter_start_source)
    if source not in PENDING or register_wh < 0 or context == END_CONTEXT:
        return
    if source is StartSource.REPORTED_ZERO and not _is_jump_from_zero(
        row, register_wh, at, max_power_w
    ):
        row.meter_start_source = StartSource.REPORTED
        return
    row.meter_start_wh = register_wh
    row.meter_start_source = (
        StartSource.REPLACED_ZERO
        if source is StartSource.REPORTED_ZERO
        else StartSource.FIRST_REGISTER
    )
    record_sample(row, energy_wh=register_wh, at=at)


def _is_jump_from_zero(row: Register, register_wh: int, at: datetime, max_power_w: int) -> bool:
    reason = implausibility(
        previous_wh=0,
        previous_at=row.start_at,
        new_wh=register_wh,
        new_at=at,
        max_power_w=max_power_w,
    )
    return reason == "jump"


def record_sample(row: Register, *, energy_wh: int, at: datetime) -> None:
    """Keep the newest register seen during the transaction (samples may arrive late)."""
    if row.last_meter_at is None or at >= row.last_meter_at:
        row.last_meter_wh = energy_wh
        row.last_meter_at = at


def energy_so_far(row: Register, live_wh: int | None = None) -> int | None:
    """What the transaction delivered up to its newest register; None while unknowable.

    ``live_wh``: the connector's meter as last shown, which may be newer than the samples.
    """
    if row.stop_at is not None:
        return row.energy_wh  # as the stop settled it: None while under review
    start = start_register(row)
    if start is None or row.meter_start_source in PENDING:
        return None
    seen = [wh for wh in (row.last_meter_wh, live_wh) if wh is not None]
    return max(0, max(seen, default=start) - start)


def limit_reached(row: Register, register_wh: int) -> int | None:
    """The energy delivered so far, if the register took the transaction to its limit."""
    delivered = energy_so_far(row, register_wh)
    if row.energy_limit_wh is None or delivered is None or delivered < row.energy_limit_wh:
        return None
    return delivered


def stop_register(row: Transaction, reported_wh: int | None) -> int | None:
    """The register a transaction ends on: the charger's own, else the newest one seen."""
    if reported_wh is not None:
        return reported_wh
    if row.last_meter_wh is not None:
        return row.last_meter_wh
    return start_register(row)


async def lowest_jump(session: AsyncSession, transaction_id: int) -> int | None:
    """The lowest register of the transaction's readings kept apart as a jump, if any."""
    query = select(func.min(MeterAnomaly.value_wh)).where(
        MeterAnomaly.transaction_id == transaction_id, MeterAnomaly.reason == JUMP
    )
    return await session.scalar(query)


async def close(
    session: AsyncSession, row: Transaction, end: TransactionStop, *, max_power_w: int
) -> None:
    """Close the transaction with the checks of :func:`stop`, whoever ends it: the
    charger's stop, or a sweep that finds the charger never told."""
    stop(row, end, max_power_w=max_power_w, lowest_jump_wh=await lowest_jump(session, row.id))


def stop(
    row: Transaction, end: TransactionStop, *, max_power_w: int, lowest_jump_wh: int | None
) -> None:
    """Close the transaction and settle its energy, or leave it to a person.

    ``lowest_jump_wh``: the lowest register the session jumped to (see
    :func:`lowest_jump`). A stop register at or above it has the jump in it: once
    enough time has passed at the fastest charger's power the jumped register looks
    plausible again, so checking the stop register against the start alone would
    bill the jump. A jump the meter came back down from was a glitch; it is ignored.
    """
    row.stop_tag = end.tag
    row.stop_at = end.stopped_at
    row.meter_stop_wh = stop_register(row, end.meter_stop_wh)
    row.stop_reason = end.reason
    problem = _energy_problem(row, max_power_w) or _jump_problem(row, lowest_jump_wh)
    row.review_reason = problem
    stop_wh = row.meter_stop_wh
    row.energy_wh = None if problem or stop_wh is None else stop_wh - row.meter_start_wh


def _jump_problem(row: Transaction, lowest_jump_wh: int | None) -> str | None:
    stop_wh = row.meter_stop_wh
    if lowest_jump_wh is None or stop_wh is None or stop_wh < lowest_jump_wh:
        return None
    return f"stop register includes a jump to {lowest_jump_wh} Wh"


def _energy_problem(row: Transaction, max_power_w: int) -> str | None:
    assert row.stop_at is not None
    if row.meter_start_source == StartSource.MISSING or row.meter_stop_wh is None:
        return "no start register"
    if row.meter_start_wh < 0:
        return "negative start register"
    if row.last_meter_wh is not None and row.meter_stop_wh < row.last_meter_wh:
        return f"stop register below sampled {row.last_meter_wh} Wh"
    reason = implausibility(
        previous_wh=row.meter_start_wh,
        previous_at=row.start_at,
        new_wh=row.meter_stop_wh,
        new_at=row.stop_at,
        max_power_w=max_power_w,
    )
    return f"stop register {reason}" if reason else None


async def get(session: AsyncSession, transaction_id: int) -> Transaction | None:
    return await session.get(Transaction, transaction_id)


async def search(session: AsyncSession, where: TransactionFilter) -> Sequence[Transaction]:
    query = matching(where).order_by(Transaction.start_at.desc()).limit(where.limit)
    return (await session.scalars(query)).all()


def matching(where: TransactionFilter) -> Select[Transaction]:
    """The transactions the filter asks for, in no order: the caller orders and limits."""
    conditions = []
    if where.charge_point_id is not None:
        conditions.append(Transaction.charge_point_id == where.charge_point_id)
    if where.connector_id is not None:
        conditions.append(Transaction.connector_id == where.connector_id)
    if where.tag is not None:
        conditions.append(Transaction.start_tag == where.tag)
    if where.since is not None:
        conditions.append(Transaction.start_at >= where.since)
    if where.until is not None:
        conditions.append(Transaction.start_at < where.until)
    return select(Transaction).where(*conditions)


async def find_by_uid(session: AsyncSession, charge_point_id: str, uid: str) -> Transaction | None:
    """The transaction the charger names with its own id, open or not."""
    return await session.scalar(
        select(Transaction)
        .where(Transaction.charge_point_id == charge_point_id, Transaction.uid == uid)
        .order_by(Transaction.id.desc())
        .limit(1)
    )


def note_sequence(row: Transaction, seq_no: int) -> int:
    """Keep the highest event number; how many numbers this one skipped (events we never got).

    A number at or below the highest is a late or replayed event and skips nothing.
    """
    skipped = 0 if row.seq_no is None else max(0, seq_no - row.seq_no - 1)
    row.seq_gaps += skipped
    if row.seq_no is None or seq_no > row.seq_no:
        row.seq_no = seq_no
    return skipped


def identify(row: Transaction, *, tag: str, result: str) -> None:
    """Give a transaction its tag when the charger started it before anyone identified."""
    row.start_tag = tag
    row.start_result = result


async def stop_command(session: AsyncSession, transaction_id: int) -> RemoteStop:
    """The command that stops this transaction, naming it the way its charger knows it."""
    row = await session.get(Transaction, transaction_id)
    return RemoteStop(transaction_id, row.uid if row is not None else None)
