"""The transactions an export holds: every one that matches, read in batches, never all at once.

A year of a large fleet is hundreds of thousands of transactions. They are
read newest first in batches of ``BATCH_SIZE``, each batch after the last
one's (start, id): a short read of its own that uses the index on
``(start_at, id)`` and holds no database transaction open while the file is
sent. Each row carries what the export shows (tag names, the reservation's
amount) from one joined query, as plain columns, not ORM objects.

The export covers the transactions that existed when it began: ids only grow,
so the highest id at the start bounds it, and the count taken then (named in
the file) is the number of rows the file holds.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ocpp_core.db.models import ChargeTag, PaymentReservation, Transaction
from ocpp_core.db.session import Database
from ocpp_core.domain import transactions
from ocpp_core.domain.reporting import reservation_cents
from ocpp_core.domain.transactions import TransactionFilter

BATCH_SIZE = 1_000


async def last_id(session: AsyncSession) -> int:
    """The newest transaction's id: the export holds none newer."""
    return await session.scalar(select(func.max(Transaction.id))) or 0


async def count(session: AsyncSession, where: TransactionFilter, *, up_to: int) -> int:
    query = transactions.matching(where).where(Transaction.id <= up_to)
    return await session.scalar(query.with_only_columns(func.count())) or 0


def _rows(where: TransactionFilter, up_to: int) -> Select[*tuple[Any, ...]]:
    start_tag = aliased(ChargeTag)
    stop_tag = aliased(ChargeTag)
    return (
        transactions.matching(where)
        .with_only_columns(  # in the order of the file's columns: rows are unpacked by position
            Transaction.id,
            Transaction.charge_point_id,
            Transaction.connector_id,
            Transaction.start_at,
            Transaction.start_tag,
            start_tag.name.label("start_tag_name"),
            transactions.start_register_column().label("meter_start_wh"),
            Transaction.stop_at,
            Transaction.stop_tag,
            stop_tag.name.label("stop_tag_name"),
            Transaction.meter_stop_wh,
            Transaction.energy_wh,
            Transaction.review_reason,
            reservation_cents().label("cost_cents"),
            PaymentReservation.currency,
            PaymentReservation.status,
        )
        .select_from(Transaction)
        .outerjoin(start_tag, start_tag.id == Transaction.start_tag)
        .outerjoin(stop_tag, stop_tag.id == Transaction.stop_tag)
        .outerjoin(PaymentReservation, PaymentReservation.transaction_id == Transaction.id)
        .where(Transaction.id <= up_to)
        .order_by(Transaction.start_at.desc(), Transaction.id.desc())
        .limit(BATCH_SIZE)
    )


async def batches(
    db: Database, where: TransactionFilter, *, up_to: int
) -> AsyncGenerator[Sequence[Row[Any]]]:
    """The matching transactions up to id ``up_to``, newest first, ``BATCH_SIZE`` at a time."""
    first = _rows(where, up_to)
    after: tuple[datetime, int] | None = None
    while True:
        query = first if after is None else first.where(_before(after))
        async with db.reading() as session:
            rows = (await session.execute(query)).all()
        if rows:
            yield rows
        if len(rows) < BATCH_SIZE:
            return
        after = (rows[-1].start_at, rows[-1].id)


def _before(key: tuple[datetime, int]) -> Any:
    return tuple_(Transaction.start_at, Transaction.id) < key
