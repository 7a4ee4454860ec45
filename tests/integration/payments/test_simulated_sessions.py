"""Paid sessions on the charger simulator, sped up as its help suggests, on the real server.

A sped-up simulator runs its clock as fast as its meter, so the server sees an 11 kW
charger, not 11 kW times the speed: nothing goes to review and the energy is billed.

The simulator takes reservations, so a paid session holds its connector with one and
is started at once; the simulator waits for the car under it, as a real charger does.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from ocpp_core.db.models import ChargePoint, ChargerReservation, MeterAnomaly, Transaction
from ocpp_core.simulators.chargepoint import ChargerSettings, ConnectorStatus, VirtualCharger
from servers import RunningServer
from stripe_harness import StripeSim, eventually

SPEED = 60.0  # the simulator's --help example: a minute of charging per real second


@pytest.fixture(params=["ocpp1.6", "ocpp2.0.1"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def simulator(server: RunningServer, protocol: str) -> AsyncIterator[VirtualCharger]:
    async with running_simulator(server, protocol) as charger:
        yield charger


@contextlib.asynccontextmanager
async def running_simulator(
    server: RunningServer, protocol: str, plug_in_after: float | None = None
) -> AsyncIterator[VirtualCharger]:
    await price_station(server, TARIFF, "SIM-1")
    settings = ChargerSettings(
        url=server.ws_url,
        charger_id="SIM-1",
        protocol=protocol,
        connectors=1,
        power_w=11_000,
        speed=SPEED,
        meter_interval=0.05,
        unplug_after=0.1,
        backoff_initial=0.05,
        backoff_max=0.2,
        plug_in_after=plug_in_after,
    )
    async with VirtualCharger(settings) as charger:
        async with asyncio.timeout(10):
            await charger.booted.wait()
        yield charger


async def test_a_sped_up_simulated_session_is_billed_not_sent_to_review(
    server: RunningServer, stripe_sim: StripeSim, simulator: VirtualCharger
) -> None:
    reservation_id = await paid(server, stripe_sim)
    connector = simulator.connectors[1]
    # Reserved for the session and started at once: the charger waits for the car.
    async with asyncio.timeout(10):
        await simulator.wait_for(
            lambda: connector.status is ConnectorStatus.RESERVED and connector.starting
        )
    await stage_is(server, reservation_id, "awaitingPlug")
    assert (await hold_of(server, reservation_id)).status == "Accepted"
    assert connector.transaction is None

    assert await simulator.plug_in(1)

    await stage_is(server, reservation_id, "charging")
    async with asyncio.timeout(10):  # the charger lets it go once the server answered the start
        await simulator.wait_for(lambda: connector.reservation is None)  # used by the transaction
    await charge_and_settle(server, reservation_id)
    hold = await hold_of(server, reservation_id)
    transaction_id = (await status(server, reservation_id))["transactionId"]
    assert (hold.status, hold.transaction_id) == ("Used", transaction_id)
    async with server.runtime.db.session() as session:
        station = await session.get(ChargePoint, "SIM-1")
    assert station is not None
    assert station.reservations_supported is True


async def test_the_simulated_driver_plugs_in_after_the_remote_start(
    server: RunningServer, stripe_sim: StripeSim, protocol: str
) -> None:
    """``ocpp-core simulate`` as run by hand: its driver plugs in, nobody else does."""
    async with running_simulator(server, protocol, plug_in_after=0.2):
        reservation_id = await paid(server, stripe_sim)
        await stage_is(server, reservation_id, "charging")
        await charge_and_settle(server, reservation_id)
        assert (await hold_of(server, reservation_id)).status == "Used"


async def test_no_car_within_the_connection_timeout_starts_nothing(
    server: RunningServer, stripe_sim: StripeSim, simulator: VirtualCharger
) -> None:
    changed = await server.api.get("/API/ChangeConfiguration/SIM-1/ConnectionTimeOut/1")
    assert changed.status_code == 200
    assert simulator.config.number("ConnectionTimeOut") == 1
    reservation_id = await paid(server, stripe_sim)
    connector = simulator.connectors[1]
    async with asyncio.timeout(10):
        await simulator.wait_for(lambda: connector.starting)
        await simulator.wait_for(lambda: not connector.starting)  # gave up on the car

    assert connector.status is ConnectorStatus.RESERVED  # back to its reservation
    assert connector.transaction is None
    assert (await status(server, reservation_id))["transactionId"] is None
    async with server.runtime.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Transaction)) == 0


async def paid(server: RunningServer, stripe_sim: StripeSim) -> str:
    created = (await create_answer(server, cp_id="SIM-1")).json()
    assert (await stripe_sim.pay(created["checkoutUrl"])).status_code == 303
    return str(created["reservationId"])


async def hold_of(server: RunningServer, reservation_id: str) -> ChargerReservation:
    async with server.runtime.db.session() as session:
        query = select(ChargerReservation).where(
            ChargerReservation.payment_reservation_id == reservation_id
        )
        hold = await session.scalar(query)
    assert hold is not None
    return hold


async def charge_and_settle(server: RunningServer, reservation_id: str) -> None:
    """Charge at least 600 Wh, stop, and check the bill is the energy's, not under review."""

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
