"""The paid flow's harness: the real server wired to the Stripe simulator, both on loopback.

The simulator's webhooks go to the server's real webhook URL; the server reaches
the simulator only through the official ``stripe`` SDK (``api_base``). Tests
inspect money through the same SDK, never through our own code.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from integration.payments.payflow import SteppedClock
from ocpp_core.config import PaymentSettings, Settings
from servers import RunningServer
from stripe_harness import StripeSim, running_stripe_sim


@pytest.fixture
def payment_settings() -> PaymentSettings:
    # Sweeps run when a test says so; retries are quick so they can be watched.
    return PaymentSettings(
        min_session_energy_wh=500,
        sweep_interval_seconds=3600,
        retry_base_seconds=0.05,
        disconnect_grace_seconds=0,
    )


@pytest.fixture
async def stripe_sim(server_socket: tuple[socket.socket, str]) -> AsyncIterator[StripeSim]:
    async with running_stripe_sim(f"{server_socket[1]}/API/Payments/Webhook") as sim:
        yield sim


@pytest.fixture
def settings(
    settings: Settings, stripe_sim: StripeSim, payment_settings: PaymentSettings
) -> Settings:
    stripe_settings = stripe_sim.settings()
    return settings.model_copy(update={"stripe": stripe_settings, "payments": payment_settings})


@pytest.fixture
def clock(server: RunningServer) -> SteppedClock:
    """The server's clock, moved only by the test (a second node can share it)."""
    clock = SteppedClock()
    server.runtime.clock = clock
    return clock
