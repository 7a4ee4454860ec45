"""A cluster node's start-up and ``GET /health``: Redis named when it is the part that fails."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cluster_harness import node, node_settings
from servers import API_KEY, free_port, server_env

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


async def test_a_second_process_with_a_node_id_in_use_is_refused(
    migrated: str, tmp_path: Path, prefix: str
) -> None:
    async with asyncio.timeout(60), node(migrated, tmp_path, "a", prefix):
        with (tmp_path / "twin.log").open("wb") as log:
            twin = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "ocpp-core"),
                "server",
                f"--port={free_port()}",
                env=server_env(migrated, node_settings("a", prefix)),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        assert await twin.wait() != 0  # it stops during its start-up

    output = (tmp_path / "twin.log").read_text()
    assert (
        f"OCPP_CORE_CLUSTER__NODE_ID (cluster.node_id): another running node is '{prefix}-a'"
        in output
    )
