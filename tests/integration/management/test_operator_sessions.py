"""Operator sessions live in the database: ending one ends every copy of its cookie."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from integration.management.pages import (
    ADMIN,
    VIEWER,
    RunningManagement,
    csrf_token,
    log_in,
    post_login,
    running_management,
)
from integration.payments.payflow import SteppedClock
from ocpp_core.db.models import OperatorSession, User
from ocpp_core.management.auth import LOGIN_COOKIE
from ocpp_core.management.session_sweep import purge
from stripe_harness import eventually


async def logged_in(management: RunningManagement, name: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=management.url)
    await log_in(client, name, password)
    return client


@pytest.fixture
async def vic_twice(management: RunningManagement) -> AsyncIterator[list[httpx.AsyncClient]]:
    """The viewer logged in on two devices."""
    devices = [await logged_in(management, *VIEWER) for _ in range(2)]
    yield devices
    for device in devices:
        await device.aclose()


async def is_in(client: httpx.AsyncClient) -> bool:
    """Whether the client's cookies open the dashboard (else it is sent to the login)."""
    status = (await client.get("/")).status_code
    assert status in (200, 303)
    return status == 200


async def sessions_of(management: RunningManagement, name: str) -> int:
    async with management.db.session() as session:
        query = select(func.count(OperatorSession.id)).join(User).where(User.name == name)
        return int(await session.scalar(query) or 0)


async def post_form(client: httpx.AsyncClient, url: str, **fields: str) -> httpx.Response:
    token = csrf_token((await client.get("/Account/Password")).text)
    return await client.post(url, data={"csrf_token": token, **fields})


async def test_a_copied_cookie_stops_working_after_logout(client: httpx.AsyncClient) -> None:
    await log_in(client, *ADMIN)
    token = csrf_token((await client.get("/")).text)
    async with httpx.AsyncClient(base_url=str(client.base_url), cookies=client.cookies) as thief:
        assert await is_in(thief)

        await client.post("/Account/Logout", data={"csrf_token": token})

        assert not await is_in(thief)
        assert not await is_in(client)


async def test_the_cookie_is_a_random_token_stored_only_as_its_hash(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    response = await post_login(client, *ADMIN)

    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(LOGIN_COOKIE)]
    assert {"httponly", "samesite=lax", "path=/"} <= {
        part.strip().lower() for part in header.split(";")
    }
    token = client.cookies[LOGIN_COOKIE]
    assert len(token) >= 43  # 32 random bytes
    async with management.db.session() as session:
        stored = list(await session.scalars(select(OperatorSession.token_hash)))
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


async def test_a_login_starts_a_new_session_and_ends_the_one_before(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    client.cookies.set(LOGIN_COOKIE, "planted-by-someone-else", domain="127.0.0.1")
    await log_in(client, *ADMIN)
    first = client.cookies[LOGIN_COOKIE]
    assert first != "planted-by-someone-else"

    # Again from the same browser (a login form left open in another tab).
    again = await post_form(client, "/Account/Login", name=ADMIN[0], password=ADMIN[1])
    assert again.status_code == 303

    assert client.cookies[LOGIN_COOKIE] != first
    assert await sessions_of(management, ADMIN[0]) == 1
    async with httpx.AsyncClient(base_url=management.url) as old:
        old.cookies.set(LOGIN_COOKIE, first, domain="127.0.0.1")
        assert not await is_in(old)


async def test_changing_ones_password_ends_the_other_sessions(
    vic_twice: list[httpx.AsyncClient], management: RunningManagement
) -> None:
    here, elsewhere = vic_twice

    new = "a-brand-new-secret"
    response = await post_form(here, "/Account/Password", current=VIEWER[1], new=new, again=new)

    assert (response.status_code, response.headers["location"]) == (303, "/Account/Password")
    assert "Your other sessions have been logged out" in (await here.get("/Account/Password")).text
    assert await is_in(here)
    assert not await is_in(elsewhere)
    async with httpx.AsyncClient(base_url=management.url) as fresh:
        assert (await post_login(fresh, VIEWER[0], VIEWER[1])).status_code == 401
        assert (await post_login(fresh, VIEWER[0], new)).status_code == 303


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("disable", {}),
        ("role", {"role": "admin"}),
        ("password", {"new": "set-by-the-admin", "again": "set-by-the-admin"}),
    ],
)
async def test_an_admins_change_ends_every_session_of_the_user(
    vic_twice: list[httpx.AsyncClient],
    client: httpx.AsyncClient,
    management: RunningManagement,
    action: str,
    fields: dict[str, str],
) -> None:
    await log_in(client, *ADMIN)
    async with management.db.session() as session:
        vic = await session.scalar(select(User.id).where(User.name == VIEWER[0]))

    response = await post_form(client, f"/Account/Users/{vic}", action=action, **fields)

    assert response.status_code == 303
    assert [await is_in(device) for device in vic_twice] == [False, False]
    assert await sessions_of(management, VIEWER[0]) == 0
    assert await is_in(client)  # the admin's own session is untouched


async def test_an_expired_session_is_refused(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    await log_in(client, *ADMIN)
    async with management.db.session() as session:
        await session.execute(update(OperatorSession).values(expires_at=management.context.clock()))

    assert not await is_in(client)


async def test_a_session_ends_when_idle_and_at_its_lifetime_however_busy(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    clock = SteppedClock()
    management.context.clock = clock
    await log_in(client, *ADMIN)  # idle 12 h, lifetime 7 days: the defaults

    for hours in range(11, 7 * 24, 11):  # a request every 11 hours keeps it alive...
        clock.set(timedelta(hours=hours))
        assert await is_in(client), f"ended after {hours} h"
    clock.set(timedelta(days=7))  # ...until its lifetime is up
    assert not await is_in(client)

    await log_in(client, *ADMIN)
    clock.set(timedelta(days=7, hours=12))  # twelve hours without a request
    assert not await is_in(client)


async def test_last_seen_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    clock = SteppedClock()
    management.context.clock = clock
    await log_in(client, *ADMIN)

    async def last_seen() -> object:
        async with management.db.session() as session:
            return await session.scalar(select(OperatorSession.last_seen_at))

    clock.set(timedelta(seconds=59))
    assert await is_in(client)
    assert await last_seen() == clock.start
    clock.set(timedelta(seconds=60))
    assert await is_in(client)
    assert await last_seen() == clock.now


async def add_sessions(management: RunningManagement, *expiries: datetime) -> None:
    now = management.context.clock()
    async with management.db.session() as session:
        admin = await session.scalar(select(User.id).where(User.name == ADMIN[0]))
        assert admin is not None
        for n, expires in enumerate(expiries):
            hour_ago = now - timedelta(hours=1)
            session.add(
                OperatorSession(
                    token_hash=f"{n:064d}",
                    user_id=admin,
                    created_at=hour_ago,
                    last_seen_at=hour_ago,
                    expires_at=expires,
                )
            )


async def test_expired_sessions_are_purged_in_batches(management: RunningManagement) -> None:
    # Expired only by the purge's later time: the app's own sweep, run at start-up
    # with the real time, could otherwise take them first.
    later = management.context.clock() + timedelta(hours=2)
    await add_sessions(management, *[later - timedelta(hours=1)] * 5, later + timedelta(hours=1))

    assert await purge(management.db, now=later, batch=2) == 5
    assert await sessions_of(management, ADMIN[0]) == 1


async def test_the_app_purges_expired_sessions_in_the_background(
    management: RunningManagement,
) -> None:
    await add_sessions(management, management.context.clock() - timedelta(seconds=1))

    async with running_management(management.context.settings):  # another node starting

        async def purged() -> bool:
            return await sessions_of(management, ADMIN[0]) == 0

        await eventually(purged)
