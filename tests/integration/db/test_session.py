"""Pooled connections: PostgreSQL's checked when they have idled, not at every checkout;
SQLite's rolled back when handed back only if a transaction is open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.models import StripeWebhookEvent
from ocpp_core.db.prepared import Prepared
from ocpp_core.db.session import IDLE_BEFORE_PING, Database

_BACKEND = Prepared(lambda _: select(func.pg_backend_pid()))


class SteppedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
async def pooled(migrated: str, clock: SteppedClock) -> AsyncIterator[Database]:
    database = Database(migrated, clock=clock)
    yield database
    await database.close()


async def backend(db: Database) -> int:
    """The server process behind the connection a unit of work gets from the pool."""
    async with db.reading() as session:
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def terminate(db: Database, pid: int) -> None:
    """Kill ``pid`` from another connection, behind its pool's back, and wait until it is gone."""
    async with db.reading() as session:
        gone = await session.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    assert gone is True


@pytest.mark.postgresql
async def test_a_connection_killed_while_idle_is_replaced_without_an_error(
    pooled: Database, db: Database, clock: SteppedClock
) -> None:
    killed = await backend(pooled)
    await terminate(db, killed)
    clock.now += IDLE_BEFORE_PING + 1

    replacement = await backend(pooled)

    assert replacement != killed
    assert await backend(pooled) == replacement  # pooled again, not reconnected every time


@pytest.mark.postgresql
async def test_a_connection_killed_just_after_use_fails_one_unit_of_work_then_all_are_replaced(
    pooled: Database, db: Database
) -> None:
    """Not pinged, so not caught before use: SQLAlchemy's disconnect detection renews the pool."""
    killed = await backend(pooled)
    await terminate(db, killed)

    with pytest.raises(DatabaseUnavailable):
        await backend(pooled)
    assert await backend(pooled) != killed


@pytest.mark.postgresql
async def test_a_unit_of_work_begun_by_the_driver_on_a_killed_connection_fails_the_same_way(
    pooled: Database, db: Database
) -> None:
    """A statement run by the driver first (db.prepared) begins the transaction itself."""
    killed = await backend(pooled)
    await terminate(db, killed)

    with pytest.raises(DatabaseUnavailable):
        async with pooled.session() as session:
            await _BACKEND.fetch(session, {})
    assert await backend(pooled) != killed


async def test_a_connection_handed_back_in_a_transaction_is_rolled_back(db: Database) -> None:
    """SQLite's pool rolls back only a connection with a transaction open (a committed unit
    of work has none); this one wrote through the driver, behind SQLAlchemy's back."""
    if not db.is_sqlite:
        pytest.skip("SQLite's reset; PostgreSQL's is SQLAlchemy's own")
    async with db.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute(
            "INSERT INTO stripe_webhook_events (id, type, processed_at) VALUES ('evt_1', 'x', ?)",
            ("2026-12-05 00:00:00",),
        )
        assert driver.in_transaction

    async with db.reading() as session:  # the same pooled connection: the only one
        count = await session.scalar(select(func.count()).select_from(StripeWebhookEvent))
    assert count == 0
