"""The ``stripe-sim`` command; the main ``ocpp-core`` group attaches it."""

from __future__ import annotations

import click
import uvicorn

from .app import create_stripe_simulator
from .settings import StripeSimulatorSettings


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
