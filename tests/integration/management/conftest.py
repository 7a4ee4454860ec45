"""The management app on a loopback port, talking to the real server of ``tests/conftest.py``.

Operators are made by the domain functions, as ``ocpp-core user add`` does, once per
run; each test's database gets a copy of their rows. scrypt is slow on purpose (about
a second per password on a busy machine), and hashing two passwords for each of some
two hundred tests was a large share of their set-up.
Pages are driven by Debian's Chromium through Playwright; a missing Chromium fails
the browser tests (it is never skipped and never downloaded).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, async_playwright
from pydantic import SecretStr
from sqlalchemy import insert, select

from integration.management.pages import (
    ADMIN,
    PASSWORD_COST,
    SESSION_SECRET,
    VIEWER,
    RunningManagement,
    add_operator,
    running_management,
)
from integration.management.public_harness import (  # noqa: F401 -- the driver pages' fixtures
    driver,
    other_driver,
    pay_charger,
    pay_server,
    public_site,
    site_settings,
    site_socket,
    stripe_sim,
)
from ocpp_core.clock import utc_now
from ocpp_core.config import ManagementSettings, Settings
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import User
from ocpp_core.db.session import Database
from ocpp_core.domain.users import Role
from ocpp_core.tls_trust import trusted
from servers import PATIENCE, RunningServer


@pytest.fixture
def management_settings(settings: Settings, server: RunningServer) -> Settings:
    section = ManagementSettings(
        server_api_url=server.http_url,
        session_secret=SecretStr(SESSION_SECRET),
        dashboard_refresh_seconds=0.5,
        password_cost=PASSWORD_COST,
    )
    return settings.model_copy(update={"management": section})


async def _added_operators(database_url: str) -> list[dict[str, Any]]:
    await upgrade(database_url)
    database = Database(database_url)
    try:
        async with database.session() as session:
            for name, password, role in ((*ADMIN, Role.ADMIN), (*VIEWER, Role.VIEWER)):
                await add_operator(session, (name, password), role)
        async with database.session() as session:
            rows = (await session.scalars(select(User).order_by(User.id))).all()
            return [
                {"name": row.name, "password_hash": row.password_hash, "role": row.role}
                for row in rows
            ]
    finally:
        await database.close()


@pytest.fixture(scope="session")
def operator_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """ADMIN then VIEWER as ``users.add`` stores them, made once per run (see the module)."""
    scratch = tmp_path_factory.mktemp("operators") / "operators.sqlite"
    return asyncio.run(_added_operators(f"sqlite:///{scratch}"))


@pytest.fixture
async def management(
    management_settings: Settings, operator_rows: list[dict[str, Any]]
) -> AsyncIterator[RunningManagement]:
    async with running_management(management_settings) as running:
        async with running.db.session() as session:
            now = utc_now()
            await session.execute(
                insert(User), [{**row, "created_at": now} for row in operator_rows]
            )
        yield running


@pytest.fixture
async def client(management: RunningManagement) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous browser-like client: keeps cookies, doesn't follow redirects."""
    async with httpx.AsyncClient(
        base_url=management.url, verify=trusted(), timeout=PATIENCE
    ) as anonymous:
        yield anonymous


CHROMIUM = Path(os.environ.get("OCPP_CORE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the page tests drive a real Chromium "
            "(`make test` installs Debian's chromium package where it may)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
