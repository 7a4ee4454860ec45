"""MeterValues applied a group at a time: the same judgement, a few statements, real database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import pytest
from sqlalchemy import select, update

from builders import NOW, add_charge_point
from ocpp_core.db.models import Connector, MeterAnomaly, Transaction
from ocpp_core.db.session import Database
from ocpp_core.domain import connectors, meter_batches, transactions
from ocpp_core.domain.meter import MeterReading
from ocpp_core.domain.meter_batches import MeterMessage
from ocpp_core.domain.transactions import StartSource, TransactionStart

CP = "CP-BATCH-1"
OTHER_CP = "CP-BATCH-2"
MAX_POWER_W = 22_000
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def db(db: Database) -> Database:
    await add_charge_point(db, CP)
    await add_charge_point(db, OTHER_CP)
    return db


async def start(
    db: Database, *, connector_id: int = 1, meter_start_wh: int = 1000, cp: str = CP
) -> int:
    async with db.session() as session:
        begin = TransactionStart(cp, connector_id, "DRIVER", NOW, meter_start_wh)
        return (await transactions.start(session, begin, result="Accepted")).id


def reading(
    energy_wh: int | None = None, *, power_w: int | None = None, current_ma: int | None = None
) -> MeterReading:
    return MeterReading(energy_wh, power_w, current_ma, None, None)


def message(
    transaction_id: int | None,
    *readings: tuple[datetime, MeterReading],
    connector_id: int = 1,
    cp: str = CP,
) -> MeterMessage:
    return MeterMessage(cp, connector_id, transaction_id, readings, MAX_POWER_W, NOW)


async def apply_together(db: Database, *messages: MeterMessage) -> list[dict[int, int]]:
    """The messages in one group commit, as MeterValues arriving together are."""
    return list(
        await asyncio.gather(*(db.group_batch(meter_batches.apply_messages, m) for m in messages))
    )


async def apply_traced(db: Database, *messages: MeterMessage) -> list[str]:
    """Apply the messages as their group commit does; the statements its driver ran."""
    async with db.session() as session:
        # The session's first statement begins PostgreSQL's transaction, as a group's
        # other writes often do; then the driver runs all of the messages' statements.
        await session.execute(select(1))
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        async with tracing(db, driver) as sent:
            await meter_batches.apply_messages(session, list(messages))
    return sent


@asynccontextmanager
async def tracing(db: Database, driver: Any) -> AsyncIterator[list[str]]:
    sent: list[str] = []
    if db.is_sqlite:
        await driver.set_trace_callback(sent.append)
        try:
            yield sent
        finally:
            await driver.set_trace_callback(None)
        return
    with driver.query_logger(lambda query: sent.append(query.query)):
        yield sent


def kinds(sent: list[str]) -> list[str]:
    """The statements' kinds; SQLite traces each row of an executemany, asyncpg the call."""
    words = (sql.split()[0].upper() for sql in sent)
    return [kind for kind, _ in groupby(words) if kind in {"SELECT", "UPDATE", "INSERT"}]


def shape(sql: str) -> str:
    """The statement without its values: SQLite's trace shows them in place of each ?."""
    return re.sub(r"'[^']*'|\$?\b\d+\b", "?", sql)


async def transaction(db: Database, transaction_id: int) -> Transaction:
    async with db.reading() as session:
        row = await session.get(Transaction, transaction_id)
        assert row is not None
        return row


async def anomalies(db: Database) -> list[tuple[str, int, int | None, int | None]]:
    async with db.reading() as session:
        query = select(
            MeterAnomaly.reason,
            MeterAnomaly.value_wh,
            MeterAnomaly.previous_wh,
            MeterAnomaly.transaction_id,
        ).order_by(MeterAnomaly.id)
        return [tuple(row) for row in await session.execute(query)]  # type: ignore[misc]


async def connector(db: Database, connector_id: int = 1, cp: str = CP) -> Connector:
    async with db.reading() as session:
        row = await connectors.find(session, cp, connector_id)
        assert row is not None
        return row


async def test_readings_of_one_transaction_in_a_group_are_judged_one_after_the_other(
    db: Database,
) -> None:
    tx = await start(db)
    await apply_together(
        db,
        message(tx, (NOW + MINUTE, reading(1200))),
        message(tx, (NOW + 2 * MINUTE, reading(1100))),  # below the one before: decreasing
        message(tx, (NOW + 3 * MINUTE, reading(1400))),
    )
    row = await transaction(db, tx)
    assert (row.last_meter_wh, row.last_meter_at) == (1400, NOW + 3 * MINUTE)
    assert await anomalies(db) == [("decreasing", 1100, 1200, tx)]
    live = await connector(db)
    assert (live.meter_wh, live.meter_at) == (1400, NOW + 3 * MINUTE)


async def test_a_jump_is_kept_apart_and_its_neighbours_are_applied(db: Database) -> None:
    first, second = await start(db, connector_id=1), await start(db, connector_id=2)
    await apply_together(
        db,
        message(first, (NOW + MINUTE, reading(1_000_000))),
        message(second, (NOW + MINUTE, reading(1200)), connector_id=2),
    )
    assert await anomalies(db) == [("jump", 1_000_000, 1000, first)]
    assert (await transaction(db, first)).last_meter_wh is None
    assert (await transaction(db, second)).last_meter_wh == 1200
    async with db.reading() as session:  # nothing plausible to show on the first connector
        assert await connectors.find(session, CP, 1) is None
    assert (await connector(db, 2)).meter_wh == 1200


async def test_live_values_merge_and_a_missing_value_keeps_the_stored_one(db: Database) -> None:
    tx = await start(db)
    await apply_together(db, message(tx, (NOW + MINUTE, reading(1100, current_ma=16_000))))
    await apply_together(
        db,
        message(tx, (NOW + 2 * MINUTE, reading(power_w=11_000))),
        message(tx, (NOW + 3 * MINUTE, reading(1300))),
    )
    live = await connector(db)
    assert (live.power_w, live.current_ma, live.meter_wh) == (11_000, 16_000, 1300)


async def test_each_kind_of_statement_is_one_call_of_the_driver_for_the_whole_group(
    db: Database,
) -> None:
    ids = [await start(db, connector_id=n) for n in range(1, 6)]
    sent = await apply_traced(
        db,
        *(
            message(tx, (NOW + MINUTE, reading(1100, power_w=7000)), connector_id=n)
            for n, tx in enumerate(ids, start=1)
        ),
    )
    # Read the transactions; update their registers; upsert the connectors' values.
    assert kinds(sent) == ["SELECT", "UPDATE", "INSERT"]
    assert [(await transaction(db, tx)).last_meter_wh for tx in ids] == [1100] * 5
    assert [(await connector(db, n)).power_w for n in range(1, 6)] == [7000] * 5


async def test_a_reading_outside_a_transaction_is_judged_by_the_connectors_register(
    db: Database,
) -> None:
    await apply_together(db, message(None, (NOW, reading(5000)), cp=OTHER_CP))
    others = await start(db, cp=OTHER_CP)
    await apply_together(
        db,
        # Another charger's transaction id names no transaction of this one.
        message(others, (NOW + MINUTE, reading(4000)), cp=CP),
        message(None, (NOW + MINUTE, reading(3000)), cp=OTHER_CP, connector_id=2),
        message(None, (NOW + 2 * MINUTE, reading(10_000_000)), cp=OTHER_CP, connector_id=2),
    )
    assert await anomalies(db) == [("jump", 10_000_000, 3000, None)]
    assert (await connector(db, 1, CP)).meter_wh == 4000
    assert (await transaction(db, others)).last_meter_wh is None


async def test_the_running_transaction_is_found_by_its_connector(db: Database) -> None:
    older = await start(db)
    newer = await start(db, meter_start_wh=2000)
    await apply_together(db, message(None, (NOW + MINUTE, reading(2100))))
    assert (await transaction(db, newer)).last_meter_wh == 2100
    assert (await transaction(db, older)).last_meter_wh is None


async def test_the_first_register_settles_a_placeholder_start_register(db: Database) -> None:
    tx = await start(db, meter_start_wh=0)
    await apply_together(db, message(tx, (NOW + MINUTE, reading(5_000_000))))
    row = await transaction(db, tx)
    assert (row.meter_start_wh, row.meter_start_source) == (5_000_000, StartSource.REPLACED_ZERO)
    assert (row.last_meter_wh, row.last_meter_at) == (5_000_000, NOW + MINUTE)
    assert await anomalies(db) == []


async def test_a_transaction_at_its_energy_limit_is_reported(db: Database) -> None:
    capped, free = await start(db, connector_id=1), await start(db, connector_id=2)
    async with db.session() as session:
        await session.execute(
            update(Transaction).where(Transaction.id == capped).values(energy_limit_wh=500)
        )
    results = await apply_together(
        db,
        message(capped, (NOW + 10 * MINUTE, reading(1400)), (NOW + 11 * MINUTE, reading(1600))),
        message(free, (NOW + 10 * MINUTE, reading(1600)), connector_id=2),
    )
    assert results == [{capped: 600}, {}]


async def test_groups_of_different_sizes_read_with_the_same_statement(db: Database) -> None:
    ids = [await start(db, connector_id=n) for n in range(1, 6)]
    selects: list[str] = []
    for count in (1, 3, 5):  # PostgreSQL prepares each distinct statement anew
        batch = [message(tx, (NOW + count * MINUTE, reading(1000 + count))) for tx in ids[:count]]
        sent = await apply_traced(db, *(replace(m, connector_id=n) for n, m in enumerate(batch, 1)))
        selects += [shape(sql) for sql in sent if sql.startswith("SELECT")]
    assert len(selects) == 3
    assert len(set(selects)) == 1
    assert [(await transaction(db, tx)).last_meter_wh for tx in ids] == [1005] * 5
