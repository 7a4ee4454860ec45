"""The ``simulate`` command; the main ``ocpp-core`` group attaches it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import click

from .fleet import run_fleet
from .settings import SUPPORTED_PROTOCOLS, FleetSettings
from .wire import WIRE_LOGGER

_POSITIVE = click.FloatRange(min=0, min_open=True)


def _configure_logging(verbose: bool) -> None:
    """Leave an already configured root alone (the main CLI may own it)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    WIRE_LOGGER.setLevel(logging.INFO if verbose else logging.WARNING)


@click.command("simulate")
@click.option(
    "--url",
    required=True,
    help="Central system WebSocket URL without the charger id, e.g. ws://127.0.0.1:8180/OCPP.",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Number of chargers to run at once.",
)
@click.option(
    "--id-prefix",
    default="SIM-",
    show_default=True,
    help="Charger ids are this prefix plus a 4-digit number from 0001.",
)
@click.option(
    "--protocol",
    type=click.Choice(SUPPORTED_PROTOCOLS),
    multiple=True,
    default=SUPPORTED_PROTOCOLS[:1],
    show_default=True,
    help="OCPP version (WebSocket subprotocol) to speak; "
    "given more than once, the chargers take them in turn (a mixed fleet).",
)
@click.option(
    "--connectors",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Connectors per charger.",
)
@click.option(
    "--password",
    envvar="OCPP_CORE_SIM_PASSWORD",
    help="Basic auth password (the user is the charger id); "
    "also read from OCPP_CORE_SIM_PASSWORD. Omit for no auth.",
)
@click.option(
    "--power-w",
    type=_POSITIVE,
    default=11_000.0,
    show_default=True,
    help="Charging power of a session in watts.",
)
@click.option(
    "--meter-interval",
    type=_POSITIVE,
    default=10.0,
    show_default=True,
    help="Real seconds between MeterValues during a session.",
)
@click.option(
    "--speed",
    type=_POSITIVE,
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second (60: a minute of charging per second). The "
    "charger's clock runs as fast as its meter, so its timestamps run ahead of real time "
    "and the power it meters stays --power-w.",
)
@click.option(
    "--duration",
    type=_POSITIVE,
    default=None,
    help="Stop after this many seconds; runs until Ctrl-C when omitted.",
)
@click.option(
    "--auto-start",
    metavar="TAG",
    default=None,
    help="Each charger plugs in and starts a session on connector 1 with this id tag "
    "right after its first boot, without waiting for a remote start.",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Also log every OCPP message sent and received."
)
def simulate(
    url: str,
    count: int,
    id_prefix: str,
    protocol: tuple[str, ...],
    connectors: int,
    password: str | None,
    power_w: float,
    meter_interval: float,
    speed: float,
    duration: float | None,
    auto_start: str | None,
    verbose: bool,
) -> None:
    """Run virtual charge points against a central system."""
    try:
        settings = FleetSettings(
            url=url,
            count=count,
            id_prefix=id_prefix,
            protocol=protocol[0],
            protocol_mix=protocol if len(protocol) > 1 else (),
            connectors=connectors,
            password=password,
            power_w=power_w,
            meter_interval=meter_interval,
            speed=speed,
            duration=duration,
            auto_start=auto_start,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    _configure_logging(verbose)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_fleet(settings))
