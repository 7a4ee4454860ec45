"""``ocpp-core serve``'s apps: the management app in a process of its own.

The proof is an ordering, not a clock: while the management app's process is
stopped outright (SIGSTOP: more than any page that computes without yielding
could hold it up), a charger connects and its Heartbeat is answered; only then
does the page's request go on. Were the management app anywhere in the
server's process, stopping it would stop the server too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal

import httpx
import uvicorn
from pydantic import SecretStr
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from builders import add_charge_point
from chargers import RawCharger
from integration.management.pages import SESSION_SECRET
from ocpp_core import one_process
from ocpp_core.app_process import AppProcess
from ocpp_core.config import ManagementSettings, Settings
from ocpp_core.db.session import Database
from ocpp_core.listening import Server, listen, serve_all
from servers import free_port, until_up


async def test_a_charger_is_answered_while_the_management_process_is_stopped(
    settings: Settings, db: Database
) -> None:
    await add_charge_point(db, "CP-1")
    management = ManagementSettings(
        host="127.0.0.1", port=free_port(), session_secret=SecretStr(SESSION_SECRET)
    )
    update = {"port": free_port(), "management": management, "migrate_on_start": False}
    settings = one_process.one_process_settings(settings.model_copy(update=update))
    server_listener, management_listener = one_process.listeners(settings)
    made: list[Server] = []

    def remembered(config: uvicorn.Config) -> Server:
        made.append(management_listener.server(config))
        return made[-1]

    listener = dataclasses.replace(management_listener, server=remembered)
    serving = asyncio.create_task(serve_all(server_listener, listener))
    pages = f"http://127.0.0.1:{management.port}"
    child = None
    try:
        # Both up before the stop: a server still starting could be waiting for SQLite's
        # write lock, held by a management process stopped in its first sweep's transaction.
        await until_up(f"{pages}/Account/Login")
        await until_up(f"http://127.0.0.1:{settings.port}/health")
        (process,) = made
        assert isinstance(process, AppProcess)
        assert process.pid is not None
        child = process.pid
        os.kill(child, signal.SIGSTOP)
        async with httpx.AsyncClient(base_url=pages, timeout=60) as client:
            page = asyncio.create_task(client.get("/Account/Login"))
            url = f"ws://127.0.0.1:{settings.port}/OCPP/CP-1"
            async with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as websocket:
                await RawCharger(websocket).still_up()  # a Heartbeat, answered
            page_was_held = not page.done()
            os.kill(child, signal.SIGCONT)
            response = await page
    finally:
        if child is not None:
            os.kill(child, signal.SIGCONT)
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)

    assert page_was_held
    assert response.status_code == 200


async def test_a_stop_sent_before_the_management_process_has_read_its_settings_stops_it(
    settings: Settings,
) -> None:
    """The stop lands in the pair right behind the settings: reading them must leave it there."""
    management = ManagementSettings(
        host="127.0.0.1", port=free_port(), session_secret=SecretStr(SESSION_SECRET)
    )
    update = {"port": free_port(), "management": management, "migrate_on_start": False}
    settings = one_process.one_process_settings(settings.model_copy(update=update))
    _, listener = one_process.listeners(settings)
    process = AppProcess(settings, listener.config)
    process.should_exit = True  # before it was started: written right after the settings
    with listen(listener) as sock:
        async with asyncio.timeout(60):
            await process.serve(sockets=[sock])

    assert process.started  # it came up, then stopped as told
