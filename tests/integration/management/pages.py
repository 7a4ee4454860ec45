"""Helpers for the management tests: the running app, logging in, reading pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.clock import utc_now
from ocpp_core.config import Settings
from ocpp_core.db.session import Database
from ocpp_core.domain import users
from ocpp_core.domain.users import Role
from ocpp_core.management.app import create_management_app
from ocpp_core.management.context import ManagementContext
from ocpp_core.management.run import uvicorn_config
from ocpp_core.security import ScryptCost
from servers import listening_socket, serving

ADMIN = ("ada", "ada-says-correct-horse")
VIEWER = ("vic", "vic-says-battery-staple")
SESSION_SECRET = "test-session-secret-0123456789abcdefghij"
# management.password_cost at its floor: these tests log in hundreds of times to test
# pages, and a check then takes milliseconds instead of a fifth of a second of CPU.
# The product's own cost is tested where hashing is the subject (test_passwords.py, the
# upgrade in test_users.py) and by the tests that run `ocpp-core serve` or the demo.
PASSWORD_COST = 10
TEST_COST = ScryptCost(PASSWORD_COST)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class RunningManagement:
    app: FastAPI
    url: str

    @property
    def context(self) -> ManagementContext:
        context: ManagementContext = self.app.state.management
        return context

    @property
    def db(self) -> Database:
        return self.context.db


@asynccontextmanager
async def running_management(settings: Settings) -> AsyncIterator[RunningManagement]:
    sock, url = listening_socket()
    app = create_management_app(settings)
    async with serving(uvicorn_config(app, settings), sock):
        yield RunningManagement(app, url)


async def add_operator(
    session: AsyncSession,
    who: tuple[str, str],
    role: Role,
    cost: ScryptCost = TEST_COST,
) -> None:
    """``who`` (name, password) stored as ``ocpp-core user add`` would, at the tests' cost.

    A test that logs in to ``ocpp-core serve`` or ``management`` run as a process
    passes the product's cost, which those processes check passwords at.
    """
    await users.add(session, name=who[0], password=who[1], role=role, now=utc_now(), cost=cost)


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def post_login(
    client: httpx.AsyncClient,
    name: str,
    password: str,
    *,
    headers: dict[str, str] | None = None,
    return_url: str | None = None,
) -> httpx.Response:
    """Fill in and send the login form, as a browser would."""
    page = await client.get("/Account/Login", headers=headers)
    form = {"csrf_token": csrf_token(page.text), "name": name, "password": password}
    if return_url is not None:
        form["ReturnUrl"] = return_url
    return await client.post("/Account/Login", data=form, headers=headers)


async def log_in(client: httpx.AsyncClient, name: str, password: str) -> None:
    response = await post_login(client, name, password)
    assert response.status_code == 303, response.text
