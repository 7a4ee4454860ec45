"""The batched message log against a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from builders import NOW
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database
from ocpp_core.domain.messagelog import LogEntry, MessageLog


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    await upgrade(database_url)
    database = Database(database_url)
    yield database
    await database.close()


def entry(action: str, charge_point_id: Any = "CP1") -> LogEntry:
    return LogEntry(NOW, charge_point_id, "in", action, {"connectorId": 1})


async def actions(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(select(MessageLogEntry).order_by(MessageLogEntry.id))
        return [row.action for row in rows]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (0, []),
        (1, ["Authorize", "MeterValues"]),
        (2, ["Heartbeat", "Authorize", "StatusNotification", "MeterValues"]),
    ],
)
async def test_levels_choose_what_is_kept(db: Database, level: int, expected: list[str]) -> None:
    log = MessageLog(db, level)
    for action in ("Heartbeat", "Authorize", "StatusNotification", "MeterValues"):
        log.record(entry(action))
    await log.flush()
    assert await actions(db) == expected


async def test_errors_are_kept_at_level_one_but_not_zero(db: Database) -> None:
    assert MessageLog(db, 1).wants("Heartbeat", always=True)
    assert not MessageLog(db, 0).wants("Heartbeat", always=True)


async def test_one_bad_entry_is_dropped_and_the_rest_written(db: Database) -> None:
    log = MessageLog(db, 2)
    log.record(entry("Authorize"))
    log.record(entry("Broken", charge_point_id=None))  # violates NOT NULL on both databases
    log.record(entry("MeterValues"))
    await log.flush()
    assert await actions(db) == ["Authorize", "MeterValues"]
    await log.flush()  # nothing left behind to retry
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(MessageLogEntry)) == 2


async def test_close_writes_what_is_still_queued(db: Database) -> None:
    log = MessageLog(db, 2, flush_interval=60)
    log.start()
    log.record(entry("StopTransaction"))
    await log.close()
    assert await actions(db) == ["StopTransaction"]
