"""The simulators' commands, ``simulate`` and ``stripe-sim``; the main group attaches them.

Only click is imported here: the chargers, the OCPP library and uvicorn are
loaded by the command that runs, so ``ocpp-core --help`` stays instant.
"""

from __future__ import annotations

import contextlib
import logging

import click

from ocpp_core.simulators.protocols import SUPPORTED_PROTOCOLS

_POSITIVE = click.FloatRange(min=0, min_open=True)


def _configure_logging(verbose: bool) -> None:
    """Leave an already configured root alone (the main CLI may own it)."""
    from ocpp_core.simulators.chargepoint.wire import WIRE_LOGGER

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
    "--plug-in-after",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="A remote start (a paid session, say) finds no car plugged in: the charger waits "
    "for one up to its ConnectionTimeOut, and the simulated driver plugs it in after this "
    "many seconds.",
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
    plug_in_after: float,
    verbose: bool,
) -> None:
    """Run virtual charge points against a central system."""
    import asyncio

    from ocpp_core.simulators.chargepoint.fleet import run_fleet
    from ocpp_core.simulators.chargepoint.settings import FleetSettings

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
            plug_in_after=plug_in_after,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    _configure_logging(verbose)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_fleet(settings))


@click.command("stripe-sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=12111,
    show_default=True,
    help="Port to bind; point the gateway's api base at http://HOST:PORT.",
)
@click.option(
    "--public-url",
    default=None,
    help="Base URL browsers use to reach the hosted checkout page (default: http://HOST:PORT).",
)
@click.option(
    "--webhook-url",
    default=None,
    help="Where every event is POSTed, signed like Stripe, e.g. "
    "http://127.0.0.1:8180/API/Payments/Webhook. Omit to send no webhooks.",
)
@click.option(
    "--webhook-secret",
    envvar="OCPP_CORE_STRIPE__WEBHOOK_SECRET",
    default=None,
    help="Signing secret (whsec_...) shared with the receiver; also read from "
    "OCPP_CORE_STRIPE__WEBHOOK_SECRET. Required with --webhook-url.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="uvicorn log level.",
)
def stripe_sim(
    host: str,
    port: int,
    public_url: str | None,
    webhook_url: str | None,
    webhook_secret: str | None,
    log_level: str,
) -> None:
    """Run a local Stripe simulator (test mode only) for demos and tests."""
    import uvicorn

    from ocpp_core.simulators.stripe.app import create_stripe_simulator
    from ocpp_core.simulators.stripe.settings import StripeSimulatorSettings

    if webhook_url is not None and not webhook_secret:
        raise click.BadParameter("--webhook-secret is required with --webhook-url")
    try:
        settings = StripeSimulatorSettings(
            public_base_url=public_url or f"http://{host}:{port}",
            webhook_url=webhook_url,
            webhook_secret=webhook_secret if webhook_url else None,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    uvicorn.run(create_stripe_simulator(settings), host=host, port=port, log_level=log_level)
