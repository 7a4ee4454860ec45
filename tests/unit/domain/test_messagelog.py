"""The batched message log against a real database."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from builders import NOW
from faults import DatabaseProxy, Fault
from ocpp_core.config import DatabaseSettings
from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database
from ocpp_core.domain.messagelog import LogEntry, MessageLog, capped

MAX_BYTES = 4096


def entry(action: str, charge_point_id: Any = "CP1") -> LogEntry:
    return LogEntry(NOW, charge_point_id, "in", action, {"connectorId": 1})


def message_log(db: Database, level: int, max_bytes: int = MAX_BYTES) -> MessageLog:
    return MessageLog(db, level, max_bytes=max_bytes)


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
    log = message_log(db, level)
    for action in ("Heartbeat", "Authorize", "StatusNotification", "MeterValues"):
        log.record(entry(action))
    await log.close()
    assert await actions(db) == expected


async def test_errors_are_kept_at_level_one_but_not_zero(db: Database) -> None:
    assert message_log(db, 1).wants("Heartbeat", always=True)
    assert not message_log(db, 0).wants("Heartbeat", always=True)


async def test_one_bad_entry_is_dropped_and_the_rest_written(db: Database) -> None:
    log = message_log(db, 2)
    log.record(entry("Authorize"))
    log.record(entry("Broken", charge_point_id=None))  # violates NOT NULL on both databases
    log.record(entry("MeterValues"))
    await log.close()
    assert await actions(db) == ["Authorize", "MeterValues"]
    await log.flush()  # nothing left behind to retry
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(MessageLogEntry)) == 2


async def test_close_writes_what_is_still_queued(db: Database) -> None:
    log = message_log(db, 2)
    written = log.record(entry("StopTransaction"))
    await log.close()
    assert written is not None
    assert written.done()
    assert await actions(db) == ["StopTransaction"]


async def test_what_was_recorded_is_written_once_its_batch_is_done(db: Database) -> None:
    """The answer to a charger waits for this: once done, the entry is in the database."""
    log = message_log(db, 1)
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
    log = message_log(db, 2)
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


async def stored(db: Database) -> list[MessageLogEntry]:
    async with db.session() as session:
        return list(await session.scalars(select(MessageLogEntry).order_by(MessageLogEntry.id)))


async def test_a_call_and_its_answer_share_one_row(db: Database) -> None:
    log = message_log(db, 1)
    log.record(replace(entry("Authorize"), answer={"idTagInfo": {"status": "Accepted"}}))
    log.record(
        replace(
            entry("MeterValues"),
            error_code="FormationViolation",
            answer={"errorDescription": "bad", "errorDetails": {}},
        )
    )
    await log.close()
    [authorize, meter] = await stored(db)
    assert orjson.loads(authorize.payload or "") == {"connectorId": 1}
    assert orjson.loads(authorize.answer or "") == {"idTagInfo": {"status": "Accepted"}}
    assert meter.error_code == "FormationViolation"
    assert orjson.loads(meter.answer or "") == {"errorDescription": "bad", "errorDetails": {}}


async def test_every_stored_field_is_capped_with_a_visible_marker(db: Database) -> None:
    huge = {"data": "é" * 100_000}  # two bytes a character: a cut may fall inside one
    details = {"errorDescription": "x" * 300, "errorDetails": {"trace": "y" * 50_000}}
    log = message_log(db, 2, max_bytes=1000)
    log.record(replace(entry("DataTransfer"), payload=huge, answer=details, error_code="E" * 80))
    await log.close()
    [row] = await stored(db)
    assert row.payload is not None
    assert row.answer is not None
    for text, original in ((row.payload, huge), (row.answer, details)):
        size = len(orjson.dumps(original))
        assert len(text.encode()) <= 1000
        assert text.endswith(f"…[truncated, {size} bytes]")
    assert row.payload.startswith('{"data":"éé')
    assert row.error_code == "E" * 50


@pytest.mark.parametrize("size", [1, 999, 1000])
def test_text_within_the_cap_is_kept_whole(size: int) -> None:
    data = b"a" * size
    assert capped(data, 1000) == data.decode()


def test_a_cut_never_splits_a_character() -> None:
    text = capped("€".encode() * 400, 300)  # three bytes each
    assert len(text.encode()) <= 300
    assert text.startswith("€" * 80)
    assert text.endswith("…[truncated, 1200 bytes]")
