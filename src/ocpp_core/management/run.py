"""Running the management app under uvicorn, alone or next to the server in one process."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

from ocpp_core import http_protocol, proxies
from ocpp_core.config import Settings

logger = logging.getLogger(__name__)


class ListenError(OSError):
    """A listen address can't be bound; the message names it."""


def uvicorn_config(app: FastAPI, settings: Settings, **overrides: Any) -> uvicorn.Config:
    management = settings.management
    options: dict[str, Any] = {
        "host": management.host,
        "port": management.port,
        "log_level": settings.log_level,
        "lifespan": "on",
        "server_header": False,
        "ws": "none",  # pages and htmx only; no websockets here
        **proxies.uvicorn_options(settings),
        **http_protocol.uvicorn_options(settings.http),
        **overrides,
    }
    return uvicorn.Config(app, **options)


def listen(config: uvicorn.Config) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    try:
        sock = socket.create_server((config.host, config.port), family=family)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ListenError(f"can't listen on {config.host}:{config.port}: {reason}") from None
    scheme = "https" if config.ssl_certfile else "http"
    host = f"[{config.host}]" if family == socket.AF_INET6 else config.host
    name = getattr(config.app, "title", "app")
    logger.info("%s on %s://%s:%d", name, scheme, host, sock.getsockname()[1])
    return sock


async def serve_all(*configs: uvicorn.Config) -> None:
    """Run several uvicorn servers in this event loop; when one stops, stop them all.

    Every address is bound before any app starts, so a taken port is one clear
    error rather than a half-started process. Each server handles Ctrl-C and
    SIGTERM and passes the signal on to the next one as it stops, so one signal
    shuts them all down gracefully.
    """
    sockets = [listen(config) for config in configs]
    servers = [uvicorn.Server(config) for config in configs]
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock]))
        for server, sock in zip(servers, sockets, strict=True)
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)
        for sock in sockets:
            sock.close()
