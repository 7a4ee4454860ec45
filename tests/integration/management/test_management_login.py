"""Logging in and out over real HTTP: sessions, throttling and CSRF."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from integration.management.pages import (
    ADMIN,
    VIEWER,
    RunningManagement,
    csrf_token,
    log_in,
    post_login,
    running_management,
)
from ocpp_core.config import Settings
from ocpp_core.db.models import LoginFailure, User


async def test_an_anonymous_visitor_is_sent_to_the_login_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 303
    assert response.headers["location"] == "/Account/Login"


async def test_the_way_back_is_kept_through_the_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/Account/Users?sort=name")

    assert (
        response.headers["location"] == "/Account/Login?ReturnUrl=%2FAccount%2FUsers%3Fsort%3Dname"
    )
    response = await post_login(client, *ADMIN, return_url="/Account/Users?sort=name")
    assert (response.status_code, response.headers["location"]) == (303, "/Account/Users?sort=name")


async def test_the_login_never_sends_you_to_another_site(management: RunningManagement) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"):
        async with httpx.AsyncClient(base_url=management.url) as client:
            response = await post_login(client, *ADMIN, return_url=target)
        assert response.headers["location"] == "/"


async def test_the_login_form_is_labelled_and_carries_a_token(client: httpx.AsyncClient) -> None:
    page = await client.get("/Account/Login")

    assert page.status_code == 200
    assert '<label for="name">' in page.text
    assert '<label for="password">' in page.text
    assert 'autocomplete="current-password"' in page.text
    assert len(csrf_token(page.text)) >= 32


async def test_a_right_password_opens_the_dashboard(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    response = await post_login(client, *ADMIN)

    assert (response.status_code, response.headers["location"]) == (303, "/")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # served over http here: see the secure_cookies test
    dashboard = await client.get("/")
    assert dashboard.status_code == 200
    assert "Log out ada" in dashboard.text
    async with management.db.session() as session:
        user = await session.scalar(select(User).where(User.name == ADMIN[0]))
    assert user is not None
    assert user.last_login_at is not None


async def test_a_logged_in_user_skips_the_login_form(client: httpx.AsyncClient) -> None:
    await log_in(client, *VIEWER)

    response = await client.get("/Account/Login")

    assert (response.status_code, response.headers["location"]) == (303, "/")


async def test_a_wrong_password_or_name_gets_the_same_answer(client: httpx.AsyncClient) -> None:
    wrong_password = await post_login(client, ADMIN[0], "not-the-password")
    unknown_name = await post_login(client, "nobody", ADMIN[1])

    for response in (wrong_password, unknown_name):
        assert response.status_code == 401
        assert "Wrong name or password." in response.text
        assert 'aria-invalid="true"' in response.text
    assert (await client.get("/")).status_code == 303  # still anonymous


async def test_five_failures_lock_the_name_at_that_address(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    for _ in range(5):
        assert (await post_login(client, ADMIN[0], "guess")).status_code == 401

    locked = await post_login(client, *ADMIN)  # even the right password

    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert "Too many failed logins" in locked.text
    # Another name from that address still may try (another address: test_forwarded_addresses).
    assert (await post_login(client, *VIEWER)).status_code == 303
    async with management.db.session() as session:
        stored = await session.scalar(select(func.count()).select_from(LoginFailure))
    assert stored == 5  # kept in the database; throttled tries are not counted again


async def test_an_address_is_limited_across_names(management_settings: Settings) -> None:
    section = management_settings.management.model_copy(
        update={"login_max_failures_per_address": 6}
    )
    settings = management_settings.model_copy(update={"management": section})
    async with (
        running_management(settings) as management,
        httpx.AsyncClient(base_url=management.url) as client,
    ):
        for attempt in range(6):
            assert (await post_login(client, f"name-{attempt % 3}", "guess")).status_code == 401
        response = await post_login(client, "name-never-tried", "guess")
    assert response.status_code == 429


async def test_a_success_clears_that_names_failures(client: httpx.AsyncClient) -> None:
    for _ in range(4):
        await post_login(client, ADMIN[0], "guess")
    await log_in(client, *ADMIN)
    await client.post(
        "/Account/Logout", data={"csrf_token": csrf_token((await client.get("/")).text)}
    )

    for _ in range(4):
        assert (await post_login(client, ADMIN[0], "guess")).status_code == 401
    assert (await post_login(client, *ADMIN)).status_code == 303


async def test_a_post_without_the_token_is_forbidden(client: httpx.AsyncClient) -> None:
    await client.get("/Account/Login")  # the session and its token exist

    missing = await client.post("/Account/Login", data={"name": ADMIN[0], "password": ADMIN[1]})
    wrong = await client.post(
        "/Account/Login", data={"csrf_token": "x" * 43, "name": ADMIN[0], "password": ADMIN[1]}
    )

    for response in (missing, wrong):
        assert response.status_code == 403
        assert "The form has expired" in response.text
    assert (await client.get("/")).status_code == 303


async def test_a_token_from_another_session_is_forbidden(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    async with httpx.AsyncClient(base_url=management.url) as attacker:
        stolen = csrf_token((await attacker.get("/Account/Login")).text)
    await client.get("/Account/Login")

    response = await client.post(
        "/Account/Login", data={"csrf_token": stolen, "name": ADMIN[0], "password": ADMIN[1]}
    )

    assert response.status_code == 403


async def test_the_token_may_come_in_a_header(client: httpx.AsyncClient) -> None:
    token = csrf_token((await client.get("/Account/Login")).text)

    response = await client.post(
        "/Account/Login",
        data={"name": ADMIN[0], "password": ADMIN[1]},
        headers={"X-CSRF-Token": token},
    )

    assert response.status_code == 303


async def test_a_malformed_form_is_forbidden_not_an_error(client: httpx.AsyncClient) -> None:
    await client.get("/Account/Login")

    response = await client.post(
        "/Account/Login",
        content=b"--x\r\nnot a part",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )

    assert response.status_code == 403


async def test_the_token_changes_at_login(client: httpx.AsyncClient) -> None:
    before = csrf_token((await client.get("/Account/Login")).text)
    await log_in(client, *ADMIN)

    after = csrf_token((await client.get("/")).text)

    assert after != before


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    await log_in(client, *ADMIN)
    token = csrf_token((await client.get("/")).text)

    response = await client.post("/Account/Logout", data={"csrf_token": token})

    assert (response.status_code, response.headers["location"]) == (303, "/Account/Login")
    assert (await client.get("/")).status_code == 303


async def test_logout_needs_the_token(client: httpx.AsyncClient) -> None:
    await log_in(client, *ADMIN)

    response = await client.post("/Account/Logout")

    assert response.status_code == 403
    assert (await client.get("/")).status_code == 200  # a forged post logs nobody out
