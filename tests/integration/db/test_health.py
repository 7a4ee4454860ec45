"""A database that goes away: clear errors in bounded time, one log line, and back by itself.

PostgreSQL is reached through a relay the test cuts (see ``faults``); the
database server itself keeps running for everyone else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from functools import partial

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from builders import NOW
from faults import DatabaseProxy, Fault
from ocpp_core.config import DatabaseSettings
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import ChargePoint
from ocpp_core.db.session import Database

pytestmark = pytest.mark.postgresql

# Short limits, so an outage shows within a second or two; a hang fails the test.
LIMITS = DatabaseSettings(connect_timeout=1, command_timeout=1, pool_timeout=1)
HANG = 30.0


@pytest.fixture
async def db(database_url: str, db_proxy: DatabaseProxy) -> AsyncIterator[Database]:
    await upgrade(database_url)
    database = Database(db_proxy.url(database_url), limits=LIMITS)
    async with database.session() as session:  # a pooled connection the outage will strand
        await session.execute(text("SELECT 1"))
    yield database
    await database.close()


async def add(session: AsyncSession, charge_point_id: str) -> None:
    await session.execute(insert(ChargePoint), [{"id": charge_point_id, "created_at": NOW}])


async def stored(db: Database) -> list[str]:
    async with db.reading() as session:
        return list(await session.scalars(select(ChargePoint.id).order_by(ChargePoint.id)))


@pytest.mark.parametrize("fault", list(Fault))
async def test_every_way_in_fails_clearly_and_works_again_once_it_is_back(
    db: Database, db_proxy: DatabaseProxy, fault: Fault
) -> None:
    async with asyncio.timeout(HANG), db_proxy.outage(fault):
        with pytest.raises(DatabaseUnavailable):
            async with db.session() as session:
                await add(session, "LOST")
        with pytest.raises(DatabaseUnavailable):
            await stored(db)
        with pytest.raises(DatabaseUnavailable):
            await db.group_commit(lambda session: add(session, "LOST-TOO"))
        with pytest.raises(DatabaseUnavailable):
            async with db.connection() as connection:
                await connection.execute(text("SELECT 1"))

    async with asyncio.timeout(HANG):
        async with db.session() as session:
            await add(session, "CP1")
        await db.group_commit(lambda session: add(session, "CP2"))
        assert await stored(db) == ["CP1", "CP2"]


async def test_a_connection_cut_mid_transaction_stores_none_of_it(
    db: Database, db_proxy: DatabaseProxy
) -> None:
    async def cut_halfway(session: AsyncSession) -> None:
        await add(session, "HALF")
        await db_proxy.cut(Fault.REFUSE)
        await add(session, "OTHER-HALF")

    with pytest.raises(DatabaseUnavailable):
        await db.group_commit(cut_halfway)
    await db_proxy.restore()
    assert await stored(db) == []


async def test_a_group_fails_together_in_one_attempt_not_write_by_write(
    db: Database, db_proxy: DatabaseProxy
) -> None:
    """Each write retried alone would wait out its own timeout in turn."""
    await db_proxy.cut(Fault.BLACKHOLE)
    writes = [db.group_commit(partial(add, charge_point_id=f"CP{n}")) for n in range(20)]
    async with asyncio.timeout(HANG):
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
    await db_proxy.restore()
    assert all(isinstance(outcome, DatabaseUnavailable) for outcome in outcomes)
    assert len({id(outcome) for outcome in outcomes}) == 1  # one attempt, one error
    assert await stored(db) == []


async def test_while_the_database_is_silent_one_attempt_waits_and_the_rest_fail_at_once(
    db: Database, db_proxy: DatabaseProxy
) -> None:
    await db_proxy.cut(Fault.BLACKHOLE)
    async with asyncio.timeout(HANG):
        with pytest.raises(DatabaseUnavailable):
            await stored(db)  # waited out its timeout: the database is silent
        probe = asyncio.create_task(stored(db))
        await asyncio.sleep(0)  # the probe is on its way to the database
        with pytest.raises(DatabaseUnavailable):
            await stored(db)
        assert not probe.done()  # refused while the probe still waits
        with pytest.raises(DatabaseUnavailable):
            await db.group_commit(lambda session: add(session, "LOST"))
        assert not probe.done()
        with pytest.raises(DatabaseUnavailable):
            await probe
    await db_proxy.restore()
    assert await stored(db) == []


async def test_an_outage_is_logged_once_per_kind_and_its_end_once(
    db: Database, db_proxy: DatabaseProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with db_proxy.outage(Fault.REFUSE):
        for _ in range(50):
            with pytest.raises(DatabaseUnavailable):
                await stored(db)
    await stored(db)
    await stored(db)

    # The connection pooled a moment before the cut is not pinged (see session):
    # the first attempt finds it closed, the other 49 are refused a connection.
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(lines) == 3, lines
    (level, closed), (level_refused, refused), (level_back, back) = lines
    assert level == level_refused == "ERROR"
    assert closed.startswith("the database is unreachable (DBAPIError")
    assert refused.startswith("the database is unreachable (ConnectionRefusedError")
    assert level_back == "WARNING"
    assert back.startswith("the database answers again after")
    assert "50 attempts failed" in back
    assert all(record.exc_info is None for record in caplog.records)
