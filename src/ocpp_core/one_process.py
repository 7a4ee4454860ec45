"""``ocpp-core serve``: the server and the management app from one command.

The management app runs in a child process (``ocpp_core.app_process``),
so that nothing an operator does can stall the chargers. It once shared the
server's event loop: a page that computed for a minute without yielding froze
every charger's websocket. Then it had a loop of its own on a thread of the
server's process, and the GIL still tied the two together: at issue 12's full
fleet (20,000 chargers, PostgreSQL) a heartbeat's p50 during an export was
12-18 times its no-page baseline under ``serve`` against 1.0-2.5 times with
``ocpp-core server`` and ``ocpp-core management`` as two processes; a shorter
switch interval did not help. In a child process (README, "A busy management
page under ``serve``", scale 0.1 on SQLite, back to back), the heartbeats' p50
during an export went from 2.2-2.8 times the baseline to 0.96-0.98 times, and
during any page from up to 11 times to at most 2 times.

The two apps share nothing but the database (management asks the server over
HTTP), so the split changes no behaviour. It costs a second interpreter's
memory and puts two processes on one SQLite file, which WAL mode and the busy
timeout (``ocpp_core.db.session``) already make safe.
"""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

import click
from pydantic import SecretStr

from ocpp_core.app_process import AppProcess
from ocpp_core.config import Settings
from ocpp_core.listening import Listener
from ocpp_core.management import run as management_run
from ocpp_core.management.app import create_management_app
from ocpp_core.server import run as server_run
from ocpp_core.server.app import create_server_app
from ocpp_core.server.node_server import NodeServer


def listeners(settings: Settings) -> tuple[Listener, Listener]:
    """The server in this process, the management app in a child process.

    The management app is built here too, though served by the child, so that
    a settings error stops the command before any port is bound.
    """
    server = server_run.uvicorn_config(create_server_app(settings), settings)
    management = management_run.uvicorn_config(create_management_app(settings), settings)
    management_option = f"--management-port or {management_run.PORT_SETTING}"
    drain = settings.server.drain_seconds
    return (
        Listener(server, server_run.PORT_OPTION, NodeServer, drain_seconds=drain),
        Listener(management, management_option, partial(AppProcess, settings)),
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
