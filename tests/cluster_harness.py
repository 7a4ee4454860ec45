"""Nodes of a cluster for the tests: ``ocpp-core server`` processes on one Redis.

Each test gets a Redis key prefix of its own (``prefix``), so tests running in
parallel on one Redis never see each other's nodes; an unreachable Redis fails
the test, never skips it (CI starts Redis, see .ci/run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from databases import DEFAULT_REDIS_URL, REDIS_URL_VAR
from servers import API_KEY, ServerProcess, ocpp_core_server

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
    database_url: str, folder: Path, name: str, prefix: str, redis_url: str = REDIS_URL
) -> AsyncIterator[ServerProcess]:
    """``ocpp-core server`` as node ``<prefix>-<name>``, its output in ``<name>.log``."""
    settings = node_settings(name, prefix, redis_url)
    async with ocpp_core_server(database_url, folder / f"{name}.log", **settings) as server:
        yield server


def api(server: ServerProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.http_url, headers={"X-API-Key": API_KEY}, timeout=COMMAND_TIMEOUT + 10
    )
