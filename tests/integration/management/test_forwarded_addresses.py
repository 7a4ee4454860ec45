"""Throttles count the client's address; X-Forwarded-For only from a trusted proxy.

The tests' requests come from 127.0.0.1, the address uvicorn trusts by default.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from integration.management.pages import (
    ADMIN,
    RunningManagement,
    csrf_token,
    post_login,
    running_management,
)
from ocpp_core.config import Settings
from ocpp_core.db.models import LoginFailure
from ocpp_core.server.run import uvicorn_config as server_uvicorn_config


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


@pytest.fixture
async def behind_proxy(management: RunningManagement) -> AsyncIterator[RunningManagement]:
    """The management app with a proxy on this host trusted (and its operators)."""
    settings = management.context.settings.model_copy(update={"trusted_proxies": ("127.0.0.1",)})
    async with running_management(settings) as running:
        yield running


async def failed_addresses(management: RunningManagement) -> list[str]:
    async with management.db.session() as session:
        return list(await session.scalars(select(LoginFailure.address)))


async def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(
    client: httpx.AsyncClient, management: RunningManagement
) -> None:
    for attempt in range(5):
        response = await post_login(
            client, ADMIN[0], "guess", headers=forwarded(f"198.51.100.{attempt}")
        )
        assert response.status_code == 401

    locked = await post_login(client, *ADMIN, headers=forwarded("203.0.113.9"))

    assert locked.status_code == 429  # five failures from one address, whatever it claimed
    assert await failed_addresses(management) == ["127.0.0.1"] * 5


async def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit(
    behind_proxy: RunningManagement,
) -> None:
    first = forwarded("198.51.100.7")
    async with httpx.AsyncClient(base_url=behind_proxy.url) as client:
        for _ in range(5):
            assert (await post_login(client, ADMIN[0], "guess", headers=first)).status_code == 401
        locked = await post_login(client, *ADMIN, headers=first)
        other = await post_login(client, *ADMIN, headers=forwarded("203.0.113.9"))

    assert (locked.status_code, other.status_code) == (429, 303)
    assert await failed_addresses(behind_proxy) == ["198.51.100.7"] * 5


async def test_a_trusted_proxy_counts_the_address_it_appended_not_the_clients_claim(
    behind_proxy: RunningManagement,
) -> None:
    async with httpx.AsyncClient(base_url=behind_proxy.url) as client:
        for attempt in range(5):
            # What the client sent first, then what the proxy saw and appended.
            claimed = forwarded(f"192.0.2.{attempt}, 198.51.100.7")
            assert (await post_login(client, ADMIN[0], "guess", headers=claimed)).status_code == 401

    assert await failed_addresses(behind_proxy) == ["198.51.100.7"] * 5


async def test_the_public_start_limit_ignores_an_untrusted_forwarded_address(
    client: httpx.AsyncClient,
) -> None:
    token = csrf_token((await client.get("/Account/Login")).text)  # any page's form will do
    form = {"csrf_token": token, "cp": "NOPE", "conn": "1"}  # no such charger: answered quickly
    for attempt in range(10):
        headers = forwarded(f"198.51.100.{attempt}")
        assert (await client.post("/Public/Start", data=form, headers=headers)).status_code == 404

    limited = await client.post("/Public/Start", data=form, headers=forwarded("203.0.113.9"))

    assert limited.status_code == 429


def test_the_server_believes_forwarded_headers_only_from_trusted_proxies(
    settings: Settings,
) -> None:
    trusted = settings.model_copy(update={"trusted_proxies": ("10.0.0.0/8",)})

    plain = server_uvicorn_config(FastAPI(), settings)
    trusting = server_uvicorn_config(FastAPI(), trusted)

    assert (plain.proxy_headers, plain.forwarded_allow_ips) == (False, [])
    assert (trusting.proxy_headers, trusting.forwarded_allow_ips) == (True, ["10.0.0.0/8"])
