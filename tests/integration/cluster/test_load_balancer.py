"""Three ``ocpp-core server`` nodes behind a real HAProxy, as the README sets it up.

Chargers of both versions connect through HAProxy and land on every node; the
API through HAProxy reaches each of them wherever it is. A node killed with
SIGKILL while its chargers send MeterValues and Heartbeats: HAProxy's health
checks mark it down, its chargers reconnect through HAProxy to the other two as
real chargers do (again and again, a short back-off between tries), every
message they got an answer for is in the database, and commands reach them again.
A node stopped with SIGTERM drains first (``server.drain_seconds``, its default):
HAProxy's checks find it down while it still serves its chargers, the chargers
that connect meanwhile are all served (HAProxy retries a 503 from the draining
node on another), and only then does it close its chargers with 1001; they move
to the others the same way.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from balanced_cluster import (
    SCENARIO_TIMEOUT,
    RoamingCharger,
    all_answered_stored,
    cluster,
    node_of_each,
    speaks_201,
    until_all_answered_since,
)
from chargers import TestCharger, TestCharger201
from cli_harness import provision
from cluster_harness import api, charger16, charger201
from haproxy_harness import Balancer
from servers import API_KEY, ServerProcess

pytestmark = [pytest.mark.postgresql, pytest.mark.long]

FLEET = [f"LB-{n:02}" for n in range(30)]  # even: 1.6, odd: 2.0.1
NEWCOMERS = [f"LB-{n:02}" for n in range(30, 90)]  # connecting during a drain


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, [*FLEET, *NEWCOMERS], [])
    return database_url


async def chargers_on(server: ServerProcess) -> int:
    """The sockets a node holds, as its /health counts them for the API key."""
    async with httpx.AsyncClient(timeout=10, headers={"X-API-Key": API_KEY}) as client:
        return int((await client.get(f"{server.http_url}/health")).json()["chargers"])


async def test_chargers_through_haproxy_land_on_every_node_and_any_call_reaches_them(
    fleet: str, tmp_path: Path, prefix: str
) -> None:
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        cluster(fleet, tmp_path, prefix) as (nodes, balancer),
        AsyncExitStack() as stack,
    ):
        chargers: dict[str, TestCharger | TestCharger201] = {}
        for charge_point_id in FLEET:
            booted = charger201 if speaks_201(charge_point_id) else charger16
            url = balancer.ws_url(charge_point_id)
            chargers[charge_point_id] = await stack.enter_async_context(booted(url))

        held = [await chargers_on(server) for server in nodes.values()]
        assert sum(held) == len(FLEET)
        assert min(held) >= len(FLEET) // 6  # leastconn spread them; none left out

        async with api(balancer) as client:
            for charge_point_id, charger in chargers.items():
                answer = await client.get(f"/API/Reset/{charge_point_id}/Hard")
                assert (answer.status_code, answer.json()) == (200, {"status": "Accepted"})
                assert [action for action, _ in charger.requests] == ["Reset"]


@dataclass
class Roaming:
    """The three nodes behind HAProxy and a fleet of roaming chargers, all answered."""

    nodes: dict[str, ServerProcess]
    balancer: Balancer
    group: asyncio.TaskGroup
    chargers: list[RoamingCharger]
    progress: asyncio.Condition
    victims: set[str]  # the chargers node b holds

    def counts(self) -> list[int]:
        return [len(charger.answered_readings) for charger in self.chargers]


@asynccontextmanager
async def roaming(
    database_url: str, folder: Path, prefix: str, redis: Redis
) -> AsyncIterator[Roaming]:
    """The fleet under load through HAProxy; after the test's work, every answer is stored."""
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        cluster(database_url, folder, prefix) as (nodes, balancer),
        asyncio.TaskGroup() as group,
    ):
        progress = asyncio.Condition()
        chargers = [RoamingCharger(cp, balancer.ws_url(cp), progress) for cp in FLEET]
        tasks = [group.create_task(charger.run()) for charger in chargers]
        await until_all_answered_since(chargers, [0] * len(chargers), progress)
        on = await node_of_each(redis, prefix)
        victims = {cp for cp, node_id in on.items() if node_id == f"{prefix}-b"}
        assert victims, "leastconn gave node b no charger"
        assert not any(charger.lost.is_set() for charger in chargers)
        yield Roaming(nodes, balancer, group, chargers, progress, victims)
        for task in tasks:
            task.cancel()
    await all_answered_stored(database_url, chargers)


async def test_a_node_killed_under_load_loses_nothing_answered_and_its_chargers_come_back(
    fleet: str, tmp_path: Path, prefix: str, redis: Redis
) -> None:
    async with roaming(fleet, tmp_path, prefix, redis) as fleet_:
        b = fleet_.nodes["b"].process
        b.kill()
        assert await b.wait() == -signal.SIGKILL
        counts = fleet_.counts()
        await fleet_.balancer.until({"a": "UP", "b": "DOWN", "c": "UP"})
        await until_all_answered_since(fleet_.chargers, counts, fleet_.progress)
        await moved_and_reachable(fleet_, redis, prefix)


async def test_a_node_stopped_under_load_drains_behind_haproxy_first(
    fleet: str, tmp_path: Path, prefix: str, redis: Redis
) -> None:
    async with roaming(fleet, tmp_path, prefix, redis) as fleet_:
        b = fleet_.nodes["b"].process
        b.send_signal(signal.SIGTERM)
        arrivals = fleet_.group.create_task(newcomers(fleet_.balancer, b))
        await fleet_.balancer.until({"a": "UP", "b": "DOWN", "c": "UP"})
        # Down at HAProxy while b still serves its chargers: none was cut.
        assert b.returncode is None
        assert not any(charger.lost.is_set() for charger in fleet_.chargers)
        assert await b.wait() == 0
        counts = fleet_.counts()
        connected, refused = await arrivals
        assert refused == []
        assert len(connected) >= 3, "too few chargers connected during the drain to tell"
        assert int((await fleet_.balancer.stats())["b"]["wretr"]) > 0  # b's 503s, retried

        await until_all_answered_since(fleet_.chargers, counts, fleet_.progress)
        await moved_and_reachable(fleet_, redis, prefix)
        for charger in fleet_.chargers:
            expected = [1001] if charger.charge_point_id in fleet_.victims else []
            assert charger.close_codes == expected, charger.charge_point_id


async def newcomers(
    balancer: Balancer, draining: asyncio.subprocess.Process
) -> tuple[list[str], list[str]]:
    """New chargers connecting through HAProxy, one after another, until the node has exited.

    Each is booted and stays connected; the ids that connected, and the failures.
    """
    connected: list[str] = []
    refused: list[str] = []
    async with AsyncExitStack() as stack:
        for charge_point_id in NEWCOMERS:
            if draining.returncode is not None:
                break
            booted = charger201 if speaks_201(charge_point_id) else charger16
            try:
                await stack.enter_async_context(booted(balancer.ws_url(charge_point_id)))
            except (InvalidHandshake, ConnectionClosed, OSError) as error:
                refused.append(f"{charge_point_id}: {error!r}")
            else:
                connected.append(charge_point_id)
            await asyncio.sleep(0.1)
    return connected, refused


async def moved_and_reachable(fleet: Roaming, redis: Redis, prefix: str) -> None:
    """Only b's chargers lost their connection; each is back, on a or c, and commands reach it."""
    chargers, victims = fleet.chargers, fleet.victims
    assert {charger.charge_point_id for charger in chargers if charger.lost.is_set()} == victims
    assert all(charger.connections == 2 for charger in chargers if charger.lost.is_set())
    now_on = await node_of_each(redis, prefix)
    assert set(FLEET) <= set(now_on)
    assert {now_on[cp] for cp in victims} <= {f"{prefix}-a", f"{prefix}-c"}

    async with api(fleet.balancer) as client:
        for charger in chargers:
            if charger.charge_point_id not in victims:
                continue
            answer = await client.get(f"/API/Reset/{charger.charge_point_id}/Hard")
            assert (answer.status_code, answer.json()) == (200, {"status": "Accepted"})
            assert charger.current is not None
            assert [action for action, _ in charger.current.requests] == ["Reset"]
