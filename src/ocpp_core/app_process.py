"""An app in a child process: the management app of ``serve`` and the demo, a server worker.

Why the management app gets a process (see ``ocpp_core.one_process`` for the
measurements): on a thread of the server's process, a page or an export that
computes holds the GIL, and every charger's answer waits for its turn at it.
A server worker (``ocpp_core.workers``) is a process so that each core of the
machine serves chargers of its own.

The parent binds the port (so a busy one is named as for any app) and hands
the socket to the child, with one end of a socket pair that carries
everything else: the settings (pickled, so the secrets ``serve`` made up reach
the child without touching the disk, the environment or the process list),
then ``started`` (or ``refused`` and why) from the child, then from the parent ``drain`` (a server
worker's SIGTERM drain, see ``ocpp_core.server.node_server``) and ``stop``. The child
blocks SIGINT and SIGTERM: a Ctrl-C at the terminal reaches the whole process
group, and the child must shut down when the parent says so, together with
the server, not on its own a moment earlier. When the pair closes without a
``stop`` the parent is gone (``kill -9``, or a second Ctrl-C that gave up
waiting): the child ends at once rather than serve pages no one can stop.

A management child that ends on its own stops ``serve`` with a message instead
of being restarted: a crash that repeats would otherwise loop out of sight, and
the supervisor that runs ``serve`` (systemd, a container runtime) already
restarts the whole command and keeps its log. Server workers are restarted by
``ocpp_core.workers``, which gives up when they keep failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
from typing import Literal, NoReturn

import uvicorn
from fastapi import FastAPI

from ocpp_core.config import ConfigError, Settings
from ocpp_core.listening import CannotServe, Draining, Listener, Server, running

logger = logging.getLogger(__name__)

STARTED = b"started\n"
REFUSED = b"refused "  # then why, on one line: the parent ends the command with it
DRAIN = b"drain\n"
STOP = b"stop\n"
_SIZE = struct.Struct("!Q")  # the pickled settings' length, before them

App = Literal["management", "server"]


class AppProcess:
    """Serves ``config``'s app in a child process; ``listening.running`` drives it as a server.

    ``config`` is the parent's copy (its app is built there only to catch
    settings errors before any port is bound); the child builds its own.
    ``name`` says which process it is in the log.
    """

    def __init__(
        self,
        settings: Settings,
        config: uvicorn.Config,
        app: App = "management",
        name: str = "the management app's process",
    ) -> None:
        self.config = config
        self.app = app
        self.name = name
        self.started = False
        self.pid: int | None = None  # the child's, once started
        self._settings = settings
        self._writer: asyncio.StreamWriter | None = None
        self._should_exit = False
        self._draining = False

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        if value and not self._should_exit and self._writer is not None:
            self._writer.write(STOP)
        self._should_exit = value

    def drain(self) -> None:
        """Tell the child to drain (a server) before the ``stop`` that follows."""
        if not self._draining and self._writer is not None:
            self._writer.write(DRAIN)
        self._draining = True

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Start the child on the bound socket; return when it has ended."""
        assert sockets is not None
        (sock,) = sockets
        ours, theirs = socket.socketpair()
        fds = (sock.fileno(), theirs.fileno())
        with theirs:
            child = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", __name__, self.app, *(str(fd) for fd in fds)),
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
            )
        self.pid = child.pid
        reader, writer = await asyncio.open_connection(sock=ours)
        try:
            settings = pickle.dumps(self._settings)
            writer.write(_SIZE.pack(len(settings)) + settings)
            self._writer = writer
            if self._draining:  # told before it could be told on
                writer.write(DRAIN)
            if self._should_exit:
                writer.write(STOP)
            first = b""
            with contextlib.suppress(ConnectionError):  # reset: gone with our words unread
                first = await reader.readline()  # empty: ended before it started
                self.started = first == STARTED
                await reader.read()  # until the child ends and its end closes
            code = await child.wait()
            if first.startswith(REFUSED):
                raise CannotServe(first.removeprefix(REFUSED).decode(errors="replace").strip())
            if not self._should_exit:
                logger.error("%s ended (exit code %d)", self.name, code)
        finally:
            self._writer = None
            writer.close()
            if child.returncode is None:  # cancelled: the parent is on its way out
                child.kill()
                await child.wait()


def main() -> None:
    """The child: ``python -m ocpp_core.app_process APP LISTEN_FD CONTROL_FD``."""
    from ocpp_core.cli_support import serve_forever
    from ocpp_core.logs import configure_logging

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    app_name = sys.argv[1]
    listen_fd, control_fd = (int(arg) for arg in sys.argv[2:])
    control = socket.socket(fileno=control_fd)
    (size,) = _SIZE.unpack(_receive(control, _SIZE.size))
    settings: Settings = pickle.loads(_receive(control, size))  # noqa: S301 - from our parent
    configure_logging(settings.log_level)
    try:
        listener = _listener(app_name, settings)
    except ConfigError as error:
        _refuse(control, f"the {app_name} app can't start: {error}")
    try:
        serve_forever(_serve(listener, socket.socket(fileno=listen_fd), control))
    except CannotServe:  # the parent was told why
        sys.exit(1)


def _refuse(control: socket.socket, why: str) -> NoReturn:
    with contextlib.suppress(OSError):
        control.sendall(_refusal(why))
    sys.exit(1)


def _refusal(why: str) -> bytes:
    """Why this app can't start, for the parent to say once (for all its children)."""
    return REFUSED + " ".join(why.split()).encode() + b"\n"


def _listener(app: str, settings: Settings) -> Listener:
    """The app to serve, built in the child as the parent built its copy."""
    if app == "server":
        from ocpp_core.server import run as server_run
        from ocpp_core.server.app import create_server_app
        from ocpp_core.server.node_server import NodeServer
        from ocpp_core.workers import own_node_id

        settings = own_node_id(settings)
        server: FastAPI = create_server_app(settings)
        config = server_run.uvicorn_config(server, settings)
        return Listener(config, server_run.PORT_OPTION, NodeServer)
    from ocpp_core.management import run as management_run
    from ocpp_core.management.app import create_management_app

    management = create_management_app(settings)
    return Listener(
        management_run.uvicorn_config(management, settings), management_run.PORT_SETTING
    )


def _receive(control: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes, not one more: a ``stop`` sent early must stay for ``_obey``."""
    data = bytearray()
    while len(data) < size:
        if not (chunk := control.recv(size - len(data))):
            sys.exit("the parent process is gone before the app started")
        data += chunk
    return bytes(data)


async def _serve(listener: Listener, sock: socket.socket, control: socket.socket) -> None:
    reader, writer = await asyncio.open_connection(sock=control)
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    try:
        async with running((listener, sock)) as (serving,):
            watching = asyncio.create_task(_obey(reader, serving.server, stop))
            writer.write(STARTED)
            await asyncio.wait([serving.stopped, stop], return_when=asyncio.FIRST_COMPLETED)
    except CannotServe as error:
        with contextlib.suppress(ConnectionError):  # the parent is gone: no one to tell
            writer.write(_refusal(str(error)))
            await writer.drain()
        raise
    watching.cancel()
    writer.close()


async def _obey(reader: asyncio.StreamReader, server: Server, stop: asyncio.Future[None]) -> None:
    """``drain`` drains, any other word stops; the pair closing means the parent is gone."""
    with contextlib.suppress(ConnectionError):  # reset: gone with our words unread
        while word := await reader.readline():
            if word == DRAIN:
                if isinstance(server, Draining):
                    server.drain()
            elif not stop.done():
                stop.set_result(None)
    logger.error("the parent process is gone: this app ends now")
    os._exit(1)


if __name__ == "__main__":
    main()
