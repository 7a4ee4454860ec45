"""``ocpp-core serve``: the server and the management app (a child process), as a user runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from builders import add_charge_point
from chargers import RawCharger
from integration.management.pages import ADMIN, add_operator, log_in
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import ChargePoint, OperatorSession
from ocpp_core.db.session import Database
from ocpp_core.domain.users import Role
from ocpp_core.security import OPERATOR_COST
from servers import START_TIMEOUT, free_port, until_up

KEY_LINE = "this run's API key is "


async def add_admin(database_url: str) -> None:
    await upgrade(database_url)
    db = Database(database_url)
    try:
        async with db.session() as session:
            await add_operator(session, ADMIN, Role.ADMIN, OPERATOR_COST)
    finally:
        await db.close()


async def read_api_key(stderr: asyncio.StreamReader) -> str:
    async with asyncio.timeout(START_TIMEOUT):
        while line := (await stderr.readline()).decode():
            if KEY_LINE in line:
                return line.split(KEY_LINE, 1)[1].strip()
    raise AssertionError("serve printed no API key")


async def start_serve(
    database_url: str, tmp_path: Path
) -> tuple[asyncio.subprocess.Process, int, int]:
    """``ocpp-core serve`` on free ports; its stderr is piped (read the API key from it)."""
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
    return process, server_port, management_port


async def end(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux: its threads' children in /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


async def ended(pid: int) -> None:
    """Returns once ``pid`` has ended, whoever adopted it (its pidfd is readable then)."""
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[None] = loop.create_future()
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:  # ended and reaped already
        return

    def readable() -> None:
        if not gone.done():
            gone.set_result(None)

    try:
        loop.add_reader(pidfd, readable)
        await gone
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_serve_runs_both_apps_and_stops_cleanly_on_ctrl_c(
    database_url: str, tmp_path: Path, stop: signal.Signals
) -> None:
    """One signal stops both apps gracefully, the management app's process included."""
    await add_admin(database_url)
    process, server_port, management_port = await start_serve(database_url, tmp_path)
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
        async with asyncio.timeout(START_TIMEOUT):
            rest = (await process.stderr.read()).decode()
            returncode = await process.wait()
    finally:
        await end(process)

    assert dashboard.status_code == 200
    assert "can't be reached" not in dashboard.text  # management found the server by itself
    assert (status.status_code, status.json()) == (200, [])
    assert returncode == 0, rest
    assert rest.count("Application shutdown complete") == 2
    assert "Traceback" not in rest


async def test_the_management_process_ends_when_serve_is_killed(
    database_url: str, tmp_path: Path
) -> None:
    process, _, management_port = await start_serve(database_url, tmp_path)
    try:
        assert process.stderr is not None
        await read_api_key(process.stderr)
        await until_up(f"http://127.0.0.1:{management_port}/Account/Login")
        (child,) = children(process.pid)
        process.kill()  # SIGKILL: serve has no chance to stop it
        await process.wait()
        async with asyncio.timeout(START_TIMEOUT):
            await ended(child)
    finally:
        await end(process)
    with pytest.raises(httpx.ConnectError):
        await httpx.AsyncClient().get(f"http://127.0.0.1:{management_port}/Account/Login")


async def test_serve_stops_and_says_so_when_the_management_process_dies(
    database_url: str, tmp_path: Path
) -> None:
    process, server_port, management_port = await start_serve(database_url, tmp_path)
    try:
        assert process.stderr is not None
        await read_api_key(process.stderr)
        await until_up(f"http://127.0.0.1:{management_port}/Account/Login")
        (child,) = children(process.pid)
        os.kill(child, signal.SIGKILL)
        async with asyncio.timeout(START_TIMEOUT):
            rest = (await process.stderr.read()).decode()
            returncode = await process.wait()
    finally:
        await end(process)

    assert returncode == 1, rest
    assert "the management app's process ended (exit code -9)" in rest
    # Then "... stopped" or, had serve not yet seen every app up, "an app could not start".
    assert rest.rstrip().rsplit("\n", 1)[-1].endswith("see the log above")
    assert "Traceback" not in rest
    with pytest.raises(httpx.ConnectError):
        await httpx.AsyncClient().get(f"http://127.0.0.1:{server_port}/API/Status")


async def test_both_processes_write_to_the_database_at_once(
    database_url: str, tmp_path: Path
) -> None:
    """Logins (the management process) and boots (the server's) commit side by side."""
    await add_admin(database_url)
    db = Database(database_url)
    await add_charge_point(db, "CP-1")
    process, server_port, management_port = await start_serve(database_url, tmp_path)
    management = f"http://127.0.0.1:{management_port}"
    logins = 10

    async def log_in_again_and_again() -> None:
        # One after the other: logins at once from one address count against its
        # failure limit until checked (ocpp_core.management.throttle).
        for _ in range(logins):
            async with httpx.AsyncClient(base_url=management) as client:
                await log_in(client, *ADMIN)

    async def boot_again_and_again() -> None:
        url = f"ws://127.0.0.1:{server_port}/OCPP/CP-1"
        async with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as websocket:
            charger = RawCharger(websocket)
            for model in range(logins):
                boot = {"chargePointVendor": "V", "chargePointModel": f"M{model}"}
                assert (await charger.result("BootNotification", boot))["status"] == "Accepted"

    try:
        assert process.stderr is not None
        await read_api_key(process.stderr)
        await until_up(f"{management}/Account/Login")
        await asyncio.gather(boot_again_and_again(), log_in_again_and_again())
        async with db.session() as session:
            sessions = await session.scalar(select(func.count()).select_from(OperatorSession))
            model = await session.scalar(select(ChargePoint.model).where(ChargePoint.id == "CP-1"))
    finally:
        await end(process)
        await db.close()

    assert sessions == logins
    assert model == f"M{logins - 1}"
