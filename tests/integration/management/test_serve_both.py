"""``ocpp-core serve``: the server and the management app in one process, as a user runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from integration.management.pages import ADMIN, log_in
from ocpp_core.clock import utc_now
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.session import Database
from ocpp_core.domain import users
from ocpp_core.domain.users import Role
from servers import free_port

KEY_LINE = "this run's API key is "


async def add_admin(database_url: str) -> None:
    await upgrade(database_url)
    db = Database(database_url)
    try:
        async with db.session() as session:
            await users.add(
                session, name=ADMIN[0], password=ADMIN[1], role=Role.ADMIN, now=utc_now()
            )
    finally:
        await db.close()


async def read_api_key(stderr: asyncio.StreamReader) -> str:
    async with asyncio.timeout(20):
        while line := (await stderr.readline()).decode():
            if KEY_LINE in line:
                return line.split(KEY_LINE, 1)[1].strip()
    raise AssertionError("serve printed no API key")


async def until_up(url: str) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient() as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.ConnectError:
                await asyncio.sleep(0.1)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_serve_runs_both_apps_and_stops_cleanly_on_ctrl_c(
    database_url: str, tmp_path: Path, stop: signal.Signals
) -> None:
    """One signal stops both apps gracefully, the management app's own loop included."""
    await add_admin(database_url)
    server_port, management_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPP_CORE_")}
    env["OCPP_CORE_DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp_core",
        "serve",
        "--port",
        str(server_port),
        "--management-port",
        str(management_port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        api_key = await read_api_key(process.stderr)
        management = f"http://127.0.0.1:{management_port}"
        await until_up(f"{management}/Account/Login")
        async with httpx.AsyncClient(base_url=management) as client:
            await log_in(client, *ADMIN)
            dashboard = await client.get("/")
        async with httpx.AsyncClient() as api:
            status = await api.get(
                f"http://127.0.0.1:{server_port}/API/Status", headers={"X-API-Key": api_key}
            )
        process.send_signal(stop)
        async with asyncio.timeout(20):
            rest = (await process.stderr.read()).decode()
            returncode = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert dashboard.status_code == 200
    assert "can't be reached" not in dashboard.text  # management found the server by itself
    assert (status.status_code, status.json()) == (200, [])
    assert returncode == 0, rest
    assert rest.count("Application shutdown complete") == 2
    assert "Traceback" not in rest
