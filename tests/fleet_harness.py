"""The fleet data set (``bench.fleet``) under the real apps: fixtures for the tests that use it.

The data set is built before the server starts on it, as an operator would
build it; then the management app runs beside the server, with an
administrator logged in. ``conftest`` loads this module as a plugin, so any test
can ask for the fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

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


@pytest.fixture
async def fleet_url(database_url: str) -> str:
    await fleet.build(database_url, FLEET_SCALE, now=utc_now(), quiet=True)
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
