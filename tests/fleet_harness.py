"""The fleet data set (``bench.fleet``) under the real apps: fixtures for the tests that use it.

The data set is built before the server starts on it, as an operator would
build it; then the management app runs beside the server, with an
administrator logged in. ``conftest`` loads this module as a plugin, so any test
can ask for the fixtures.

On SQLite the data set is built once for the whole run, and each test gets a copy
of the file: a build is seconds of CPU, and a copy a few milliseconds. On
PostgreSQL each test's database gets a build of its own: a template database
can't be shared by the workers (it must have no other connection while it is
copied) and a worker's own would be built about as often as the tests ask.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bench import fleet
from integration.management.pages import (
    ADMIN,
    PASSWORD_COST,
    SESSION_SECRET,
    RunningManagement,
    log_in,
    running_management,
)
from ocpp_core.clock import utc_now
from ocpp_core.config import ManagementSettings, Settings
from ocpp_core.domain import users
from ocpp_core.domain.users import Role
from servers import RunningServer

# Enough rows that PostgreSQL's planner prefers the indexes (1,000 reservations,
# 10,000 transactions, 40,000 log entries), few enough to build in seconds.
FLEET_SCALE = 0.02


@dataclass
class FleetSite:
    management: RunningManagement
    operator: httpx.AsyncClient  # an administrator, logged in


@pytest.fixture(scope="session")
def fleet_file(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path | None
) -> Path | None:
    """On SQLite, the data set built by the first worker to ask; None on PostgreSQL.

    Its times are relative to that build, minutes before the last test reads them.
    """
    if sqlite_template is None:
        return None
    # Under pytest-xdist each worker's temporary folder sits in the run's own.
    run = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run = run.parent
    built = run / "fleet.sqlite"
    with (run / "fleet.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait for the one building it
        if not built.exists():
            building = run / "fleet-building.sqlite"
            shutil.copyfile(sqlite_template, building)
            url = f"sqlite:///{building}"
            asyncio.run(fleet.build(url, FLEET_SCALE, now=utc_now(), quiet=True))
            building.rename(built)
    return built


@pytest.fixture
async def fleet_url(database_url: str, fleet_file: Path | None) -> str:
    """The test's database, holding the fleet data set (before anything opened it)."""
    if fleet_file is None:
        await fleet.build(database_url, FLEET_SCALE, now=utc_now(), quiet=True)
    else:
        shutil.copyfile(fleet_file, str(make_url(database_url).database))
    return database_url


@pytest.fixture
async def fleet_site(
    fleet_url: str, settings: Settings, server: RunningServer
) -> AsyncIterator[FleetSite]:
    section = ManagementSettings(
        server_api_url=server.http_url,
        session_secret=SecretStr(SESSION_SECRET),
        password_cost=PASSWORD_COST,
    )
    async with running_management(settings.model_copy(update={"management": section})) as app:
        async with app.db.session() as session:
            name, password = ADMIN
            await users.add(
                session,
                name=name,
                password=password,
                role=Role.ADMIN,
                now=utc_now(),
                cost=section.password_hash_cost,
            )
        async with httpx.AsyncClient(base_url=app.url, timeout=60) as client:
            await log_in(client, *ADMIN)
            yield FleetSite(app, client)
