"""Real servers on loopback sockets, and real chargers connected to them.

Sockets are bound before the apps that must know their own URLs are built.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from chargers import SchemaCheckedConnection, TestCharger, TestCharger201
from ocpp_core.runtime import Runtime


def listening_socket() -> tuple[socket.socket, str]:
    """A bound loopback socket on a free port, and its http:// URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def serving(config: uvicorn.Config, sock: socket.socket) -> AsyncIterator[uvicorn.Server]:
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("server stopped during start-up")
                await asyncio.sleep(0.01)
        yield server
    finally:
        server.should_exit = True
        await task
        sock.close()


API_KEY = "test-api-key-0123456789abcdef"


@dataclass
class RunningServer:
    app: FastAPI
    port: int
    api: httpx.AsyncClient
    uvicorn: uvicorn.Server

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/OCPP"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class ChargerFactory:
    server: RunningServer
    opened: list[tuple[TestCharger | TestCharger201, asyncio.Task[None], ClientConnection]] = field(
        default_factory=list
    )

    async def __call__(
        self, charge_point_id: str, *, password: str | None = None, **options: Any
    ) -> TestCharger:
        websocket = await self._connect(charge_point_id, "ocpp1.6", password, options)
        charger = TestCharger(charge_point_id, SchemaCheckedConnection(websocket))
        self._run(charger, websocket)
        return charger

    async def v201(
        self, charge_point_id: str, *, password: str | None = None, **options: Any
    ) -> TestCharger201:
        websocket = await self._connect(charge_point_id, "ocpp2.0.1", password, options)
        charger = TestCharger201(charge_point_id, SchemaCheckedConnection(websocket, "2.0.1"))
        self._run(charger, websocket)
        return charger

    async def _connect(
        self, charge_point_id: str, subprotocol: str, password: str | None, options: Any
    ) -> ClientConnection:
        headers = basic_auth(charge_point_id, password) if password else None
        return await connect(
            f"{self.server.ws_url}/{charge_point_id}",
            subprotocols=[subprotocol],  # type: ignore[list-item]
            additional_headers=headers,
            **options,
        )

    def _run(self, charger: TestCharger | TestCharger201, websocket: ClientConnection) -> None:
        task = asyncio.create_task(charger.start())
        self.opened.append((charger, task, websocket))

    async def close_all(self) -> list[str]:
        problems: list[str] = []
        for charger, task, websocket in self.opened:
            await websocket.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            problems.extend(charger.connection.problems)
        return problems


ConnectCharger = Callable[..., Awaitable[TestCharger]]
ConnectCharger201 = Callable[..., Awaitable[TestCharger201]]
