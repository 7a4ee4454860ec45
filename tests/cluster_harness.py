"""Nodes of a cluster for the tests: ``ocpp-core server`` processes on one Redis.

A test kills the nodes it runs as processes of their own (``node``); the others
run in the test's process (``in_process_node``), the same app on the same code
path, where the test can also ask their router directly.

Each test gets a Redis key prefix of its own (``prefix``), so tests running in
parallel on one Redis never see each other's nodes; an unreachable Redis fails
the test, never skips it (CI starts Redis, see .ci/run).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest
from ocpp.v16 import call
from ocpp.v201 import call as call201
from redis.asyncio import Redis
from redis.exceptions import RedisError
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from chargers import SchemaCheckedConnection, TestCharger, TestCharger201
from databases import DEFAULT_REDIS_URL, REDIS_URL_VAR
from ocpp_core.config import ClusterSettings, Settings
from ocpp_core.runtime import Runtime
from ocpp_core.server.app import create_server_app
from ocpp_core.server.run import uvicorn_config
from servers import API_KEY, ServerProcess, free_port, listening_socket, ocpp_core_server, serving

REDIS_URL = os.environ.get(REDIS_URL_VAR, DEFAULT_REDIS_URL)
COMMAND_TIMEOUT = 25.0


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """The tests' Redis; it must answer (a failure, never a skip)."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except RedisError as error:
        await client.aclose()
        pytest.fail(
            f"Redis at {REDIS_URL} can't be reached ({error}): start it or set {REDIS_URL_VAR}"
        )
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A Redis key prefix of the test's own; its keys are deleted after the test."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    yield name
    keys = [key async for key in redis.scan_iter(match=f"{name}:*")]
    if keys:
        await redis.delete(*keys)


def cluster_settings(name: str, prefix: str, redis_url: str = REDIS_URL) -> dict[str, str]:
    """The ``cluster`` section of node ``<prefix>-<name>``."""
    return {"redis_url": redis_url, "node_id": f"{prefix}-{name}", "prefix": prefix}


def node_settings(name: str, prefix: str, redis_url: str = REDIS_URL) -> dict[str, str]:
    """The environment of node ``<prefix>-<name>``."""
    cluster = cluster_settings(name, prefix, redis_url)
    return {
        **{f"OCPP_CORE_CLUSTER__{key.upper()}": value for key, value in cluster.items()},
        "OCPP_CORE_OCPP__COMMAND_TIMEOUT": str(COMMAND_TIMEOUT),
    }


@asynccontextmanager
async def node(
    database_url: str,
    folder: Path,
    name: str,
    prefix: str,
    redis_url: str = REDIS_URL,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[ServerProcess]:
    """``ocpp-core server`` as node ``<prefix>-<name>``, its output in ``<name>.log``.

    ``env``: more settings; ``port``: one fixed before it starts (a free one if None).
    """
    settings = {**node_settings(name, prefix, redis_url), **(env or {})}
    log = folder / f"{name}.log"
    async with ocpp_core_server(database_url, log, settings, port) as server:
        yield server


@dataclass(frozen=True)
class InProcessNode:
    runtime: Runtime
    http_url: str

    def ws_url(self, charge_point_id: str) -> str:
        return f"{self.http_url.replace('http', 'ws', 1)}/OCPP/{charge_point_id}"


@asynccontextmanager
async def in_process_node(
    settings: Settings, name: str, prefix: str, redis_url: str = REDIS_URL
) -> AsyncIterator[InProcessNode]:
    """Node ``<prefix>-<name>`` served by this process: ``settings`` in cluster mode."""
    cluster = ClusterSettings.model_validate(cluster_settings(name, prefix, redis_url))
    ocpp = settings.ocpp.model_copy(update={"command_timeout": COMMAND_TIMEOUT})
    here = settings.model_copy(update={"cluster": cluster, "ocpp": ocpp})
    app = create_server_app(here)
    sock, url = listening_socket()
    async with serving(uvicorn_config(app, here), sock):
        yield InProcessNode(app.state.runtime, url)


class Reachable(Protocol):
    """A node, or the load balancer in front of the nodes."""

    @property
    def http_url(self) -> str: ...


def api(server: Reachable) -> httpx.AsyncClient:
    """The API of ``server``, with time for a command's whole timeout to run out."""
    return httpx.AsyncClient(
        base_url=server.http_url, headers={"X-API-Key": API_KEY}, timeout=COMMAND_TIMEOUT + 10
    )


@asynccontextmanager
async def charger16(url: str) -> AsyncIterator[TestCharger]:
    """A 1.6 charger connected and booted: once booted, its node has announced it."""
    async with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        charger = TestCharger(url.rsplit("/", 1)[1], SchemaCheckedConnection(ws))
        async with running(charger):
            await charger.call(
                call.BootNotification(charge_point_model="M", charge_point_vendor="V")
            )
            yield charger


@asynccontextmanager
async def charger201(url: str) -> AsyncIterator[TestCharger201]:
    async with connect(url, subprotocols=[Subprotocol("ocpp2.0.1")]) as ws:
        charger = TestCharger201(url.rsplit("/", 1)[1], SchemaCheckedConnection(ws, "2.0.1"))
        async with running(charger):
            await charger.call(
                call201.BootNotification(
                    charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                )
            )
            yield charger


@asynccontextmanager
async def running(charger: TestCharger | TestCharger201) -> AsyncIterator[None]:
    task = asyncio.create_task(charger.start())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert charger.connection.problems == []


@dataclass(frozen=True)
class PrivateRedis:
    process: asyncio.subprocess.Process
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def kill(self) -> None:
        self.process.kill()
        await self.process.wait()


@asynccontextmanager
async def redis_server(folder: Path, port: int | None = None) -> AsyncIterator[PrivateRedis]:
    """A Redis of the test's own, to restart (empty, as without persistence) on ``port``."""
    port = free_port() if port is None else port
    process = await asyncio.create_subprocess_exec(
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(folder),
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        client = Redis(port=port)
        async with asyncio.timeout(10):
            while True:
                try:
                    await client.ping()
                    break
                except RedisError:
                    await asyncio.sleep(0.05)
        await client.aclose()
        yield PrivateRedis(process, port)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
