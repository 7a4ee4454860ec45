"""Paid sessions on the charger simulator, sped up as its help suggests, on the real server.

A sped-up simulator runs its clock as fast as its meter, so the server sees an 11 kW
charger, not 11 kW times the speed: nothing goes to review and the energy is billed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from integration.payments.payflow import (
    TARIFF,
    create_answer,
    post,
    price_station,
    settled,
    stage_is,
    status,
)
from ocpp_core.db.models import MeterAnomaly
from ocpp_core.simulators.chargepoint import ChargerSettings, VirtualCharger
from servers import RunningServer
from stripe_harness import StripeSim, eventually

SPEED = 60.0  # the simulator's --help example: a minute of charging per real second


@pytest.fixture(params=["ocpp1.6", "ocpp2.0.1"])
async def simulator(
    server: RunningServer, request: pytest.FixtureRequest
) -> AsyncIterator[VirtualCharger]:
    await price_station(server, TARIFF, "SIM-1")
    settings = ChargerSettings(
        url=server.ws_url,
        charger_id="SIM-1",
        protocol=request.param,
        connectors=1,
        power_w=11_000,
        speed=SPEED,
        meter_interval=0.05,
        unplug_after=0.1,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    async with VirtualCharger(settings) as charger:
        async with asyncio.timeout(10):
            await charger.booted.wait()
        yield charger


async def test_a_sped_up_simulated_session_is_billed_not_sent_to_review(
    server: RunningServer, stripe_sim: StripeSim, simulator: VirtualCharger
) -> None:
    created = (await create_answer(server, cp_id="SIM-1")).json()
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    reservation_id = created["reservationId"]
    await stage_is(server, reservation_id, "awaitingPlug")
    assert await simulator.plug_in(1)
    await stage_is(server, reservation_id, "charging")

    async def charged() -> bool:
        return ((await status(server, reservation_id))["energyWh"] or 0) >= 600

    await eventually(charged, timeout=30)
    assert (await post(server, "Stop", {"reservationId": reservation_id})).json()["status"] == (
        "Accepted"
    )

    receipt = await settled(server, reservation_id, "Captured")
    transaction_id = (await status(server, reservation_id))["transactionId"]
    transaction = (await server.api.get(f"/API/Transactions/{transaction_id}")).json()
    assert transaction["reviewReason"] is None
    assert receipt["energyWh"] == transaction["energyWh"] >= 600
    assert receipt["capturedCents"] == receipt["amountDueCents"] > 100  # energy, not just the fee
    async with server.runtime.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(MeterAnomaly)) == 0
