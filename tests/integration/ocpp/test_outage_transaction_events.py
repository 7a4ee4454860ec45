"""A 2.0.1 transaction across a PostgreSQL outage: errors meanwhile, each event stored once.

The server reaches its database through a relay the test cuts (see ``faults``);
the 1.6 messages get the same treatment in a server process of its own (see
``integration/server/test_database_outage.py``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from builders import NOW, add_charge_point, add_tag
from chargers import TestCharger201
from events201 import energy, transaction_event
from faults import DatabaseProxy, Fault
from ocpp_core.config import DatabaseSettings, Settings
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.models import MeterAnomaly, Transaction
from servers import ConnectCharger201, RunningServer

pytestmark = pytest.mark.postgresql

LIMITS = DatabaseSettings(connect_timeout=1, command_timeout=2, pool_timeout=2)


@pytest.fixture
def settings(settings: Settings, database_url: str, db_proxy: DatabaseProxy) -> Settings:
    relayed = db_proxy.url(database_url)
    return settings.model_copy(update={"database_url": relayed, "database": LIMITS})


async def event(cp: TestCharger201, kind: str, uid: str, seq_no: int, minute: int, wh: int) -> bool:
    """Whether the charger got a success; the ``ocpp`` library answers None to a CALLERROR.

    Each transaction on its own EVSE: tx-1 on 1, tx-2 on 2.
    """
    at = NOW + timedelta(minutes=minute)
    answer = await transaction_event(
        cp,
        kind,
        uid,
        seq_no,
        at,
        trigger="MeterValuePeriodic" if kind == "Updated" else "Authorized",
        evse=int(uid[-1]),
        tag="TAG1",
        meter=[energy(wh, at)],
    )
    return answer is not None


async def until_the_database_answers(server: RunningServer) -> None:
    """As a charger's next try would find it: a background attempt (a sweep) that was
    waiting on the silent database when it came back keeps refusing the others at once
    until its own timeout (see ``db.health``)."""
    async with asyncio.timeout(3 * LIMITS.command_timeout):
        while True:
            try:
                async with server.runtime.db.reading() as session:
                    await session.execute(select(1))
                return
            except DatabaseUnavailable:
                await asyncio.sleep(0.05)


@pytest.mark.parametrize("fault", list(Fault))
async def test_transaction_events_are_resent_after_an_outage_and_stored_once(
    server: RunningServer,
    charger201: ConnectCharger201,
    db_proxy: DatabaseProxy,
    fault: Fault,
) -> None:
    await add_charge_point(server.runtime.db, "CP201")
    await add_tag(server.runtime.db, "TAG1")
    cp = await charger201("CP201")
    assert await event(cp, "Started", "tx-1", 0, 0, 200_000)

    async with db_proxy.outage(fault):
        assert not await event(cp, "Updated", "tx-1", 1, 10, 205_000)
        assert not await event(cp, "Started", "tx-2", 0, 10, 300_000)
    await until_the_database_answers(server)
    # The charger resends what got an error, in order; then the sessions go on.
    assert await event(cp, "Updated", "tx-1", 1, 10, 205_000)
    assert await event(cp, "Started", "tx-2", 0, 10, 300_000)
    assert await event(cp, "Updated", "tx-1", 1, 10, 205_000)  # once more: a replay
    assert await event(cp, "Ended", "tx-1", 2, 20, 210_000)
    assert await event(cp, "Ended", "tx-2", 1, 20, 301_000)

    async with server.runtime.db.reading() as session:
        rows = (await session.scalars(select(Transaction).order_by(Transaction.id))).all()
        anomalies = (await session.scalars(select(MeterAnomaly))).all()
    assert [(row.uid, row.energy_wh, row.seq_gaps) for row in rows] == [
        ("tx-1", 10_000, 0),
        ("tx-2", 1_000, 0),
    ]
    assert anomalies == []
