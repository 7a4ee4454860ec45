"""Last-seen times, kept in memory and written in batches, against a real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from builders import NOW
from faults import DatabaseProxy, Fault
from ocpp_core.config import DatabaseSettings
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.models import ChargePoint
from ocpp_core.db.session import Database
from ocpp_core.domain import chargepoints
from ocpp_core.domain.chargepoints import NewChargePoint
from ocpp_core.domain.presence import LEASE, Presence, online


@pytest.fixture
async def db(db: Database) -> Database:
    async with db.session() as session:
        for cp in ("CP1", "CP2", "CP3"):
            await chargepoints.add(session, NewChargePoint(cp, no_password=True), now=NOW)
    return db


async def last_seen(db: Database) -> dict[str, object]:
    async with db.session() as session:
        rows = await session.execute(select(ChargePoint.id, ChargePoint.last_seen_at))
        return {row.id: row.last_seen_at for row in rows}


async def test_nothing_is_written_until_a_flush_and_then_all_at_once(db: Database) -> None:
    presence = Presence(db)
    presence.seen("CP1", NOW + timedelta(seconds=1))
    presence.seen("CP2", NOW + timedelta(seconds=2))
    presence.seen("CP1", NOW + timedelta(seconds=3))  # the newest counts
    assert await last_seen(db) == {"CP1": None, "CP2": None, "CP3": None}

    await presence.flush()

    assert await last_seen(db) == {
        "CP1": NOW + timedelta(seconds=3),
        "CP2": NOW + timedelta(seconds=2),
        "CP3": None,
    }


async def test_a_flush_never_moves_a_time_backwards(db: Database) -> None:
    await db.group_execute(  # a boot, written as the server writes it, is newer
        chargepoints.BOOT,
        chargepoints.boot_parameters(
            "CP1",
            chargepoints.BootInfo("Vendor", "Model"),
            protocol="ocpp1.6",
            now=NOW + timedelta(minutes=5),
        ),
    )
    presence = Presence(db)
    presence.seen("CP1", NOW + timedelta(minutes=1))
    presence.seen("CP2", NOW + timedelta(minutes=1))

    await presence.flush()

    assert (await last_seen(db))["CP1"] == NOW + timedelta(minutes=5)
    assert (await last_seen(db))["CP2"] == NOW + timedelta(minutes=1)


async def test_the_version_a_charger_connected_with_is_stored(db: Database) -> None:
    presence = Presence(db)
    presence.seen("CP1", NOW, "ocpp2.0.1")
    presence.seen("CP1", NOW + timedelta(seconds=1))  # a later message keeps the version
    presence.seen("CP2", NOW)

    await presence.flush()

    async with db.session() as session:
        rows = await session.execute(select(ChargePoint.id, ChargePoint.protocol))
        assert {row.id: row.protocol for row in rows} == {
            "CP1": "ocpp2.0.1",
            "CP2": None,
            "CP3": None,
        }
    assert (await last_seen(db))["CP1"] == NOW + timedelta(seconds=1)


async def test_a_deleted_charger_is_skipped_and_close_writes_the_rest(db: Database) -> None:
    presence = Presence(db, flush_interval=3600)
    presence.start()
    presence.seen("GONE", NOW)
    presence.seen("CP3", NOW)

    await presence.close()

    assert (await last_seen(db))["CP3"] == NOW


async def test_what_the_database_refuses_waits_for_the_next_flush(db: Database) -> None:
    presence = Presence(db)
    presence.seen("CP1", NOW)
    await db.close()
    broken = Database("postgresql://nobody@127.0.0.1:9/none")
    presence._db = broken  # the same presence, its database gone
    with pytest.raises(DatabaseUnavailable):
        await presence.flush()
    await broken.close()
    presence._db = db
    presence.seen("CP2", NOW)

    await presence.flush()

    assert await last_seen(db) == {"CP1": NOW, "CP2": NOW, "CP3": None}


@pytest.mark.postgresql
async def test_the_writer_outlives_an_outage_and_writes_what_waited(
    db: Database, db_proxy: DatabaseProxy
) -> None:
    relayed = Database(db_proxy.url(db.url), limits=DatabaseSettings(connect_timeout=1))
    presence = Presence(relayed, flush_interval=0.05)
    presence.start()
    async with db_proxy.outage(Fault.BLACKHOLE):
        presence.seen("CP1", NOW)
        await asyncio.sleep(2)  # rounds fail meanwhile; none may end the writer
    presence.seen("CP2", NOW)
    async with asyncio.timeout(30):
        while True:
            if (await last_seen(db))["CP2"] is not None:
                break
            await asyncio.sleep(0.05)
    await presence.close()
    await relayed.close()
    assert await last_seen(db) == {"CP1": NOW, "CP2": NOW, "CP3": None}


async def connected_ids(db: Database) -> set[str]:
    async with db.session() as session:
        return set(await session.scalars(select(ChargePoint.id).where(online())))


async def test_a_connection_is_written_at_once_and_cleared_by_its_own_close(db: Database) -> None:
    presence = Presence(db, clock=lambda: NOW)
    old = await presence.connected("CP1", "ocpp1.6")
    new = await presence.connected("CP1", "ocpp2.0.1")  # a reconnect replaced the socket

    await presence.disconnected("CP1", old)  # the replaced socket closes after
    assert await connected_ids(db) == {"CP1"}

    await presence.disconnected("CP1", new)
    assert await connected_ids(db) == set()


async def test_the_chargers_of_a_node_that_stopped_renewing_go_offline(db: Database) -> None:
    now = NOW
    dead = Presence(db, clock=lambda: NOW)
    alive = Presence(db, clock=lambda: now)
    await dead.connected("CP1", "ocpp1.6")
    await alive.connected("CP2", "ocpp1.6")

    now = NOW + LEASE + timedelta(seconds=1)
    await alive.renew()

    assert await connected_ids(db) == {"CP2"}


async def test_a_node_that_stops_leaves_its_chargers_offline(db: Database) -> None:
    stopping, other = Presence(db), Presence(db)
    await stopping.connected("CP1", "ocpp1.6")
    await other.connected("CP2", "ocpp1.6")

    await stopping.close()

    assert await connected_ids(db) == {"CP2"}


async def test_the_rows_of_a_dead_nodes_connections_are_released_unless_taken_over(
    db: Database,
) -> None:
    dead, other = Presence(db, clock=lambda: NOW), Presence(db, clock=lambda: NOW)
    cp1 = await dead.connected("CP1", "ocpp1.6")
    cp2 = await dead.connected("CP2", "ocpp1.6")
    await other.connected("CP2", "ocpp1.6")  # CP2 moved before the sweep

    await other.released([("CP1", cp1), ("CP2", cp2)])

    assert await connected_ids(db) == {"CP2"}


async def test_a_node_cut_off_from_the_cluster_reclaims_its_rows_unless_taken_over(
    db: Database,
) -> None:
    cut_off, other = Presence(db, clock=lambda: NOW), Presence(db, clock=lambda: NOW)
    cp1 = await cut_off.connected("CP1", "ocpp1.6")
    cp2 = await cut_off.connected("CP2", "ocpp2.0.1")
    await other.released([("CP1", cp1), ("CP2", cp2)])  # it looked dead
    await other.connected("CP2", "ocpp1.6")  # and CP2 moved meanwhile

    await cut_off.reclaimed([("CP1", cp1, "ocpp1.6"), ("CP2", cp2, "ocpp2.0.1")])

    assert await connected_ids(db) == {"CP1", "CP2"}
    await cut_off.disconnected("CP2", cp2)  # its stale socket closes: CP2 stays on the other
    await cut_off.disconnected("CP1", cp1)
    assert await connected_ids(db) == {"CP2"}


@pytest.mark.postgresql
async def test_a_connect_and_a_disconnect_the_database_refused_are_written_when_it_is_back(
    db: Database, db_proxy: DatabaseProxy
) -> None:
    relayed = Database(db_proxy.url(db.url), limits=DatabaseSettings(connect_timeout=1))
    presence = Presence(relayed, clock=lambda: NOW)
    gone = await presence.connected("CP1", "ocpp1.6")
    async with db_proxy.outage(Fault.REFUSE):
        await presence.disconnected("CP1", gone)
        await presence.connected("CP2", "ocpp1.6")
    assert await connected_ids(db) == {"CP1"}

    await presence.renew()

    assert await connected_ids(db) == {"CP2"}
    await relayed.close()
