"""Plain fixtures: a database, settings, a real server on a free port, real chargers.

The database is SQLite in a temporary folder, or PostgreSQL when
``OCPP_CORE_TEST_DATABASE_URL`` names one: then every test gets its own
database cloned from a template migrated once per run. An unreachable
PostgreSQL fails the run; it is never skipped.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

from chargers import SchemaCheckedConnection, TestCharger
from ocpp_core.config import OcppSettings, Settings
from ocpp_core.db.migrate import upgrade
from ocpp_core.runtime import Runtime
from ocpp_core.server.app import create_server_app
from ocpp_core.server.run import uvicorn_config

API_KEY = "test-api-key-0123456789abcdef"
PG_URL_VAR = "OCPP_CORE_TEST_DATABASE_URL"
_counter = itertools.count()


def _pg_admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    url = os.environ.get(PG_URL_VAR)
    if not url:
        yield None
        return
    name = f"ocpp_core_tmpl_{os.getpid()}"
    asyncio.run(_recreate(url, name))
    asyncio.run(upgrade(_pg_with_database(url, name)))
    yield name
    asyncio.run(_drop(url, name))


async def _recreate(url: str, name: str, template: str | None = None) -> None:
    connection = await asyncpg.connect(_pg_admin_dsn(url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        clause = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await connection.close()


async def _drop(url: str, name: str) -> None:
    connection = await asyncpg.connect(_pg_admin_dsn(url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture
async def database_url(tmp_path: Path, pg_template: str | None) -> AsyncIterator[str]:
    base = os.environ.get(PG_URL_VAR)
    if base is None or pg_template is None:
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    name = f"ocpp_core_t_{os.getpid()}_{next(_counter)}"
    await _recreate(base, name, template=pg_template)
    yield _pg_with_database(base, name)
    await _drop(base, name)


@pytest.fixture
def ocpp_settings() -> OcppSettings:
    return OcppSettings(command_timeout=3, keepalive_interval=5, keepalive_timeout=5)


@pytest.fixture
def settings(database_url: str, ocpp_settings: OcppSettings) -> Settings:
    return Settings(
        database_url=database_url,
        api_key=SecretStr(API_KEY),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ocpp=ocpp_settings,
    )


@dataclass
class RunningServer:
    app: FastAPI
    port: int
    api: httpx.AsyncClient
    uvicorn: uvicorn.Server

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/OCPP"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def start_server(
    app: FastAPI, settings: Settings
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(uvicorn_config(app, settings))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(20):
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.01)
    return server, task


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    app = create_server_app(settings)
    running, task = await start_server(app, settings)
    port = running.servers[0].sockets[0].getsockname()[1]
    headers = {"X-API-Key": API_KEY}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as api:
        yield RunningServer(app, port, api, running)
    running.should_exit = True
    await task


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class ChargerFactory:
    server: RunningServer
    opened: list[tuple[TestCharger, asyncio.Task[None], ClientConnection]] = field(
        default_factory=list
    )

    async def __call__(
        self, charge_point_id: str, *, password: str | None = None, **options: Any
    ) -> TestCharger:
        headers = basic_auth(charge_point_id, password) if password else None
        websocket = await connect(
            f"{self.server.ws_url}/{charge_point_id}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=headers,
            **options,
        )
        charger = TestCharger(charge_point_id, SchemaCheckedConnection(websocket))
        task = asyncio.create_task(charger.start())
        self.opened.append((charger, task, websocket))
        return charger

    async def close_all(self) -> list[str]:
        problems: list[str] = []
        for charger, task, websocket in self.opened:
            await websocket.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            problems.extend(charger.connection.problems)
        return problems


ConnectCharger = Callable[..., Awaitable[TestCharger]]


@pytest.fixture
async def charger(server: RunningServer) -> AsyncIterator[ConnectCharger]:
    """Connect chargers; at the end, every frame the server sent must have met the schema."""
    factory = ChargerFactory(server)
    yield factory
    assert await factory.close_all() == []
