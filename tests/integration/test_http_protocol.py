"""Slow and silent clients are closed by the server; a connected charger is not.

Every listener (the server, with the OCPP port, and the management app) runs
with short timeouts here; each test only asks whether the server ends the
connection, never how fast.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from ocpp.v16 import call
from pydantic import SecretStr

from builders import add_charge_point
from integration.management.pages import SESSION_SECRET, running_management
from ocpp_core.config import HttpSettings, ManagementSettings, Settings
from rawhttp import raw_connection, request_head
from servers import API_KEY, ConnectCharger, RunningServer

SHORT = HttpSettings(header_timeout=0.3, body_timeout=0.3, keepalive_timeout=0.3)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    management = ManagementSettings(session_secret=SecretStr(SESSION_SECRET))
    return settings.model_copy(update={"http": SHORT, "management": management})


@dataclass
class Listener:
    port: int
    page: str  # a GET answered at once
    form: str  # a POST that reads its body
    headers: dict[str, str]


@pytest.fixture(params=["server", "management"])
async def listener(
    request: pytest.FixtureRequest, server: RunningServer, settings: Settings
) -> AsyncIterator[Listener]:
    if request.param == "server":
        yield Listener(server.port, "/metrics", "/API/Payments/Create", {"X_API_Key": API_KEY})
        return
    async with running_management(settings) as management:
        port = int(management.url.rsplit(":", 1)[1])
        yield Listener(port, "/Account/Login", "/Account/Login", {})


async def test_a_connection_that_sends_nothing_is_closed(listener: Listener) -> None:
    async with raw_connection(listener.port) as connection:
        assert await connection.closed_by_server()


@pytest.mark.parametrize("path", ["/", "/OCPP/CP1"])
async def test_half_a_request_head_is_closed(listener: Listener, path: str) -> None:
    head = request_head("GET", path, Upgrade="websocket", Connection="Upgrade")
    async with raw_connection(listener.port) as connection:
        await connection.send(head[: len(head) // 2])

        assert await connection.closed_by_server()


async def test_a_head_that_trickles_in_is_closed_though_each_byte_comes_in_time(
    listener: Listener,
) -> None:
    async with raw_connection(listener.port) as connection:
        await connection.send(b"GET / HTTP/1.1\r\n")
        for _ in range(100):  # far longer than the header timeout, a byte at a time
            try:
                await connection.send(b"X-Slow: 1\r\n")
            except ConnectionError:
                break
            await asyncio.sleep(SHORT.header_timeout / 5)

        assert await connection.closed_by_server()


async def test_a_request_with_half_its_body_is_closed_without_an_error_logged(
    listener: Listener, server_errors: list[logging.LogRecord]
) -> None:
    head = request_head(
        "POST",
        listener.form,
        Content_Type="application/x-www-form-urlencoded",
        Content_Length="100",
        **listener.headers,
    )
    async with raw_connection(listener.port) as connection:
        await connection.send(head + b"name=ada&")

        assert await connection.closed_by_server()
    assert [record.getMessage() for record in server_errors] == []


@pytest.mark.parametrize("then", [b"", b"GET / HT"], ids=["idle", "next-head-stalls"])
async def test_a_kept_alive_connection_is_closed_when_idle_or_stalled(
    listener: Listener, then: bytes
) -> None:
    async with raw_connection(listener.port) as connection:
        await connection.send(request_head("GET", listener.page, **listener.headers))
        status, _, _ = await connection.response()
        assert status == 200

        await connection.send(then)  # uvicorn's keep-alive timer stops at the first byte

        assert await connection.closed_by_server()


async def test_a_request_head_over_the_size_limit_gets_431(listener: Listener) -> None:
    async with raw_connection(listener.port) as connection:
        await connection.send(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * SHORT.max_header_size)

        status, _, _ = await connection.response()

        assert status == 431
        assert await connection.closed_by_server()


async def test_a_connected_charger_idle_past_the_header_timeout_stays_connected(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")

    await asyncio.sleep(SHORT.header_timeout * 5)  # idle: no frame either way

    assert (await cp.call(call.Heartbeat())).current_time
