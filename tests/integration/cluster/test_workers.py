"""``ocpp-core server --workers 2``: two nodes on one port, PostgreSQL and Redis between them.

The kernel spreads the chargers over both workers' sockets; a command sent
through either worker reaches its charger; SIGTERM drains both (a second one
ends the drain) and stops them, their chargers closed as going away; a worker
killed with SIGKILL is started again and its chargers come back to the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from ocpp.v16 import call
from redis.asyncio import Redis

from chargers import TestCharger
from cli_harness import provision
from cluster_harness import REDIS_URL, api, charger16, node_settings
from servers import API_KEY, ServerProcess, ocpp_core_server

pytestmark = [pytest.mark.postgresql, pytest.mark.long]

CHARGERS = [f"WK-{number:02}" for number in range(16)]  # all on one worker: 2 ** -15
SCENARIO_TIMEOUT = 120.0


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, CHARGERS, [])
    return database_url


@asynccontextmanager
async def two_workers(
    database_url: str, log: Path, redis: Redis, prefix: str, settings: dict[str, str]
) -> AsyncIterator[ServerProcess]:
    """``ocpp-core server`` with OCPP_CORE_WORKERS=2, once the supervisor says both are up."""
    env = {**settings, "OCPP_CORE_WORKERS": "2", "OCPP_CORE_LOG_LEVEL": "info"}
    async with ocpp_core_server(database_url, log, env) as server:
        while "2 workers on port" not in await asyncio.to_thread(log.read_text):  # noqa: ASYNC110 -- polled
            await asyncio.sleep(0.1)  # another process's output: nothing to wait on
        assert len(await live_nodes(redis, prefix)) == 2
        yield server


async def live_nodes(redis: Redis, prefix: str) -> set[str]:
    start = f"{prefix}:node:"
    return {text(key)[len(start) :] async for key in redis.scan_iter(match=f"{start}*")}


async def holders(redis: Redis, prefix: str) -> dict[str, str]:
    """Each connected charger's node, from the presence in Redis."""
    entries = await redis.hgetall(f"{prefix}:chargers")
    return {text(key): text(value).split(" ", 1)[0] for key, value in entries.items()}


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def children(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


async def connect_all(stack: AsyncExitStack, server: ServerProcess) -> dict[str, TestCharger]:
    return {cp: await stack.enter_async_context(charger16(server.ws_url(cp))) for cp in CHARGERS}


async def draining_nodes(server: ServerProcess) -> set[str]:
    """Until /health, on connections of their own, has found each worker draining."""
    seen: set[str] = set()
    while len(seen) < 2:
        headers = {"X-API-Key": API_KEY, "Connection": "close"}  # a new connection each time
        async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as client:
            health = await client.get("/health")
        if health.json()["status"] == "draining":
            assert health.status_code == 503
            seen.add(health.json()["node"])
    return seen


async def test_two_workers_share_one_port_and_stop_together(
    fleet: str, tmp_path: Path, prefix: str, redis: Redis
) -> None:
    settings = {
        **node_settings("w", prefix),  # an explicit node id: the workers' get -1 and -2
        "OCPP_CORE_SERVER__DRAIN_SECONDS": "600",  # ended by a second SIGTERM
    }
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(asyncio.timeout(SCENARIO_TIMEOUT))
        log = tmp_path / "workers.log"
        server = await stack.enter_async_context(two_workers(fleet, log, redis, prefix, settings))
        chargers = await connect_all(stack, server)

        held = await holders(redis, prefix)
        assert sorted(held) == CHARGERS
        assert set(held.values()) == {f"{prefix}-w-1", f"{prefix}-w-2"}
        # One HTTP connection, so one worker answers every call, for chargers on both.
        client = await stack.enter_async_context(api(server))
        answering = (await client.get("/health")).json()["node"]
        assert answering in {f"{prefix}-w-1", f"{prefix}-w-2"}
        for cp in CHARGERS:
            answer = await client.get(f"/API/ClearCache/{cp}")
            assert answer.json() == {"status": "Accepted"}, cp
            assert chargers[cp].requests == [("ClearCache", {})]
        assert len((await client.get("/API/Status")).json()) == len(CHARGERS)
        await client.aclose()

        server.process.send_signal(signal.SIGTERM)
        assert await draining_nodes(server) == {f"{prefix}-w-1", f"{prefix}-w-2"}
        for charger in chargers.values():
            await charger.call(call.Heartbeat())  # served on during the drain
        server.process.send_signal(signal.SIGTERM)
        assert await server.process.wait() == 0
        for charger in chargers.values():
            await charger.connection.websocket.wait_closed()
            assert charger.connection.websocket.close_code == 1001  # going away
        assert await redis.hkeys(f"{prefix}:chargers") == []
        assert await live_nodes(redis, prefix) == set()
    assert "Traceback" not in log.read_text()


async def test_a_killed_worker_is_started_again_and_its_chargers_come_back(
    fleet: str, tmp_path: Path, prefix: str, redis: Redis
) -> None:
    # No node id set: each worker's is the host name and its own process id.
    settings = {"OCPP_CORE_CLUSTER__REDIS_URL": REDIS_URL, "OCPP_CORE_CLUSTER__PREFIX": prefix}
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(asyncio.timeout(SCENARIO_TIMEOUT))
        log = tmp_path / "workers.log"
        server = await stack.enter_async_context(two_workers(fleet, log, redis, prefix, settings))
        chargers = await connect_all(stack, server)
        workers = children(server.process.pid)
        held = await holders(redis, prefix)
        assert {node.rsplit("-", 1)[1] for node in held.values()} == {str(pid) for pid in workers}

        victim = max(workers)
        cut_off = [cp for cp, node in held.items() if node.endswith(f"-{victim}")]
        os.kill(victim, signal.SIGKILL)
        for cp in cut_off:
            await chargers[cp].connection.websocket.wait_closed()
        # Until the supervisor has reaped the victim (a zombie is still its child) and replaced it.
        restarted = children(server.process.pid)
        while victim in restarted or len(restarted) < 2:
            await asyncio.sleep(0.1)  # another process's state: nothing to wait on
            restarted = children(server.process.pid)
        (newcomer,) = restarted - workers
        newcomer_id = f"-{newcomer}"
        while not any(node.endswith(newcomer_id) for node in await live_nodes(redis, prefix)):  # noqa: ASYNC110 -- polled
            await asyncio.sleep(0.1)
        for cp in cut_off:
            chargers[cp] = await stack.enter_async_context(charger16(server.ws_url(cp)))

        held = await holders(redis, prefix)
        assert sorted(held) == CHARGERS
        assert {node.rsplit("-", 1)[1] for node in held.values()} <= {str(p) for p in restarted}
        client = await stack.enter_async_context(api(server))
        for cp in CHARGERS:
            answer = await client.get(f"/API/ClearCache/{cp}")
            assert answer.json() == {"status": "Accepted"}, cp
        await client.aclose()
        assert server.process.returncode is None  # the supervisor itself went on
        server.process.send_signal(signal.SIGTERM)
        assert await server.process.wait() == 0
    output = log.read_text()
    assert "ended (exit code -9)" in output
    assert f"(pid {victim}): restarting in 1 s" in output


async def test_a_worker_that_keeps_dying_stops_the_command(
    fleet: str, tmp_path: Path, prefix: str, redis: Redis
) -> None:
    """Six quick deaths in a row (pauses of 1, 2, 4, 8 and 16 s between): an error, no loop."""
    settings = {"OCPP_CORE_CLUSTER__REDIS_URL": REDIS_URL, "OCPP_CORE_CLUSTER__PREFIX": prefix}
    log = tmp_path / "workers.log"
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        two_workers(fleet, log, redis, prefix, settings) as server,
    ):
        steady, first = sorted(children(server.process.pid))
        killed: set[int] = set()
        exited = asyncio.create_task(server.process.wait())
        while not exited.done():
            with contextlib.suppress(FileNotFoundError):  # the supervisor has just ended
                for worker in children(server.process.pid) - {steady} - killed:
                    os.kill(worker, signal.SIGKILL)
                    killed.add(worker)
            await asyncio.wait([exited], timeout=0.05)

        assert exited.result() == 1
        assert first in killed
        assert len(killed) == 6
        assert f"-{steady}" not in "".join(await live_nodes(redis, prefix))  # left cleanly
    output = log.read_text()
    assert "died 6 times in a row: giving up" in output
    assert "Error: ocpp-core server API stopped; see the log above" in output
