"""``ocpp-core serve``'s apps: the management app on an event loop of its own.

The proof is an ordering, not a clock: while a management request holds its
loop, a charger connects and its Heartbeat is answered; only then is the
request let go. On one shared loop the charger could not even connect.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from builders import add_charge_point
from chargers import RawCharger
from integration.management.pages import SESSION_SECRET
from ocpp_core import one_process
from ocpp_core.config import ManagementSettings, Settings
from ocpp_core.db.session import Database
from ocpp_core.listening import serve_all
from servers import free_port

HOLD = b"x-test-hold"
# A held request goes on by itself after this long: on a shared loop, which
# the test itself runs on, nobody could let it go and the test would hang.
HOLD_AT_MOST = 20.0


class HoldingApp:
    """The real management app, except that a request with the HOLD header first holds its loop.

    It stands for a page that computes without ever yielding (the dashboard of
    a 20,000-charger fleet took 159 s): until it is done, nothing else runs on
    the loop that serves it. The test lets it go.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.holding = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(name == HOLD for name, _ in scope["headers"]):
            self.holding.set()
            self.release.wait(HOLD_AT_MOST)  # blocks the thread and its loop, as busy work does
        await self.app(scope, receive, send)


async def until_up(url: str) -> None:
    async with asyncio.timeout(20), httpx.AsyncClient() as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.ConnectError:
                await asyncio.sleep(0.05)


async def test_a_charger_is_answered_while_a_management_request_holds_its_loop(
    settings: Settings, db: Database
) -> None:
    await add_charge_point(db, "CP-1")
    management = ManagementSettings(
        host="127.0.0.1", port=free_port(), session_secret=SecretStr(SESSION_SECRET)
    )
    update = {"port": free_port(), "management": management, "migrate_on_start": False}
    settings = one_process.one_process_settings(settings.model_copy(update=update))
    server_listener, management_listener = one_process.listeners(settings)
    app = management_listener.config.app
    assert isinstance(app, FastAPI)
    held = HoldingApp(app)
    management_listener.config.app = held
    serving = asyncio.create_task(serve_all(server_listener, management_listener))
    pages = f"http://127.0.0.1:{management.port}"
    try:
        await until_up(f"{pages}/Account/Login")
        async with httpx.AsyncClient(base_url=pages) as client:
            page = asyncio.create_task(client.get("/Account/Login", headers={HOLD.decode(): "1"}))
            assert await asyncio.to_thread(held.holding.wait, 20)  # the page holds its loop
            url = f"ws://127.0.0.1:{settings.port}/OCPP/CP-1"
            async with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as websocket:
                await RawCharger(websocket).still_up()  # a Heartbeat, answered
            page_was_held = not page.done()
            held.release.set()
            response = await page
    finally:
        held.release.set()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)

    assert page_was_held
    assert response.status_code == 200
