"""uvicorn serving the server app: a refused start in one line, a drain before it stops.

What may refuse the start (the migrations, the database, a node id in use)
runs before uvicorn's own start-up, which would print a traceback for it:
``CannotServe`` then ends the command with one line (``ocpp_core.listening``).

Stopped at once, a node behind a load balancer fails every connection the
balancer sends it until its health checks find it down (about 2 s with the
README's HAProxy configuration). Draining (``server.drain_seconds``, on
SIGTERM), it answers ``/health`` with 503 and refuses new chargers with an HTTP
503 the balancer retries on another node, while the chargers and API calls it
has go on; once the balancer has taken it out, the node closes its chargers.

It closes them with 1001 (going away) before uvicorn's own shutdown would
close them with 1012 (service restart): 1001 is what a charger's firmware
expects from a central system that stops, and chargers reconnect on either.
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from ocpp_core.cli_support import database_error
from ocpp_core.config import ConfigError
from ocpp_core.listening import CannotServe, UvicornServer
from ocpp_core.runtime import Runtime

logger = logging.getLogger(__name__)

GOING_AWAY = 1001


class NodeServer(UvicornServer):
    """uvicorn serving the server app, with its refusals and its drain (``listening.Draining``)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        assert isinstance(config.app, FastAPI)
        self._app = config.app
        self._runtime: Runtime = config.app.state.runtime

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await self._app.state.join()
        except ConfigError as error:
            raise CannotServe(str(error)) from None
        except (DBAPIError, OSError) as error:
            raise CannotServe(database_error(error)) from None
        await super().startup(sockets)

    def drain(self) -> None:
        if not self._runtime.draining:
            logger.warning("draining: /health says 503 and new chargers are refused")
        self._runtime.draining = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await close_chargers(self._runtime)
        await super().shutdown(sockets)


async def close_chargers(runtime: Runtime) -> None:
    """Send each charger's socket a close with 1001; each handler then lets its charger go."""
    for connection in list(runtime.registry):
        try:
            await connection.close(GOING_AWAY)
        except Exception:
            logger.debug("closing %s at shutdown failed", connection.charge_point_id)
