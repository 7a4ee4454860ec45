"""Real servers on loopback sockets, and real chargers connected to them.

Sockets are bound before the apps that must know their own URLs are built.
``ocpp_core_server`` runs the real ``ocpp-core server`` command in a process of
its own instead, for tests that kill it or cut it off from its database.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from chargers import RawCharger, SchemaCheckedConnection, TestCharger, TestCharger201
from cli_harness import env_for
from ocpp_core.config import DiagnosticsSettings, Settings
from ocpp_core.runtime import Runtime
from ocpp_core.tls_trust import trusted


def listening_socket() -> tuple[socket.socket, str]:
    """A bound loopback socket on a free port, and its http:// URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def free_port() -> int:
    """A port nobody listens on now, for a server that binds it itself."""
    sock, _ = listening_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port


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


# How long the tests' HTTP clients wait for an answer (httpx's default: 5 s). A bound
# for a stuck server, not a speed check: on a loaded machine a page or a Stripe call
# behind it has taken longer than 5 s.
PATIENCE = 30.0


# -- ``ocpp-core server`` in a process of its own -------------------------------------------

START_TIMEOUT = 30.0


@dataclass(frozen=True)
class ServerProcess:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    def ws_url(self, charge_point_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/OCPP/{charge_point_id}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def server_env(database_url: str, settings: Mapping[str, str]) -> dict[str, str]:
    """How an operator would run it, every incoming message kept in the message log."""
    ours = {
        **env_for(database_url),
        "OCPP_CORE_API_KEY": API_KEY,
        "OCPP_CORE_LOG_LEVEL": "warning",
        "OCPP_CORE_OCPP__MESSAGE_LOG_LEVEL": "2",
        **settings,
    }
    merged = {**os.environ, **ours}
    return {name: value for name, value in merged.items() if value is not None}


@asynccontextmanager
async def ocpp_core_server(
    database_url: str, log: Path, settings: Mapping[str, str] | None = None, port: int | None = None
) -> AsyncIterator[ServerProcess]:
    """``ocpp-core server``, which the test may SIGKILL at any time; ``settings``: more env.

    ``port``: one chosen beforehand, for a URL another server must know first.
    Its output goes to a file: a pipe nobody reads would stall it once full.
    """
    if port is None:
        port = free_port()  # the server binds it again; `ocpp-core server` can't take a socket
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "ocpp-core"),
            "server",
            f"--port={port}",
            env=server_env(database_url, settings or {}),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        await until_listening(port, process, log)
        yield ServerProcess(process, port, log)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def until_up(url: str) -> None:
    """Until ``url`` answers: a process that was just started, its first page.

    Up to a minute: at the start of a run on a fresh checkout, the long tests' servers
    and the bench all start at once and compile their bytecode, and a management
    process under ``serve`` was seen not answering within 20 s.
    """
    async with asyncio.timeout(60), httpx.AsyncClient(timeout=20, verify=trusted()) as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.ConnectError:
                await asyncio.sleep(0.05)


async def until_listening(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    """Until the server answers HTTP: it is then started, and a signal drains or stops it.

    Its socket listens from before the app's start-up (migrations included), so a
    connection alone says only that the port is bound.
    """
    async with (
        asyncio.timeout(START_TIMEOUT),
        httpx.AsyncClient(timeout=START_TIMEOUT, verify=trusted()) as client,
    ):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"the server exited with {process.returncode}; see {log}")
            try:
                await client.get(f"http://127.0.0.1:{port}/health")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.02)


@asynccontextmanager
async def raw_chargers(
    server: ServerProcess, charge_point_ids: Sequence[str], *, answer_timeout: float = 10
) -> AsyncIterator[list[RawCharger]]:
    """One raw 1.6 charger connected to ``server`` for each id, in that order."""
    async with AsyncExitStack() as stack:
        chargers = []
        for charge_point_id in charge_point_ids:
            websocket = await stack.enter_async_context(
                connect(server.ws_url(charge_point_id), subprotocols=[Subprotocol("ocpp1.6")])
            )
            chargers.append(RawCharger(websocket, answer_timeout=answer_timeout))
        yield chargers


def with_uploads(
    settings: Settings, server_socket: tuple[socket.socket, str], tmp_path: Path, **limits: Any
) -> Settings:
    """``settings`` whose server keeps chargers' uploads under ``tmp_path`` and gives them
    its own address (bound before it starts) to upload to."""
    diagnostics = DiagnosticsSettings(
        directory=tmp_path / "diagnostics", upload_base_url=server_socket[1], **limits
    )
    return settings.model_copy(update={"diagnostics": diagnostics})
