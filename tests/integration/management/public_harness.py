"""The driver pages' harness: server + Stripe simulator + management app, all on loopback.

Three sockets are bound before anything starts, because each app must know
another's URL: the simulator posts webhooks to the server, the server sends
Stripe back to the management app (``public_base_url``), and the management
app calls the server's API. Fixture names are their own (``pay_server``,
``pay_charger``, ``public_site``...) so the plain management fixtures are untouched.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from ocpp.v16 import call
from pydantic import SecretStr

from builders import add_charge_point
from chargers import TestCharger
from integration.management.pages import (
    PASSWORD_COST,
    SESSION_SECRET,
    RunningManagement,
    csrf_token,
)
from ocpp_core.clock import utc_now
from ocpp_core.config import ManagementSettings, PaymentSettings, Settings
from ocpp_core.domain import tariffs
from ocpp_core.domain.pricing import Tariff
from ocpp_core.management.app import create_management_app
from ocpp_core.management.run import uvicorn_config as management_uvicorn_config
from ocpp_core.server.app import create_server_app
from ocpp_core.server.run import uvicorn_config as server_uvicorn_config
from ocpp_core.tls_trust import trusted
from servers import (
    API_KEY,
    PATIENCE,
    ChargerFactory,
    ConnectCharger,
    RunningServer,
    listening_socket,
    serving,
)
from stripe_harness import StripeSim, running_stripe_sim

OPERATOR = "Volt & Co"
SUPPORT_EMAIL = "help@volt.example"
SUPPORT_PHONE = "+385 1 234 5678"
# 0.40 EUR/kWh up to 20 kWh, 1.00 EUR per session: a hold of 8.00 + 1.00.
TARIFF = Tariff(price_kwh_millicents=40_000, session_fee_cents=100, max_energy_wh=20_000)
FREE = Tariff(free=True)
_LOCATION_ID = re.compile(r"reservationId=([0-9a-f-]{36})")


@pytest.fixture
def site_socket() -> tuple[socket.socket, str]:
    """The management app's socket, bound first: Stripe must be told to come back there."""
    return listening_socket()


@pytest.fixture
async def stripe_sim(server_socket: tuple[socket.socket, str]) -> AsyncIterator[StripeSim]:
    async with running_stripe_sim(f"{server_socket[1]}/API/Payments/Webhook") as sim:
        yield sim


@pytest.fixture
def site_settings(
    settings: Settings,
    stripe_sim: StripeSim,
    server_socket: tuple[socket.socket, str],
    site_socket: tuple[socket.socket, str],
) -> Settings:
    site_url = site_socket[1]
    return settings.model_copy(
        update={
            "public_base_url": site_url,
            "stripe": stripe_sim.settings(site_url),
            "payments": PaymentSettings(
                min_session_energy_wh=500,
                sweep_interval_seconds=3600,
                retry_base_seconds=0.05,
                disconnect_grace_seconds=0,
            ),
            "management": ManagementSettings(
                server_api_url=server_socket[1],
                session_secret=SecretStr(SESSION_SECRET),
                operator_name=OPERATOR,
                support_email=SUPPORT_EMAIL,
                support_phone=SUPPORT_PHONE,
                public_status_refresh_seconds=0.5,
                password_cost=PASSWORD_COST,
            ),
        }
    )


@pytest.fixture
async def pay_server(
    site_settings: Settings, server_socket: tuple[socket.socket, str]
) -> AsyncIterator[RunningServer]:
    """The server with Stripe on (the simulator), as the ``server`` fixture runs it."""
    sock, url = server_socket
    app = create_server_app(site_settings)
    async with (
        serving(server_uvicorn_config(app, site_settings), sock) as running,
        httpx.AsyncClient(
            base_url=url, headers={"X-API-Key": API_KEY}, verify=trusted(), timeout=PATIENCE
        ) as api,
    ):
        yield RunningServer(app, sock.getsockname()[1], api, running)


@pytest.fixture
async def pay_charger(pay_server: RunningServer) -> AsyncIterator[ConnectCharger]:
    factory = ChargerFactory(pay_server)
    yield factory
    assert await factory.close_all() == []


@pytest.fixture
async def public_site(
    site_settings: Settings, site_socket: tuple[socket.socket, str], pay_server: RunningServer
) -> AsyncIterator[RunningManagement]:
    sock, url = site_socket
    app = create_management_app(site_settings)
    async with serving(management_uvicorn_config(app, site_settings), sock):
        yield RunningManagement(app, url)


@pytest.fixture
async def driver(public_site: RunningManagement) -> AsyncIterator[httpx.AsyncClient]:
    """A driver's phone: keeps cookies, doesn't follow redirects."""
    async with httpx.AsyncClient(
        base_url=public_site.url, verify=trusted(), timeout=PATIENCE
    ) as phone:
        yield phone


@pytest.fixture
async def other_driver(public_site: RunningManagement) -> AsyncIterator[httpx.AsyncClient]:
    """A second phone, with a cookie jar of its own."""
    async with httpx.AsyncClient(
        base_url=public_site.url, verify=trusted(), timeout=PATIENCE
    ) as phone:
        yield phone


# --- steps --------------------------------------------------------------------------------


async def price_station(
    server: RunningServer, cp_id: str = "CP1", tariff: Tariff = TARIFF, name: str | None = None
) -> None:
    await add_charge_point(server.runtime.db, cp_id, name=name)
    async with server.runtime.db.session() as session:
        await tariffs.set_tariff(session, cp_id, tariff)


async def report(cp: TestCharger, status: str, connector: int = 1) -> None:
    stamp = utc_now().isoformat().replace("+00:00", "Z")
    await cp.call(call.StatusNotification(connector, "NoError", status, timestamp=stamp))


async def online(charger: ConnectCharger, cp_id: str = "CP1") -> TestCharger:
    cp = await charger(cp_id)
    await report(cp, "Available")
    return cp


async def post_start(
    phone: httpx.AsyncClient,
    cp_id: str = "CP1",
    conn: int = 1,
    extra: dict[str, Any] | None = None,
) -> httpx.Response:
    """Open the start page and send its form, as a browser does (``extra``: fields it has not)."""
    page = await phone.get("/Public/Start", params={"cp": cp_id, "conn": conn})
    assert page.status_code == 200, page.text
    form = {"csrf_token": csrf_token(page.text), "cp": cp_id, "conn": str(conn)}
    return await phone.post("/Public/Start", data={**form, **(extra or {})})


def reservation_of(url: str) -> str:
    match = _LOCATION_ID.search(url)
    assert match, f"no reservationId in {url}"
    return match.group(1)
