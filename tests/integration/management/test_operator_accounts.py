"""Administrators change operators on the users page; every operator changes their password."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from integration.management.pages import (
    ADMIN,
    VIEWER,
    RunningManagement,
    csrf_token,
    log_in,
    post_login,
)
from ocpp_core.db.models import User


async def user_row(management: RunningManagement, name: str) -> User | None:
    async with management.db.session() as session:
        return await session.scalar(select(User).where(User.name == name))


async def user_id(management: RunningManagement, name: str) -> int:
    row = await user_row(management, name)
    assert row is not None
    return row.id


async def post(client: httpx.AsyncClient, url: str, **fields: str) -> httpx.Response:
    """Send the form on ``url``'s page, as a browser does."""
    page = await client.get(url)
    assert page.status_code == 200, page.text
    return await client.post(url, data={"csrf_token": csrf_token(page.text), **fields})


async def flash(client: httpx.AsyncClient, response: httpx.Response) -> str:
    """The message shown on the page the change redirected to."""
    assert response.status_code == 303, response.text
    page = (await client.get(response.headers["location"])).text
    start = page.index('id="flash">') + len('id="flash">')
    return page[start : page.index("</p>", start)]


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await log_in(client, *ADMIN)
    return client


async def test_an_admin_disables_and_enables_a_user(
    admin: httpx.AsyncClient, management: RunningManagement
) -> None:
    page = f"/Account/Users/{await user_id(management, VIEWER[0])}"

    disabled = await post(admin, page, action="disable")

    assert await flash(admin, disabled) == "vic is disabled and logged out everywhere."
    async with httpx.AsyncClient(base_url=management.url) as vic:
        assert (await post_login(vic, *VIEWER)).status_code == 401
        assert "Disabled" in (await admin.get("/Account/Users")).text
        enabled = await post(admin, page, action="enable")
        assert await flash(admin, enabled) == "vic may log in again."
        assert (await post_login(vic, *VIEWER)).status_code == 303


async def test_an_admin_changes_a_role(
    admin: httpx.AsyncClient, management: RunningManagement
) -> None:
    page = f"/Account/Users/{await user_id(management, VIEWER[0])}"

    response = await post(admin, page, action="role", role="admin")

    assert await flash(admin, response) == "Role of vic saved."
    row = await user_row(management, VIEWER[0])
    assert row is not None
    assert row.role == "admin"


async def test_an_admin_sets_a_password(
    admin: httpx.AsyncClient, management: RunningManagement
) -> None:
    page = f"/Account/Users/{await user_id(management, VIEWER[0])}"

    for new, again, shown in (
        ("short", "short", "A password has 8 to 1024 characters."),
        ("long-enough-1", "long-enough-2", "The two passwords differ."),
        ("long-enough-1", "long-enough-1", "vic has a new password and is logged out everywhere."),
    ):
        response = await post(admin, page, action="password", new=new, again=again)
        assert await flash(admin, response) == shown
    async with httpx.AsyncClient(base_url=management.url) as vic:
        assert (await post_login(vic, VIEWER[0], "long-enough-1")).status_code == 303


async def test_deleting_asks_first_then_deletes(
    admin: httpx.AsyncClient, management: RunningManagement
) -> None:
    page = f"/Account/Users/{await user_id(management, VIEWER[0])}"
    assert f'href="{page}?confirm=delete"' in (await admin.get(page)).text

    confirm = await admin.get(page, params={"confirm": "delete"})
    assert "Delete user vic?" in confirm.text
    response = await admin.post(
        page, data={"csrf_token": csrf_token(confirm.text), "action": "delete"}
    )

    assert response.headers["location"] == "/Account/Users"
    assert await flash(admin, response) == "vic is deleted."
    assert await user_row(management, VIEWER[0]) is None


@pytest.mark.parametrize(
    "fields", [{"action": "disable"}, {"action": "delete"}, {"action": "role", "role": "viewer"}]
)
async def test_the_last_admin_is_never_disabled_deleted_or_demoted(
    admin: httpx.AsyncClient, management: RunningManagement, fields: dict[str, str]
) -> None:
    page = f"/Account/Users/{await user_id(management, ADMIN[0])}"

    response = await post(admin, page, **fields)

    assert await flash(admin, response) == (
        "ada is the last enabled administrator. Make another user an administrator first."
    )
    row = await user_row(management, ADMIN[0])
    assert row is not None
    assert (row.role, row.disabled) == ("admin", False)


async def test_an_admin_may_step_down_once_another_admin_exists(
    admin: httpx.AsyncClient, management: RunningManagement
) -> None:
    vic = f"/Account/Users/{await user_id(management, VIEWER[0])}"
    await post(admin, vic, action="role", role="admin")

    response = await post(
        admin, f"/Account/Users/{await user_id(management, ADMIN[0])}", action="disable"
    )

    assert response.status_code == 303
    assert (await admin.get("/")).status_code == 303  # their own session ended with it


async def test_ones_own_password_is_changed_on_the_password_page(
    admin: httpx.AsyncClient, management: RunningManagement
) -> None:
    own = f"/Account/Users/{await user_id(management, ADMIN[0])}"
    assert 'href="/Account/Password"' in (await admin.get(own)).text

    response = await post(admin, own, action="password", new="no-current-1", again="no-current-1")

    assert response.headers["location"] == "/Account/Password"
    async with httpx.AsyncClient(base_url=management.url) as other:
        assert (await post_login(other, *ADMIN)).status_code == 303  # unchanged


async def test_a_viewer_changes_nobody_else(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    await log_in(client, *VIEWER)
    token = csrf_token((await client.get("/Account/Password")).text)
    admin_page = f"/Account/Users/{await user_id(management, ADMIN[0])}"

    for action in ("disable", "delete"):
        response = await client.post(admin_page, data={"csrf_token": token, "action": action})
        assert response.status_code == 403
    assert (await client.get(admin_page)).status_code == 403


async def test_a_change_without_the_form_token_is_refused(
    admin: httpx.AsyncClient, management: RunningManagement
) -> None:
    page = f"/Account/Users/{await user_id(management, VIEWER[0])}"

    response = await admin.post(page, data={"action": "disable"})

    assert response.status_code == 403
    row = await user_row(management, VIEWER[0])
    assert row is not None
    assert not row.disabled


@pytest.mark.parametrize("path", ["/Account/Users/999", "/Account/Users/99999999999999999999"])
async def test_an_unknown_user_is_not_found_or_refused(admin: httpx.AsyncClient, path: str) -> None:
    assert (await admin.get(path)).status_code in (400, 404)
    token = csrf_token((await admin.get("/Account/Password")).text)
    response = await admin.post(path, data={"csrf_token": token, "action": "enable"})
    assert response.status_code in (400, 404)


async def test_ones_own_password_needs_the_current_one(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    await log_in(client, *VIEWER)
    new = "vic-has-a-new-one"

    wrong = await post(client, "/Account/Password", current="not-it-at-all", new=new, again=new)
    short = await post(client, "/Account/Password", current=VIEWER[1], new="short", again="short")
    done = await post(client, "/Account/Password", current=VIEWER[1], new=new, again=new)

    assert wrong.status_code == 400
    assert "That is not your current password." in wrong.text
    assert short.status_code == 400
    assert "A password has 8 to 1024 characters." in short.text
    assert await flash(client, done) == (
        "Password changed. Your other sessions have been logged out."
    )
    async with httpx.AsyncClient(base_url=management.url) as other:
        assert (await post_login(other, VIEWER[0], new)).status_code == 303


async def test_guessing_the_current_password_counts_as_failed_logins(
    client: httpx.AsyncClient,
) -> None:
    await log_in(client, *VIEWER)
    new = "vic-has-a-new-one"
    for _ in range(5):
        response = await post(client, "/Account/Password", current="guess", new=new, again=new)
        assert response.status_code == 400

    locked = await post(client, "/Account/Password", current=VIEWER[1], new=new, again=new)

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.text
