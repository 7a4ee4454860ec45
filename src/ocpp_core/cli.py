"""The ``ocpp-core`` command line.

It starts in a fraction of a second: this module and the command modules it
attaches import only click and light helpers, and each command imports the
apps, the settings and the database layer when it runs (a test keeps it so).
"""

from __future__ import annotations

import contextlib
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ocpp_core.chargepoint_cli import chargepoint, provisioning_errors
from ocpp_core.cli_support import (
    cli_settings,
    run,
    run_servers,
    serve_forever,
    user_errors,
)
from ocpp_core.demo_ports import DEFAULT_PORTS, Ports
from ocpp_core.firmware_cli import diagnostics, firmware
from ocpp_core.local_list_cli import local_list
from ocpp_core.management.cli import listen_overrides, management_command, user
from ocpp_core.operations_cli import profile, reservation, trigger
from ocpp_core.qr_cli import qr
from ocpp_core.simulators.cli import simulate, stripe_sim
from ocpp_core.tag_cli import tag

if TYPE_CHECKING:
    from ocpp_core.config import Settings


@click.group()
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="OCPP_CORE_CONFIG",
    help="TOML settings file (also OCPP_CORE_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """ocpp-core: an OCPP central system with pay-by-QR charging."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@main.command()
@click.option("--host", help="Listen address (default 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (default 8081).")
@click.option(
    "--workers",
    help="Server processes on the port, or auto: one per core (default 1; cluster mode for more).",
)
@click.pass_context
def server(ctx: click.Context, host: str | None, port: int | None, workers: str | None) -> None:
    """Run the OCPP server: chargers' websockets, the API, metrics."""
    from ocpp_core.config import ConfigError
    from ocpp_core.db.server_lock import ServerLockError, only_server
    from ocpp_core.listening import Listener
    from ocpp_core.logs import configure_logging
    from ocpp_core.server.app import create_server_app
    from ocpp_core.server.node_server import NodeServer
    from ocpp_core.server.run import PORT_OPTION, uvicorn_config
    from ocpp_core.workers import Workers

    settings = cli_settings(ctx, host=host, port=port, workers=workers)
    configure_logging(settings.log_level)
    with user_errors(ServerLockError, ConfigError), only_server(settings.database_url):
        settings.require_cluster_for_workers()
        count = settings.worker_count
        if count > 1:  # the workers start on a migrated database, not all at once
            settings = _migrated(settings)
        config = uvicorn_config(create_server_app(settings), settings)
        drain = settings.server.drain_seconds
        listener = Listener(config, PORT_OPTION, NodeServer, drain_seconds=drain)
        if count > 1:
            workers_server = partial(Workers, settings, count)
            listener = Listener(config, PORT_OPTION, workers_server, True, drain)
        run_servers(listener)


def _migrated(settings: Settings) -> Settings:
    """Apply the migrations once here, if configured to, rather than in each app's start."""
    from ocpp_core.db.migrate import upgrade

    if not settings.migrate_on_start:
        return settings
    run(upgrade(settings.database_url), *provisioning_errors())
    return settings.model_copy(update={"migrate_on_start": False})


@main.command()
@click.option("--host", help="Listen address of both apps (default 127.0.0.1).")
@click.option("--port", type=int, help="Server port (default 8081).")
@click.option("--management-port", type=int, help="Management app port (default 8082).")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, management_port: int | None
) -> None:
    """Run the server and the management app (in a child process), on the embedded defaults.

    Without a configured API key or session secret, random ones are made for this
    run (the API key is printed).
    """
    from ocpp_core import one_process
    from ocpp_core.config import ConfigError
    from ocpp_core.db.server_lock import ServerLockError, only_server
    from ocpp_core.logs import configure_logging

    overrides = listen_overrides(host, management_port)
    settings = cli_settings(ctx, host=host, port=port, **overrides)
    settings = one_process.one_process_settings(settings)
    configure_logging(settings.log_level)
    with user_errors(ServerLockError, ConfigError), only_server(settings.database_url):
        settings = _migrated(settings)  # once, before either app starts
        run_servers(*one_process.listeners(settings))


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply all pending migrations."""
    from ocpp_core.db.migrate import upgrade

    settings = cli_settings(ctx)
    run(upgrade(settings.database_url), *provisioning_errors())
    click.echo("database is up to date")


_PORT = click.IntRange(0, 65_535)


@main.command()
@click.option("--port", type=_PORT, default=DEFAULT_PORTS.server, show_default=True)
@click.option("--management-port", type=_PORT, default=DEFAULT_PORTS.management, show_default=True)
@click.option("--stripe-port", type=_PORT, default=DEFAULT_PORTS.stripe, show_default=True)
@click.option("--chargers", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.pass_context
def demo(
    ctx: click.Context,
    port: int,
    management_port: int,
    stripe_port: int,
    chargers: int,
    duration: float | None,
) -> None:
    """Everything on a fresh SQLite file: server, management, Stripe simulator, chargers.

    A default port that is busy is replaced by a free one (the demo says which);
    a port given as an option must be free.
    """
    from ocpp_core.demo import run_demo
    from ocpp_core.listening import CannotServe
    from ocpp_core.logs import configure_logging

    configure_logging("warning")
    ports = Ports(port, management_port, stripe_port)
    options = {"server": "port", "management": "management_port", "stripe": "stripe_port"}
    flexible = [
        name
        for name, option in options.items()
        if ctx.get_parameter_source(option) is click.core.ParameterSource.DEFAULT
    ]
    with user_errors(CannotServe), contextlib.suppress(KeyboardInterrupt):
        serve_forever(run_demo(ports, chargers, duration, flexible=flexible))


chargepoint.add_command(local_list)
main.add_command(chargepoint)
main.add_command(tag)
main.add_command(simulate)
main.add_command(management_command)
main.add_command(user)
main.add_command(stripe_sim)
main.add_command(qr)
main.add_command(reservation)
main.add_command(firmware)
main.add_command(diagnostics)
main.add_command(profile)
main.add_command(trigger)


if __name__ == "__main__":
    sys.exit(main())
