"""The batched message log against a real database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from builders import NOW
from faults import DatabaseProxy, Fault
from ocpp_core.config import DatabaseSettings
from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database
from ocpp_core.domain.messagelog import LogEntry, MessageLog


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
    await log.close()
    assert await actions(db) == expected


async def test_errors_are_kept_at_level_one_but_not_zero(db: Database) -> None:
    assert MessageLog(db, 1).wants("Heartbeat", always=True)
    assert not MessageLog(db, 0).wants("Heartbeat", always=True)


async def test_one_bad_entry_is_dropped_and_the_rest_written(db: Database) -> None:
    log = MessageLog(db, 2)
    log.record(entry("Authorize"))
    log.record(entry("Broken", charge_point_id=None))  # violates NOT NULL on both databases
    log.record(entry("MeterValues"))
    await log.close()
    assert await actions(db) == ["Authorize", "MeterValues"]
    await log.flush()  # nothing left behind to retry
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(MessageLogEntry)) == 2


async def test_close_writes_what_is_still_queued(db: Database) -> None:
    log = MessageLog(db, 2)
    written = log.record(entry("StopTransaction"))
    await log.close()
    assert written is not None
    assert written.done()
    assert await actions(db) == ["StopTransaction"]


async def test_what_was_recorded_is_written_once_its_batch_is_done(db: Database) -> None:
    """The answer to a charger waits for this: once done, the entry is in the database."""
    log = MessageLog(db, 1)
    first = log.record(entry("Authorize"))
    second = log.record(entry("MeterValues"))
    assert log.record(entry("Heartbeat")) is None  # not kept at level 1: nothing to wait for
    assert first is not None
    assert second is not None
    await first
    assert await actions(db) == ["Authorize", "MeterValues"]
    later = log.record(entry("StopTransaction"))
    assert later is not None
    await later
    assert await actions(db) == ["Authorize", "MeterValues", "StopTransaction"]
    await log.close()


@pytest.mark.postgresql
async def test_while_the_database_is_away_waiters_hear_so_and_our_calls_wait(
    migrated: str, db_proxy: DatabaseProxy
) -> None:
    """A charger's entry is not kept (the charger resends); our own calls' entries are."""
    db = Database(db_proxy.url(migrated), limits=DatabaseSettings(connect_timeout=1))
    log = MessageLog(db, 2)
    async with db_proxy.outage(Fault.REFUSE):
        ours = log.record(LogEntry(NOW, "CP1", "out", "RemoteStartTransaction", {"idTag": "T"}))
        theirs = log.record(entry("StartTransaction"))
        assert ours is not None
        assert theirs is not None
        assert await theirs is False
        assert await ours is False
    later = log.record(entry("MeterValues"))
    assert later is not None
    assert await later is True
    await log.close()
    await db.close()
    reading = Database(migrated)
    assert await actions(reading) == ["RemoteStartTransaction", "MeterValues"]
    await reading.close()
