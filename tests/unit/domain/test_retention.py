"""The message log's retention against a real database: old rows go in small batches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select

from builders import NOW
from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database
from ocpp_core.domain.retention import run_forever, sweep_once

DAYS = 30


async def fill(db: Database, *, old: int, recent: int) -> None:
    """``old`` rows from before the retention, ``recent`` from within it."""
    ages = [timedelta(days=DAYS, minutes=n + 1) for n in range(old)]
    ages += [timedelta(days=DAYS) - timedelta(minutes=n + 1) for n in range(recent)]
    rows = [
        {"logged_at": NOW - age, "charge_point_id": "CP1", "direction": "in", "action": "X"}
        for age in ages
    ]
    async with db.session() as session:
        await session.execute(insert(MessageLogEntry), rows)


async def ages_kept(db: Database) -> list[timedelta]:
    async with db.session() as session:
        times = await session.scalars(select(MessageLogEntry.logged_at))
        return sorted(NOW - at for at in times)


@pytest.fixture
def deletes(db: Database) -> Iterator[list[str]]:
    """The DELETE statements the database is sent."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            sent.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    yield sent
    event.remove(db.engine.sync_engine, "before_cursor_execute", seen)


async def test_rows_older_than_the_retention_go_a_batch_per_statement(
    db: Database, deletes: list[str]
) -> None:
    await fill(db, old=50, recent=10)

    deleted = await sweep_once(db, DAYS, now=NOW, batch=7)

    assert deleted == 50
    assert len(deletes) == 8  # seven full batches, then the last one short
    assert all("LIMIT" in statement.upper() for statement in deletes)
    kept = await ages_kept(db)
    assert len(kept) == 10
    assert max(kept) < timedelta(days=DAYS)


async def test_two_sweeps_at_once_delete_each_row_once(db: Database) -> None:
    await fill(db, old=40, recent=5)

    both = await asyncio.gather(
        sweep_once(db, DAYS, now=NOW, batch=6), sweep_once(db, DAYS, now=NOW, batch=6)
    )

    assert sum(both) == 40
    assert len(await ages_kept(db)) == 5
    assert await sweep_once(db, DAYS, now=NOW) == 0  # and once more: nothing left to do


async def test_zero_days_keeps_the_log_for_ever(db: Database) -> None:
    await fill(db, old=3, recent=0)
    await run_forever(db, 0, lambda: NOW)  # returns at once: there is nothing to sweep
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(MessageLogEntry)) == 3
