"""Statements run by the driver: the same values as through the session, in its transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from builders import NOW
from ocpp_core.db.models import MessageLogEntry, StripeWebhookEvent
from ocpp_core.db.prepared import Prepared
from ocpp_core.db.session import Database

_table = cast(Table, MessageLogEntry.__table__)
_COLUMNS = ("logged_at", "charge_point_id", "connector_id", "direction", "action", "payload")
_INSERT = Prepared(lambda _: insert(_table), _COLUMNS)
# A literal ("in") as well as bound parameters: the statement holds the literal's value.
_SELECT = Prepared(
    lambda _: (
        select(*(_table.c[name] for name in _COLUMNS))
        .where(_table.c.direction == "in", _table.c.charge_point_id == bindparam("cp"))
        .order_by(_table.c.id)
    )
)


def row(charge_point_id: str, n: int) -> dict[str, Any]:
    return {
        "logged_at": NOW + timedelta(microseconds=n),
        "charge_point_id": charge_point_id,
        "connector_id": n or None,
        "direction": "in",
        "action": "MeterValues",
        "payload": '{"ü": 1}',
    }


async def stored(db: Database) -> list[tuple[Any, ...]]:
    async with db.reading() as session:
        query = select(*(_table.c[name] for name in _COLUMNS)).order_by(_table.c.id)
        return [tuple(found) for found in await session.execute(query)]


async def test_rows_written_and_read_by_the_driver_are_the_sessions_rows(db: Database) -> None:
    async with db.session() as session:
        await _INSERT.execute_many(session, [row("CP-1", 0), row("CP-1", 1)])
        await session.execute(insert(_table), [row("CP-1", 2)])
        await _INSERT.execute_many(session, [row("CP-2", 3)])
        read = await _SELECT.fetch(session, {"cp": "CP-1"})
    expected = [tuple(row(cp, n).values()) for cp, n in (("CP-1", 0), ("CP-1", 1), ("CP-1", 2))]
    assert read == expected
    assert read[0][0].tzinfo is not None  # aware UTC, as the session gives it
    assert await stored(db) == [*expected, tuple(row("CP-2", 3).values())]


async def write_then_fail(db: Database, *, session_first: bool) -> None:
    async with db.session() as session:
        if session_first:  # PostgreSQL's transaction then begins before the driver's writes
            await session.execute(select(func.count()).select_from(_table))
        await _INSERT.execute_many(session, [row("CP-1", 0)])
        await _INSERT.execute_many(session, [row("CP-1", 1)])
        raise RuntimeError("the unit of work failed")


@pytest.mark.parametrize("session_first", [False, True])
async def test_the_drivers_writes_roll_back_with_the_session(
    db: Database, session_first: bool
) -> None:
    with pytest.raises(RuntimeError, match="unit of work"):
        await write_then_fail(db, session_first=session_first)
    assert await stored(db) == []


async def test_an_in_of_the_statements_own_values_runs_as_through_the_session(
    db: Database,
) -> None:
    """SQLAlchemy renders such an IN at each execution; the driver gets it rendered once."""
    query = (
        select(_table.c.charge_point_id, _table.c.logged_at)
        .where(
            _table.c.charge_point_id.in_(["CP-1", "CP-3"]), _table.c.logged_at >= bindparam("at")
        )
        .order_by(_table.c.id)
    )
    among = Prepared(lambda _: query)
    async with db.session() as session:
        await _INSERT.execute_many(
            session, [row(cp, n) for n, cp in enumerate(("CP-1", "CP-2", "CP-3"))]
        )
        read = await among.fetch(session, {"at": NOW + timedelta(microseconds=1)})
        expected = [
            tuple(found)
            for found in await session.execute(query, {"at": NOW + timedelta(microseconds=1)})
        ]
    assert read == expected == [("CP-3", NOW + timedelta(microseconds=2))]


async def insert_twice(db: Database, insert_event: Prepared) -> None:
    event = {"id": "evt_1", "type": "checkout.session.completed", "processed_at": NOW}
    async with db.session() as session:
        await session.execute(select(func.count()).select_from(_table))  # in a transaction
        await insert_event.execute_many(session, [event])
        await insert_event.execute_many(session, [event])


async def test_a_constraint_the_driver_reports_is_sqlalchemys_integrity_error(db: Database) -> None:
    insert_event = Prepared(lambda _: insert(StripeWebhookEvent), ("id", "type", "processed_at"))
    with pytest.raises(IntegrityError):
        await insert_twice(db, insert_event)
    async with db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(StripeWebhookEvent)) == 0
