"""Who may see what, and what every response carries: roles, polls, headers, assets."""

from __future__ import annotations

import gzip
import re

import httpx
import pytest
from pydantic import SecretStr

from integration.management.pages import (
    ADMIN,
    VIEWER,
    RunningManagement,
    log_in,
    running_management,
)
from ocpp_core.config import ConfigError, ManagementSettings, Settings
from ocpp_core.management.app import create_management_app


async def test_a_viewer_is_refused_an_admin_page(client: httpx.AsyncClient) -> None:
    await log_in(client, *VIEWER)

    response = await client.get("/Account/Users")

    assert response.status_code == 403
    assert "This page is for administrators." in response.text
    assert 'href="/Account/Users"' not in (await client.get("/")).text  # nor offered the link


async def test_an_admin_sees_the_operators(client: httpx.AsyncClient) -> None:
    await log_in(client, *ADMIN)

    response = await client.get("/Account/Users")

    assert response.status_code == 200
    for name in ("ada", "vic"):  # each opens the page where an admin changes them
        row = rf'<th scope="row"><a href="/Account/Users/\d+">{name}</a></th>'
        assert re.search(row, response.text)
    assert "Administrator" in response.text
    assert "Viewer" in response.text


async def test_an_anonymous_poll_sends_the_page_to_the_login(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/Home/Tiles",
        headers={"HX-Request": "true", "HX-Current-URL": "http://127.0.0.1/?tab=1"},
    )

    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/Account/Login?ReturnUrl=%2F%3Ftab%3D1"


async def test_pages_carry_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/Account/Login")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "server" not in response.headers


async def test_assets_are_vendored_cached_and_compressed(client: httpx.AsyncClient) -> None:
    page = (await client.get("/Account/Login")).text
    assert "://" not in page.split("<body")[0]  # no CDN: every asset comes from here

    for asset, marker in (("js/htmx.min.js", b"htmx"), ("css/pico.min.css", b"Pico CSS")):
        start = page.index(f"/static/{asset}?v=")
        url = page[start : page.index('"', start)]
        response = await client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert "immutable" in response.headers["cache-control"]
        assert marker in response.content  # httpx undid the gzip
        assert len(gzip.compress(response.content)) < len(response.content) / 2


async def test_an_unknown_page_is_a_friendly_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/Home/Nothing")

    assert response.status_code == 404
    assert "There is no such page." in response.text


async def test_secure_cookies_are_secure_and_host_bound(management_settings: Settings) -> None:
    section = management_settings.management.model_copy(update={"secure_cookies": True})
    settings = management_settings.model_copy(update={"management": section})
    async with (
        running_management(settings) as management,
        httpx.AsyncClient(base_url=management.url) as client,
    ):
        response = await client.get("/Account/Login")

    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-ocpp_core_session=")
    assert "; secure" in cookie.lower()
    assert "; path=/" in cookie.lower()


@pytest.mark.parametrize("secret", ["", "too-short-to-sign-sessions"])
def test_start_up_refuses_a_weak_session_secret(settings: Settings, secret: str) -> None:
    section = ManagementSettings(session_secret=SecretStr(secret))
    with pytest.raises(ConfigError, match="OCPP_CORE_MANAGEMENT__SESSION_SECRET"):
        create_management_app(settings.model_copy(update={"management": section}))


def test_start_up_refuses_a_missing_api_key(management_settings: Settings) -> None:
    with pytest.raises(ConfigError, match="OCPP_CORE_API_KEY"):
        create_management_app(management_settings.model_copy(update={"api_key": SecretStr("")}))


async def test_the_management_app_serves_no_api_docs(management: RunningManagement) -> None:
    async with httpx.AsyncClient(base_url=management.url) as client:
        for path in ("/docs", "/openapi.json", "/redoc"):
            assert (await client.get(path)).status_code == 404
