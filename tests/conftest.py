"""Plain fixtures: a database, settings, a real server on a free port, real chargers.

The database is SQLite in a temporary folder, or PostgreSQL when
``OCPP_CORE_TEST_DATABASE_URL`` names one. Either way every test gets its own
database copied from a template migrated once per run (per worker process under
pytest-xdist): running the migrations for each test was most of a test's set-up.
Workers never share one: PostgreSQL names carry the worker's pid, and each worker
has a temporary folder of its own. An unreachable
PostgreSQL fails the run; it is never skipped. Tests marked ``postgresql``
(a database server that goes away, which a SQLite file can't) are skipped
only when the suite runs on SQLite.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from databases import PG_URL_VAR
from faults import DatabaseProxy, database_proxy
from httpx_tls import share_default_context
from ocpp_core.config import OcppSettings, Settings
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.session import Database
from ocpp_core.server.app import create_server_app
from ocpp_core.server.run import uvicorn_config
from ocpp_core.tls_trust import trusted
from servers import (
    API_KEY,
    PATIENCE,
    ChargerFactory,
    ConnectCharger,
    ConnectCharger201,
    RunningServer,
    listening_socket,
    serving,
)

pytest_plugins = ["fleet_harness", "watchdog"]  # the fleet data set's fixtures; stuck tests
_counter = itertools.count()


def pytest_configure() -> None:
    share_default_context()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-xdist's worksteal hands out the tests in this order: a long one left to
    # the end would run on one worker while the others sit idle.
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
    if os.environ.get(PG_URL_VAR):
        return
    not_here = pytest.mark.skip(reason=f"PostgreSQL only; the suite runs on SQLite ({PG_URL_VAR})")
    for item in items:
        if item.get_closest_marker("postgresql") is not None:
            item.add_marker(not_here)


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A migrated SQLite file that each test's database is copied from (None on PostgreSQL)."""
    if os.environ.get(PG_URL_VAR):
        return None
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    asyncio.run(upgrade(f"sqlite:///{path}"))
    return path


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


@asynccontextmanager
async def _new_database(tmp_path: Path, template: str | Path | None) -> AsyncIterator[str]:
    """A new SQLite file or PostgreSQL database: a copy of ``template`` if given, else empty.

    The SQLite template is a path, the PostgreSQL one a database name.
    """
    base = os.environ.get(PG_URL_VAR)
    if base is None:
        path = tmp_path / "test.sqlite"
        if template is not None:
            shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    assert not isinstance(template, Path)
    name = f"ocpp_core_t_{os.getpid()}_{next(_counter)}"
    await _recreate(base, name, template=template)
    yield _pg_with_database(base, name)
    await _drop(base, name)


@pytest.fixture
async def database_url(
    tmp_path: Path, pg_template: str | None, sqlite_template: Path | None
) -> AsyncIterator[str]:
    """The test's database: a copy of the migrated template, on either database."""
    async with _new_database(tmp_path, pg_template or sqlite_template) as url:
        yield url


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database without any schema, for tests of the migrations themselves."""
    async with _new_database(tmp_path, None) as url:
        yield url


@pytest.fixture
async def db_proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    """A relay to the test's PostgreSQL database that the test can cut (see ``faults``)."""
    async with database_proxy(database_url) as proxy:
        yield proxy


@pytest.fixture
def migrated(database_url: str) -> str:
    """The test database, migrated (for tests that look at what a command left).

    It is a copy of the template the migrations built: running Alembic on it again
    would find nothing to do, for 25 ms of CPU a test.
    """
    return database_url


@pytest.fixture
async def db(migrated: str) -> AsyncIterator[Database]:
    """The migrated test database, opened as the code under test opens it."""
    database = Database(migrated)
    yield database
    await database.close()


@pytest.fixture
def command_timeout() -> float:
    """Seconds for a charger's answer; a test of a command never answered shortens it."""
    return 3.0


@pytest.fixture
def ocpp_settings(command_timeout: float) -> OcppSettings:
    return OcppSettings(command_timeout=command_timeout, keepalive_interval=5, keepalive_timeout=5)


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


@pytest.fixture
def server_socket() -> tuple[socket.socket, str]:
    """Bound before the server starts, for fixtures that must know its URL first."""
    return listening_socket()


@pytest.fixture
async def server(
    settings: Settings, server_socket: tuple[socket.socket, str]
) -> AsyncIterator[RunningServer]:
    sock, url = server_socket
    app = create_server_app(settings)
    headers = {"X-API-Key": API_KEY}
    async with (
        serving(uvicorn_config(app, settings), sock) as running,
        httpx.AsyncClient(base_url=url, headers=headers, verify=trusted(), timeout=PATIENCE) as api,
    ):
        yield RunningServer(app, sock.getsockname()[1], api, running)


@pytest.fixture
async def chargers(server: RunningServer) -> AsyncIterator[ChargerFactory]:
    """Connect chargers; at the end, every frame the server sent must have met the schema."""
    factory = ChargerFactory(server)
    yield factory
    assert await factory.close_all() == []


@pytest.fixture
def charger(chargers: ChargerFactory) -> ConnectCharger:
    """Connect OCPP 1.6 chargers."""
    return chargers


@pytest.fixture
def charger201(chargers: ChargerFactory) -> ConnectCharger201:
    """Connect OCPP 2.0.1 chargers."""
    return chargers.v201


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """ERROR records from uvicorn (which does not propagate) and from ocpp-core."""
    handler = _Collect()
    loggers = [logging.getLogger("uvicorn.error"), logging.getLogger("ocpp_core")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
