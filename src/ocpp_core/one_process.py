"""``ocpp-core serve``: the server and the management app in one process.

The management app runs on an event loop of its own, in a thread of its own,
so that nothing an operator does can stall the chargers: a page that computes
for a minute without yielding once froze every charger's websocket (keep-alives
and handshakes timed out) when both apps shared one loop. The two apps already
share nothing but the database (management asks the server over HTTP), so the
split costs nothing in behaviour.

A thread rather than a process: the threads share the GIL, but Python hands it
over every few milliseconds (``sys.getswitchinterval()``, 5 ms), so the OCPP
loop gets the CPU back within milliseconds however busy the management app is.
A process would not share the GIL, but would double the memory, put two
processes on one SQLite file and complicate start-up, shutdown and the demo
that the one-process command exists for. Where the management app's CPU
matters (a large fleet), run ``ocpp-core server`` and ``ocpp-core management``
as separate processes, as on several nodes.
"""

from __future__ import annotations

import secrets
from typing import Any

import click
from pydantic import SecretStr

from ocpp_core.config import Settings
from ocpp_core.listening import Listener
from ocpp_core.management import run as management_run
from ocpp_core.management.app import create_management_app
from ocpp_core.server import run as server_run
from ocpp_core.server.app import create_server_app


def listeners(settings: Settings) -> tuple[Listener, Listener]:
    """The server on the caller's loop, the management app on a loop of its own."""
    server = server_run.uvicorn_config(create_server_app(settings), settings)
    management = management_run.uvicorn_config(create_management_app(settings), settings)
    management_option = f"--management-port or {management_run.PORT_SETTING}"
    return (
        Listener(server, server_run.PORT_OPTION),
        Listener(management, management_option, own_loop=True),
    )


def one_process_settings(settings: Settings) -> Settings:
    """What ``serve`` can make up for itself: secrets for this run, the local server's URL."""
    changes: dict[str, Any] = {}
    if not settings.api_key.get_secret_value():
        key = secrets.token_urlsafe(24)
        changes["api_key"] = SecretStr(key)
        click.echo(f"no OCPP_CORE_API_KEY set: this run's API key is {key}", err=True)
    management = settings.management
    section: dict[str, Any] = {}
    if not management.session_secret.get_secret_value():
        section["session_secret"] = SecretStr(secrets.token_urlsafe(32))
        click.echo(
            "no OCPP_CORE_MANAGEMENT__SESSION_SECRET set: open forms and drivers' cookies "
            "last until this process stops",
            err=True,
        )
    if "server_api_url" not in management.model_fields_set:
        section["server_api_url"] = _local_server_url(settings)
    changes["management"] = management.model_copy(update=section)
    return settings.model_copy(update=changes)


def _local_server_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in {"", "0.0.0.0", "::"} else settings.host  # noqa: S104
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if settings.tls.certfile else "http"
    return f"{scheme}://{host}:{settings.port}"
