"""Redis restarted empty under load, three ``ocpp-core server`` nodes behind HAProxy.

The nodes share a Redis of the test's own. While chargers send MeterValues and
Heartbeats through HAProxy and commands go to every charger through every
node, Redis is killed and started again without its data. Each call made
meanwhile ends clearly, well within the command timeout: answered, or refused
with a JSON body (503 ClusterUnavailable while the node can't route through
Redis, 404 ChargerOffline until the holder has written its charger again),
never a 500. A call already on its way when Redis died, whose answer can't
come back, ends at once with the timeout error (the charger may have had the
CALL), not at the command timeout. Afterwards the nodes have written their
chargers again and commands cross nodes again, by themselves; every message
the chargers got an answer for is in the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call_result
from redis.asyncio import Redis

from balanced_cluster import (
    SCENARIO_TIMEOUT,
    RoamingCharger,
    all_answered_stored,
    cluster,
    node_of_each,
    until_all_answered_since,
)
from cli_harness import provision
from cluster_harness import COMMAND_TIMEOUT, api, charger16, redis_server
from servers import ServerProcess

pytestmark = [pytest.mark.postgresql, pytest.mark.long]

FLEET = [f"RR-{n:02}" for n in range(12)]  # even: 1.6, odd: 2.0.1
RECOVERED_WITHIN = 30.0  # seconds from Redis's return to a fleet present and reachable again
CALL_EVERY = 0.05  # seconds between one caller's commands
CLEAR = {
    (200, "Accepted"),
    (503, "ClusterUnavailable"),  # Redis is away, or this node not yet listening to it again
    (404, "ChargerOffline"),  # Redis is back, but empty: the holder writes its chargers again
}
IN_FLIGHT = (200, "Timeout")  # a call on its way when Redis died: its answer can't come back
GATED = "RR-GATED"  # a 1.6 charger on node a that answers ClearCache when the test says


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, [*FLEET, GATED], [])
    return database_url


@dataclass
class Caller:
    """Commands to every charger through one node, one after the other, until told to stop."""

    client: httpx.AsyncClient
    answers: list[Answer] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        while not self.stop.is_set():
            for charge_point_id in FLEET:
                self.answers.append(await timed(self.client, f"/API/ClearCache/{charge_point_id}"))
                await asyncio.sleep(CALL_EVERY)


@dataclass(frozen=True)
class Answer:
    sent_at: float  # time.monotonic()
    code: int
    status: str
    took: float

    @property
    def outcome(self) -> tuple[int, str]:
        return self.code, self.status


async def timed(client: httpx.AsyncClient, path: str) -> Answer:
    sent_at = time.monotonic()
    answer = await client.get(path)
    status = answer.json()["status"]  # a JSON body, whatever the code
    return Answer(sent_at, answer.status_code, status, time.monotonic() - sent_at)


@asynccontextmanager
async def gated(url: str) -> AsyncIterator[tuple[asyncio.Event, asyncio.Event]]:
    """A charger that, asked to clear its cache, says so (first event) and answers once
    the second is set."""
    asked, release = asyncio.Event(), asyncio.Event()

    async def answer_later(**_: Any) -> call_result.ClearCache:
        asked.set()
        await release.wait()
        return call_result.ClearCache(status="Accepted")

    async with charger16(url) as charger:
        charger.route_map["ClearCache"] = {"_on_action": answer_later}
        yield asked, release


async def until(check: Callable[[], Awaitable[bool]], deadline: float) -> None:
    """Until ``check`` holds: the state lives in other processes and Redis, polled."""
    async with asyncio.timeout(deadline):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def reachable_across(nodes: dict[str, ServerProcess], redis: Redis, prefix: str) -> bool:
    """Every charger present in Redis, and answering a command through a node that lacks it."""
    holders = await node_of_each(redis, prefix)
    if not set(FLEET) <= set(holders):
        return False
    for charge_point_id in FLEET:
        holder = holders[charge_point_id]
        other = next(s for name, s in nodes.items() if f"{prefix}-{name}" != holder)
        async with api(other) as client:
            answer = await client.get(f"/API/ClearCache/{charge_point_id}")
        if (answer.status_code, answer.json()["status"]) != (200, "Accepted"):
            return False
    return True


async def test_presence_and_routing_recover_by_themselves_after_redis_restarts_under_load(
    fleet: str, tmp_path: Path, prefix: str
) -> None:
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        redis_server(tmp_path) as first,
        Redis(port=first.port) as redis,
        cluster(fleet, tmp_path, prefix, redis_url=first.url) as (nodes, balancer),
        gated(nodes["a"].ws_url(GATED)) as (asked, release),
        api(nodes["b"]) as through_b,
        asyncio.TaskGroup() as group,
    ):
        progress = asyncio.Condition()
        roaming = [RoamingCharger(cp, balancer.ws_url(cp), progress) for cp in FLEET]
        load = [group.create_task(charger.run()) for charger in roaming]
        await until_all_answered_since(roaming, [0] * len(roaming), progress)
        assert await reachable_across(nodes, redis, prefix)

        callers = [Caller(api(server)) for server in nodes.values()]
        calling = [group.create_task(caller.run()) for caller in callers]
        on_its_way = group.create_task(timed(through_b, f"/API/ClearCache/{GATED}"))
        await asked.wait()  # a sent the CALL; the charger answers only once Redis is gone
        killed_at = time.monotonic()
        await first.kill()
        release.set()
        counts = [len(caller.answers) for caller in callers]

        async def refused_on_every_node() -> bool:
            return all(
                (503, "ClusterUnavailable") in {a.outcome for a in caller.answers[count:]}
                for caller, count in zip(callers, counts, strict=True)
            )

        await until(refused_on_every_node, COMMAND_TIMEOUT)
        readings = [len(charger.answered_readings) for charger in roaming]

        async with redis_server(tmp_path, first.port):
            await until(lambda: reachable_across(nodes, redis, prefix), RECOVERED_WITHIN)
            await until_all_answered_since(roaming, readings, progress)
            for caller in callers:
                caller.stop.set()
            await asyncio.gather(*calling)
            for task in load:
                task.cancel()

    answers = [answer for caller in callers for answer in caller.answers]
    for caller in callers:
        await caller.client.aclose()
    lost = on_its_way.result()
    assert lost.outcome == IN_FLIGHT
    for answer in [*answers, lost]:
        # Never a wait for an answer that can't come: each call ends well before the timeout.
        assert answer.took < COMMAND_TIMEOUT / 2, answer
        if answer.sent_at < killed_at:
            assert answer.outcome in {*CLEAR, IN_FLIGHT}, answer
        else:
            assert answer.outcome in CLEAR, answer
    await all_answered_stored(fleet, roaming)
