"""Which node syncs which list: claims in the database, as every node of a cluster makes them.

Claims are all these tests make (no command is sent), so the nodes here are two
``Lists`` on two engines of one database, as two processes would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from builders import NOW, add_charge_point
from ocpp_core.db.models import ChargePoint, LocalList
from ocpp_core.db.session import Database
from ocpp_core.domain import local_lists
from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.commands import Command
from ocpp_core.domain.local_lists import BATCH, CLAIM, Lists

CHARGERS = [f"CP{number:02}" for number in range(BATCH + 5)]


async def never_sent(charge_point_id: str, command: Command) -> CommandResult:
    raise AssertionError(f"a claim sends nothing, yet {command} went to {charge_point_id}")


def node(db: Database, at: datetime = NOW) -> Lists:
    return Lists(db, never_sent, lambda: at)


@pytest.fixture
async def other_db(migrated: str) -> AsyncIterator[Database]:
    second = Database(migrated)
    yield second
    await second.close()


async def assigned(db: Database, ids: list[str], *, online: bool = True) -> None:
    for charge_point_id in ids:
        await add_charge_point(db, charge_point_id)
        async with db.session() as session:
            await local_lists.assign(session, charge_point_id, group=None, now=NOW)
    if online:
        async with db.session() as session:
            await session.execute(
                update(ChargePoint).where(ChargePoint.id.in_(ids)).values(online_node="n/1")
            )


async def test_two_nodes_never_claim_the_same_list(db: Database, other_db: Database) -> None:
    await assigned(db, CHARGERS)
    first, second = await asyncio.gather(node(db).claim(), node(other_db).claim())
    assert len(first) == BATCH
    assert set(first).isdisjoint(second)
    rest = await node(db).claim()
    assert sorted(first + second + rest) == CHARGERS
    assert await node(other_db).claim() == []


async def test_a_dead_nodes_claim_is_taken_over_when_its_lease_ends(db: Database) -> None:
    await assigned(db, ["CP1"])
    assert await node(db).claim() == ["CP1"]
    assert await node(db, NOW + CLAIM - timedelta(seconds=1)).claim() == []
    assert await node(db, NOW + CLAIM + timedelta(seconds=1)).claim() == ["CP1"]


async def test_lists_of_offline_chargers_and_lists_to_retry_later_wait(db: Database) -> None:
    await assigned(db, ["OFF"], online=False)
    await assigned(db, ["LATER"])
    async with db.session() as session:
        await session.execute(
            update(LocalList)
            .where(LocalList.charge_point_id == "LATER")
            .values(retry_at=NOW + timedelta(minutes=1))
        )
    assert await node(db).claim() == []
    # An operator's sync claims a list whether it is due or not.
    assert await node(db).claim("LATER") == ["LATER"]


async def test_a_sync_that_cannot_reach_the_charger_is_retried_later(db: Database) -> None:
    await assigned(db, ["CP1"])

    async def offline(charge_point_id: str, command: Command) -> CommandResult:
        return CommandResult(Outcome.OFFLINE)

    lists = Lists(db, offline, lambda: NOW)
    assert await lists.claim() == ["CP1"]
    synced = await lists.sync("CP1")
    assert synced.result == "ChargerOffline"
    async with db.session() as session:
        row = await session.get(LocalList, "CP1")
    assert row is not None
    assert (row.claimed_until, row.checked_at) == (None, None)  # still due
    assert row.retry_at == NOW + local_lists.RETRY_AFTER


async def test_an_unassigned_list_is_not_synced(db: Database) -> None:
    assert (await node(db).sync("NOPE")).result == "NotAssigned"


async def test_the_sweep_runs_until_stopped(db: Database) -> None:
    await assigned(db, ["CP1"])
    asked = asyncio.Event()

    async def offline(charge_point_id: str, command: Command) -> CommandResult:
        asked.set()
        return CommandResult(Outcome.OFFLINE)

    sweeping = asyncio.create_task(local_lists.run_forever(Lists(db, offline, lambda: NOW), 0.01))
    async with asyncio.timeout(10):
        await asked.wait()
    sweeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sweeping
    await local_lists.run_forever(node(db), 0)  # 0: no sweep on this node, returns at once
