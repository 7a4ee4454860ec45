"""Running uvicorn servers on sockets bound first, so a start-up problem is one clear line.

Every address is bound, and every certificate loaded, before any app starts: a
taken port or a certificate that does not load then stops the command with a
message naming what to change, instead of a traceback from a half-started process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

logger = logging.getLogger(__name__)


class CannotServe(Exception):
    """An app can't start: its port is taken, its certificate doesn't load. Says what to do."""


@dataclass(frozen=True)
class Listener:
    config: uvicorn.Config
    option: str  # how the user picks another port, e.g. "--port or OCPP_CORE_PORT"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; OSError if the address is taken or not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def listen(listener: Listener) -> socket.socket:
    config = listener.config
    try:
        return bind(config.host, config.port)
    except OSError as error:
        raise CannotServe(
            f"can't listen on {config.host}:{config.port}: {reason(error)}; "
            f"choose another port with {listener.option}"
        ) from None


def reason(error: OSError) -> str:
    """ "Address already in use", without the address create_server adds to the message."""
    return os.strerror(error.errno) if error.errno else str(error)


def _announce(config: uvicorn.Config, sock: socket.socket) -> None:
    scheme = "https" if config.ssl_certfile else "http"
    host = f"[{config.host}]" if sock.family == socket.AF_INET6 else config.host
    name = getattr(config.app, "title", "app")
    logger.info("%s on %s://%s:%d", name, scheme, host, sock.getsockname()[1])


def load(config: uvicorn.Config) -> None:
    """Load the app and its TLS certificate now, as uvicorn would once serving."""
    try:
        config.load()
    except (ssl.SSLError, OSError) as error:
        if not config.ssl_certfile:
            raise
        why = reason(error) if not isinstance(error, ssl.SSLError) else str(error)
        raise CannotServe(
            f"can't load the TLS certificate {config.ssl_certfile} with key "
            f"{config.ssl_keyfile or '(in the certificate file)'}: {why}; check "
            "OCPP_CORE_TLS__CERTFILE (tls.certfile) and OCPP_CORE_TLS__KEYFILE (tls.keyfile)"
        ) from None


async def serve_all(*listeners: Listener) -> None:
    """Run several uvicorn servers in this event loop; when one stops, stop them all.

    Each server handles Ctrl-C and SIGTERM and passes the signal on to the next
    one as it stops, so one signal shuts them all down gracefully.
    """
    for listener in listeners:
        load(listener.config)
    sockets: list[socket.socket] = []
    try:
        for listener in listeners:
            sockets.append(listen(listener))
        configs = [listener.config for listener in listeners]
        for config, sock in zip(configs, sockets, strict=True):
            _announce(config, sock)
        async with running(*zip(configs, sockets, strict=True)) as tasks:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sock in sockets:
            sock.close()


@asynccontextmanager
async def running(
    *bound: tuple[uvicorn.Config, socket.socket],
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Start each config on its bound socket; inside, all have started; at the end all stop."""
    servers = [uvicorn.Server(config) for config, _ in bound]
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock]))
        for server, (_, sock) in zip(servers, bound, strict=True)
    ]
    try:
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):  # uvicorn has logged why
                raise CannotServe("an app could not start; see the log above")
            await asyncio.sleep(0.05)
        yield tasks
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)
