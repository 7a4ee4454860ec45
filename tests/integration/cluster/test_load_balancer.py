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
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.v16 import call
from ocpp.v201 import call as call201
from redis.asyncio import Redis
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from chargers import SchemaCheckedConnection, TestCharger, TestCharger201
from cli_harness import provision
from cluster_harness import api, charger16, charger201, node
from haproxy_harness import Balancer, haproxy
from ocpp_core.cluster.presence import Holder
from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database
from servers import API_KEY, ServerProcess

pytestmark = [pytest.mark.postgresql, pytest.mark.long]

NODES = ("a", "b", "c")
FLEET = [f"LB-{n:02}" for n in range(30)]  # even: 1.6, odd: 2.0.1
NEWCOMERS = [f"LB-{n:02}" for n in range(30, 90)]  # connecting during a drain
SCENARIO_TIMEOUT = 180.0  # a hang fails the test instead of the run
SEND_EVERY = 0.3  # seconds between a charger's messages
RETRY_AFTER = 0.5  # a charger's back-off before it connects again


def speaks_201(charge_point_id: str) -> bool:
    return int(charge_point_id[-2:]) % 2 == 1


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, [*FLEET, *NEWCOMERS], [])
    return database_url


@asynccontextmanager
async def cluster(
    database_url: str, folder: Path, prefix: str
) -> AsyncIterator[tuple[dict[str, ServerProcess], Balancer]]:
    """The three nodes and HAProxy in front of them."""
    async with AsyncExitStack() as stack:
        nodes = {
            name: await stack.enter_async_context(node(database_url, folder, name, prefix))
            for name in NODES
        }
        balancer = await stack.enter_async_context(
            haproxy(folder, {name: server.port for name, server in nodes.items()})
        )
        yield nodes, balancer


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


class RoamingCharger:
    """A charger as they are in the field: on a lost connection it connects again.

    Through the balancer, after a short back-off, as often as it takes; each time
    it boots, then sends MeterValues (each with a reading of its own, counting up)
    and now and then a Heartbeat. It notes what it got an answer for.
    """

    def __init__(self, charge_point_id: str, url: str, progress: asyncio.Condition) -> None:
        self.charge_point_id = charge_point_id
        self.url = url
        self.progress = progress  # notified at each answered reading
        self.answered_readings: list[int] = []
        self.answered_heartbeats = 0
        self.connections = 0
        self.current: TestCharger | TestCharger201 | None = None
        self.lost = asyncio.Event()
        self.close_codes: list[int] = []  # of each connection the node closed

    async def run(self) -> None:
        reading = 0
        while True:
            try:
                async with connect(self.url, subprotocols=[self._subprotocol()]) as ws:
                    charger = self._charger(ws)
                    listening = asyncio.create_task(charger.start())
                    try:
                        await self._ask(charger, listening, self._boot())
                        self.connections += 1
                        self.current = charger
                        while True:
                            reading += 1
                            if reading % 5 == 0:
                                await self._ask(charger, listening, self._heartbeat())
                                self.answered_heartbeats += 1
                            await self._ask(charger, listening, self._meter_values(reading))
                            self.answered_readings.append(reading)
                            async with self.progress:
                                self.progress.notify_all()
                            await asyncio.sleep(SEND_EVERY)
                    finally:
                        self.current = None
                        listening.cancel()
                        await asyncio.gather(listening, return_exceptions=True)
                        if ws.close_code is not None:
                            self.close_codes.append(ws.close_code)
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                # Refused (by the balancer too: a 503 when no node is up) or cut: try again.
                self.lost.set()
                await asyncio.sleep(RETRY_AFTER)

    async def _ask(
        self, charger: TestCharger | TestCharger201, listening: asyncio.Task[None], request: Any
    ) -> None:
        """The answer, or ConnectionClosed as soon as the socket is gone."""
        asking = asyncio.create_task(charger.call(request))
        await asyncio.wait([asking, listening], return_when=asyncio.FIRST_COMPLETED)
        if not asking.done():
            asking.cancel()
            await asyncio.gather(asking, return_exceptions=True)
            raise ConnectionClosed(None, None)
        asking.result()

    def _subprotocol(self) -> Subprotocol:
        return Subprotocol("ocpp2.0.1" if speaks_201(self.charge_point_id) else "ocpp1.6")

    def _charger(self, ws: Any) -> TestCharger | TestCharger201:
        if speaks_201(self.charge_point_id):
            return TestCharger201(self.charge_point_id, SchemaCheckedConnection(ws, "2.0.1"))
        return TestCharger(self.charge_point_id, SchemaCheckedConnection(ws))

    def _boot(self) -> Any:
        if speaks_201(self.charge_point_id):
            return call201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        return call.BootNotification(charge_point_model="M", charge_point_vendor="V")

    def _heartbeat(self) -> Any:
        return call201.Heartbeat() if speaks_201(self.charge_point_id) else call.Heartbeat()

    def _meter_values(self, reading: int) -> Any:
        now = datetime.now(UTC).isoformat()
        if speaks_201(self.charge_point_id):
            return call201.MeterValues(
                evse_id=1, meter_value=[{"timestamp": now, "sampled_value": [{"value": reading}]}]
            )
        return call.MeterValues(
            connector_id=1,
            meter_value=[{"timestamp": now, "sampled_value": [{"value": str(reading)}]}],
        )


async def logged(database_url: str) -> tuple[dict[str, set[int]], Counter[str]]:
    """Each charger's readings and its number of Heartbeats in the message log."""
    db = Database(database_url)
    try:
        async with db.reading() as session:
            query = select(
                MessageLogEntry.charge_point_id, MessageLogEntry.action, MessageLogEntry.payload
            ).where(MessageLogEntry.direction == "in")
            rows = (await session.execute(query)).all()
    finally:
        await db.close()
    readings: dict[str, set[int]] = {}
    heartbeats: Counter[str] = Counter()
    for charge_point_id, action, payload in rows:
        if action == "Heartbeat":
            heartbeats[charge_point_id] += 1
        elif action == "MeterValues" and payload is not None:
            sample = json.loads(payload)["meterValue"][0]["sampledValue"][0]
            readings.setdefault(charge_point_id, set()).add(int(float(sample["value"])))
    return readings, heartbeats


async def node_of_each(redis: Redis, prefix: str) -> dict[str, str]:
    """Which node holds each charger, as the cluster's presence in Redis says."""
    entries = await redis.hgetall(f"{prefix}:chargers")
    return {text(cp): Holder.decode(text(holder)).node_id for cp, holder in entries.items()}


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def until_all_answered_since(
    chargers: list[RoamingCharger], counts: list[int], progress: asyncio.Condition
) -> None:
    """Until every charger got answers for two more readings than ``counts``."""
    async with progress:
        await progress.wait_for(
            lambda: all(
                len(charger.answered_readings) >= count + 2
                for charger, count in zip(chargers, counts, strict=True)
            )
        )


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
        victims = await under_load(chargers, progress, redis, prefix)
        yield Roaming(nodes, balancer, group, chargers, progress, victims)
        for task in tasks:
            task.cancel()
    await nothing_answered_lost(database_url, chargers)


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


async def under_load(
    chargers: list[RoamingCharger], progress: asyncio.Condition, redis: Redis, prefix: str
) -> set[str]:
    """Once every charger has answers: the chargers node b holds."""
    await until_all_answered_since(chargers, [0] * len(chargers), progress)
    on = await node_of_each(redis, prefix)
    victims = {cp for cp, node_id in on.items() if node_id == f"{prefix}-b"}
    assert victims, "leastconn gave node b no charger"
    assert not any(charger.lost.is_set() for charger in chargers)
    return victims


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


async def nothing_answered_lost(database_url: str, chargers: list[RoamingCharger]) -> None:
    readings, heartbeats = await logged(database_url)
    for charger in chargers:
        cp = charger.charge_point_id
        missing = set(charger.answered_readings) - readings.get(cp, set())
        assert missing == set(), f"{cp}: answered but not stored: {sorted(missing)}"
        assert heartbeats[cp] >= charger.answered_heartbeats
