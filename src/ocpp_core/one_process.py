"""``ocpp-core serve``: the server and the management app in one process."""

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
    """The server and the management app, each with the flag that moves it off a busy port."""
    server = server_run.uvicorn_config(create_server_app(settings), settings)
    management = management_run.uvicorn_config(create_management_app(settings), settings)
    management_option = f"--management-port or {management_run.PORT_SETTING}"
    return (
        Listener(server, server_run.PORT_OPTION),
        Listener(management, management_option),
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
