"""Three ``ocpp-core server`` nodes behind a real HAProxy, as the README sets it up.

Chargers of both versions connect through HAProxy and land on every node; the
API through HAProxy reaches each of them wherever it is. A node killed with
SIGKILL while its chargers send MeterValues and Heartbeats: HAProxy's health
checks mark it down, its chargers reconnect through HAProxy to the other two as
real chargers do (again and again, a short back-off between tries), every
message they got an answer for is in the database, and commands reach them again.
A node stopped with SIGTERM the same: it closes its chargers' sockets and its
port, HAProxy's next checks find it down, and its chargers move to the others.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

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
from servers import ServerProcess

pytestmark = [pytest.mark.postgresql, pytest.mark.long]

FLEET = [f"LB-{n:02}" for n in range(30)]  # even: 1.6, odd: 2.0.1


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, FLEET, [])
    return database_url


async def chargers_on(server: ServerProcess) -> int:
    """The sockets a node holds, as its /health (which needs no key) counts them."""
    async with httpx.AsyncClient(timeout=10) as client:
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


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
async def test_a_node_gone_under_load_loses_nothing_answered_and_its_chargers_come_back(
    fleet: str, tmp_path: Path, prefix: str, redis: Redis, stop: signal.Signals
) -> None:
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        cluster(fleet, tmp_path, prefix) as (nodes, balancer),
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

        nodes["b"].process.send_signal(stop)
        assert await nodes["b"].process.wait() == (0 if stop == signal.SIGTERM else -stop)
        counts = [len(charger.answered_readings) for charger in chargers]
        await balancer.until({"a": "UP", "b": "DOWN", "c": "UP"})
        await until_all_answered_since(chargers, counts, progress)

        # Only b's chargers lost their connection; each is back, on a or c.
        assert {charger.charge_point_id for charger in chargers if charger.lost.is_set()} == victims
        assert all(charger.connections == 2 for charger in chargers if charger.lost.is_set())
        now_on = await node_of_each(redis, prefix)
        assert set(now_on) == set(FLEET)
        assert {now_on[cp] for cp in victims} <= {f"{prefix}-a", f"{prefix}-c"}

        async with api(balancer) as client:
            for charger in chargers:
                if charger.charge_point_id not in victims:
                    continue
                answer = await client.get(f"/API/Reset/{charger.charge_point_id}/Hard")
                assert (answer.status_code, answer.json()) == (200, {"status": "Accepted"})
                assert charger.current is not None
                assert [action for action, _ in charger.current.requests] == ["Reset"]

        for task in tasks:
            task.cancel()

    await all_answered_stored(fleet, chargers)
