"""``ocpp-core demo``: the whole system on one machine, on the embedded defaults.

A fresh SQLite database, a few provisioned chargers with passwords, the server,
and simulated chargers that boot, get remote-started through the API and charge,
with the live status printed as it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn
from pydantic import SecretStr

from ocpp_core.clock import utc_now
from ocpp_core.config import OcppSettings, Settings
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.session import Database
from ocpp_core.domain import chargepoints, tags
from ocpp_core.domain.chargepoints import NewChargePoint
from ocpp_core.domain.tags import NewTag
from ocpp_core.server.app import create_server_app
from ocpp_core.server.run import uvicorn_config
from ocpp_core.simulators.chargepoint.fleet import Fleet
from ocpp_core.simulators.chargepoint.settings import FleetSettings

DEMO_DB = Path("ocpp-core-demo.sqlite")
PREFIX = "DEMO-"
TAG = "DEMO-CARD"


async def provision(settings: Settings, count: int, password: str) -> None:
    await upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            rows = [
                NewChargePoint(f"{PREFIX}{i:04d}", f"Demo charger {i}", password)
                for i in range(1, count + 1)
            ]
            await chargepoints.add_many(session, rows, now=utc_now())
            await tags.add(session, NewTag(TAG, "Demo driver"), now=utc_now())
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[uvicorn.Server]:
    server = uvicorn.Server(uvicorn_config(create_server_app(settings), settings))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise click.ClickException(f"the server could not start on port {settings.port}")
        await asyncio.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


async def run_demo(port: int, count: int, duration: float | None) -> None:
    await asyncio.to_thread(DEMO_DB.unlink, missing_ok=True)
    api_key = secrets.token_urlsafe(24)
    password = secrets.token_urlsafe(18)
    settings = Settings(
        database_url=f"sqlite:///{DEMO_DB}",
        api_key=SecretStr(api_key),
        port=port,
        log_level="warning",
        ocpp=OcppSettings(heartbeat_interval=60),
    )
    await provision(settings, count, password)
    base = f"http://127.0.0.1:{port}"
    fleet_settings = FleetSettings(
        url=f"ws://127.0.0.1:{port}/OCPP",
        count=count,
        id_prefix=PREFIX,
        password=password,
        speed=20.0,  # 220 kW apparent: fast to watch, under the plausibility limit
        meter_interval=2.0,
    )
    async with running_server(settings), Fleet(fleet_settings) as fleet:
        _banner(base, api_key, count)
        async with asyncio.timeout(30):
            await fleet.wait_booted()
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": api_key}) as api:
            await _start_sessions(api, count)
            await _watch(api, duration)


def _banner(base: str, api_key: str, count: int) -> None:
    click.echo(
        f"\nocpp-core demo: server on {base}, {count} simulated chargers, database {DEMO_DB}\n"
        f"  API key (this run only): {api_key}\n"
        f"  live status:  curl -H 'X-API-Key: {api_key}' {base}/API/Status\n"
        f"  transactions: curl -H 'X-API-Key: {api_key}' {base}/API/Transactions\n"
        f"  metrics:      {base}/metrics\n"
        f"  chargers connect to ws://127.0.0.1:{base.rsplit(':', 1)[1]}/OCPP/{PREFIX}0001 ...\n"
        "Press Ctrl-C to stop.\n"
    )


async def _start_sessions(api: httpx.AsyncClient, count: int) -> None:
    for i in range(1, count + 1):
        charger = f"{PREFIX}{i:04d}"
        answer = (await api.get(f"/API/StartTransaction/{charger}/1/{TAG}")).json()
        click.echo(f"remote start on {charger} connector 1: {answer.get('status')}")


async def _watch(api: httpx.AsyncClient, duration: float | None) -> None:
    """Print the live status; after a few rounds stop one session to show a finished one."""
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    rounds = 0
    while deadline is None or loop.time() < deadline:
        await asyncio.sleep(3)
        rounds += 1
        _print_status((await api.get("/API/Status")).json())
        if rounds == 3:
            await _stop_one(api)


async def _stop_one(api: httpx.AsyncClient) -> None:
    charger = f"{PREFIX}0001"
    answer = (await api.get(f"/API/StopTransaction/{charger}/1")).json()
    click.echo(f"\nremote stop on {charger} connector 1: {answer.get('status')}")
    await asyncio.sleep(1)
    for tx in (await api.get("/API/Transactions", params={"cp": charger})).json():
        energy = f"{tx['energyWh'] / 1000:.2f} kWh" if tx["energyWh"] is not None else "-"
        click.echo(f"transaction {tx['id']} by {tx['startTag']}: {tx['stopReason']}, {energy}")


def _print_status(chargers: list[dict[str, Any]]) -> None:
    click.echo(
        f"\n{'CHARGER':<12} {'CONN':>4} {'STATUS':<14} {'kW':>6} {'METER kWh':>10} {'SoC':>4}"
    )
    for charger in chargers:
        for c in charger["connectors"]:
            kw = f"{c['powerW'] / 1000:.1f}" if c["powerW"] is not None else "-"
            kwh = f"{c['meterWh'] / 1000:.2f}" if c["meterWh"] is not None else "-"
            soc = f"{c['socPercent']}%" if c["socPercent"] is not None else "-"
            line = f"{charger['id']:<12} {c['connectorId']:>4} {c['status'] or '-':<14}"
            click.echo(f"{line} {kw:>6} {kwh:>10} {soc:>4}")
