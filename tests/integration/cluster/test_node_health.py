"""A cluster node's start-up and ``GET /health``: Redis named when it is the part that fails.

A node id is one process's: a second one is refused, even started at the same
instant, and a node killed and started again takes its id back at once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from cluster_harness import cluster_settings, node, node_settings
from ocpp_core.cluster.node import NodeIdInUse
from ocpp_core.config import ClusterSettings, Settings
from ocpp_core.server.app import build_runtime
from servers import API_KEY, ServerProcess, free_port, server_env

pytestmark = pytest.mark.postgresql


async def test_health_names_redis_when_it_can_not_be_reached(
    migrated: str, tmp_path: Path, prefix: str
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    async with (
        asyncio.timeout(60),
        node(migrated, tmp_path, "up", prefix) as up,
        node(migrated, tmp_path, "cut", prefix, redis_url=closed) as cut,
        httpx.AsyncClient() as client,  # no API key: load balancers have none
    ):
        healthy = await client.get(f"{up.http_url}/health")
        assert healthy.status_code == 200
        public = {"status": "ok", "database": "ok", "redis": "ok", "accepting": True}
        assert healthy.json() == public
        keyed = await client.get(f"{up.http_url}/health", headers={"X-API-Key": API_KEY})
        assert keyed.json() == {**public, "node": f"{prefix}-up", "chargers": 0}
        unhealthy = await client.get(f"{cut.http_url}/health")
        assert unhealthy.status_code == 503
        body = unhealthy.json()
        assert (body["status"], body["database"]) == ("unavailable", "ok")
        assert body["redis"].startswith("unavailable")


@pytest.mark.parametrize(
    ("running", "options", "asked"),
    [("a", [], "a"), ("a-1", ["--workers=2"], "a")],  # worker 1 of node id a is a-1
    ids=["one-process", "workers"],
)
async def test_a_second_process_with_a_node_id_in_use_is_refused_in_one_line(
    migrated: str, tmp_path: Path, prefix: str, running: str, options: list[str], asked: str
) -> None:
    settings = {**node_settings(asked, prefix), "OCPP_CORE_LOG_LEVEL": "warning"}
    async with asyncio.timeout(90), node(migrated, tmp_path, running, prefix) as first:
        await until_healthy(first)
        twin = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "ocpp-core"),
            "server",
            f"--port={free_port()}",
            *options,
            env=server_env(migrated, settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output, _ = await twin.communicate()  # it stops during its start-up

    assert twin.returncode == 1
    assert output.decode() == (
        f"Error: OCPP_CORE_CLUSTER__NODE_ID (cluster.node_id): another running node is "
        f"'{prefix}-{running}'; give each process a node id of its own\n"
    )


async def test_two_processes_started_at_once_with_one_node_id_one_serves(
    migrated: str, tmp_path: Path, prefix: str
) -> None:
    ports = [free_port(), free_port()]
    env = server_env(migrated, {**node_settings("twin", prefix), "OCPP_CORE_LOG_LEVEL": "warning"})
    ocpp_core = str(Path(sys.executable).parent / "ocpp-core")
    logs = [(tmp_path / f"twin-{n}.log").open("wb") for n in range(2)]
    twins = await asyncio.gather(
        *(
            asyncio.create_subprocess_exec(
                ocpp_core, "server", f"--port={port}", env=env, stdout=log, stderr=log
            )
            for port, log in zip(ports, logs, strict=True)
        )
    )
    for log in logs:
        log.close()
    try:
        async with asyncio.timeout(60):
            done, _ = await asyncio.wait(
                [asyncio.ensure_future(twin.wait()) for twin in twins],
                return_when=asyncio.FIRST_COMPLETED,
            )
            assert done.pop().result() != 0
            (serving,) = [n for n, twin in enumerate(twins) if twin.returncode is None]
            refused = 1 - serving
            path = tmp_path / f"twin-{serving}.log"
            health = await until_healthy(ServerProcess(twins[serving], ports[serving], path))
            assert health["node"] == f"{prefix}-twin"
            assert twins[serving].returncode is None
    finally:
        for twin in twins:
            if twin.returncode is None:
                twin.kill()
            await twin.wait()
    output = (tmp_path / f"twin-{refused}.log").read_text()
    assert output == (
        f"Error: OCPP_CORE_CLUSTER__NODE_ID (cluster.node_id): another running node is "
        f"'{prefix}-twin'; give each process a node id of its own\n"
    )


async def test_a_node_killed_and_started_again_with_its_id_serves_at_once(
    migrated: str, tmp_path: Path, prefix: str, redis: Redis
) -> None:
    async with asyncio.timeout(60):
        async with node(migrated, tmp_path, "phoenix", prefix) as first:
            await until_healthy(first)
            first.process.kill()
            await first.process.wait()
        # Its liveness key outlives it for up to 10 s: nobody reads its channel, so it is taken.
        assert await redis.exists(f"{prefix}:node:{prefix}-phoenix")
        async with node(migrated, tmp_path, "phoenix", prefix) as second:
            health = await until_healthy(second)
            assert health["node"] == f"{prefix}-phoenix"


async def until_healthy(server: ServerProcess) -> dict[str, Any]:
    """Its /health once it says 200 (the port listens before the start-up is done)."""
    async with httpx.AsyncClient(headers={"X-API-Key": API_KEY}, timeout=20) as client:
        while (health := await client.get(f"{server.http_url}/health")).status_code != 200:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    body: dict[str, Any] = health.json()
    return body


async def test_of_two_nodes_claiming_one_id_on_one_loop_exactly_one_joins(
    settings: Settings, prefix: str, redis: Redis
) -> None:
    """Their start-ups interleave at every await: a check-then-write claim would let both in."""
    cluster = ClusterSettings.model_validate(cluster_settings("same", prefix))
    runtimes = [build_runtime(settings.model_copy(update={"cluster": cluster})) for _ in range(2)]
    nodes = [runtime.cluster for runtime in runtimes if runtime.cluster is not None]
    try:
        outcomes = await asyncio.gather(*(node.start() for node in nodes), return_exceptions=True)
        refused = [outcome for outcome in outcomes if isinstance(outcome, NodeIdInUse)]
        assert len(refused) == 1
        assert outcomes.count(None) == 1
        (joined,) = [node for node, outcome in zip(nodes, outcomes, strict=True) if outcome is None]
        key = f"{prefix}:node:{prefix}-same"
        assert await redis.get(key) == joined.presence.token.encode()
        await joined.stop()
        assert not await redis.exists(key)
    finally:
        for runtime in runtimes:
            await runtime.db.close()
