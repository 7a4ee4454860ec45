"""Three nodes behind HAProxy, and chargers that roam between them as in the field.

Shared by the cluster tests that take a node or Redis away under load: the
chargers keep sending MeterValues and Heartbeats, connect again through the
balancer when their socket is cut, and note every message they got an answer
for, which the message log must hold afterwards.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocpp.v16 import call
from ocpp.v201 import call as call201
from redis.asyncio import Redis
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from chargers import SchemaCheckedConnection, TestCharger, TestCharger201
from cluster_harness import REDIS_URL, node
from haproxy_harness import Balancer, haproxy
from ocpp_core.cluster.presence import Holder
from ocpp_core.db.models import MessageLogEntry
from ocpp_core.db.session import Database
from servers import ServerProcess

NODES = ("a", "b", "c")
SCENARIO_TIMEOUT = 180.0  # a hang fails the test instead of the run
SEND_EVERY = 0.3  # seconds between a charger's messages
RETRY_AFTER = 0.5  # a charger's back-off before it connects again


def speaks_201(charge_point_id: str) -> bool:
    """Chargers whose id ends in an odd number speak 2.0.1, the others 1.6."""
    return int(charge_point_id[-2:]) % 2 == 1


@asynccontextmanager
async def cluster(
    database_url: str,
    folder: Path,
    prefix: str,
    *,
    redis_url: str = REDIS_URL,
    env: Mapping[str, str] | None = None,
    ports: Mapping[str, int] | None = None,
) -> AsyncIterator[tuple[dict[str, ServerProcess], Balancer]]:
    """The three nodes (``env``: more settings; ``ports``: fixed ones) and HAProxy in front."""
    async with AsyncExitStack() as stack:
        nodes = {
            name: await stack.enter_async_context(
                node(
                    database_url,
                    folder,
                    name,
                    prefix,
                    redis_url,
                    port=(ports or {}).get(name),
                    env=env,
                )
            )
            for name in NODES
        }
        balancer = await stack.enter_async_context(
            haproxy(folder, {name: server.port for name, server in nodes.items()})
        )
        yield nodes, balancer


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


async def _logged(database_url: str) -> tuple[dict[str, set[int]], Counter[str]]:
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


async def all_answered_stored(database_url: str, chargers: list[RoamingCharger]) -> None:
    """Every reading and Heartbeat the chargers got an answer for is in the message log."""
    readings, heartbeats = await _logged(database_url)
    for charger in chargers:
        cp = charger.charge_point_id
        missing = set(charger.answered_readings) - readings.get(cp, set())
        assert missing == set(), f"{cp}: answered but not stored: {sorted(missing)}"
        assert heartbeats[cp] >= charger.answered_heartbeats


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
