"""The charger simulator answers reservations as a real charger does, on both versions:
the connector shows Reserved, starts only for the reserved tag, and is free again when
the reservation is cancelled, used or expired."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from builders import add_charge_point, add_tag
from ocpp_core.clock import format_timestamp, utc_now
from ocpp_core.db.models import Connector
from ocpp_core.simulators.chargepoint import ChargerSettings, VirtualCharger
from ocpp_core.simulators.chargepoint.model import ConnectorStatus
from servers import RunningServer
from stripe_harness import eventually

PROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]


@pytest.fixture(params=PROTOCOLS)
async def sim(
    server: RunningServer, request: pytest.FixtureRequest
) -> AsyncIterator[VirtualCharger]:
    await add_charge_point(server.runtime.db, "SIM")
    await add_tag(server.runtime.db, "TAG1")
    await add_tag(server.runtime.db, "TAG2")
    settings = ChargerSettings(
        url=server.ws_url,
        charger_id="SIM",
        protocol=request.param,
        connectors=2,
        meter_interval=0.05,
        speed=30.0,
        unplug_after=0.1,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    async with VirtualCharger(settings) as charger:
        async with asyncio.timeout(10):
            await charger.booted.wait()
        yield charger


async def reserve(server: RunningServer, connector: int, seconds: float = 3600) -> httpx.Response:
    body = {
        "chargePointId": "SIM",
        "connectorId": connector,
        "idTag": "TAG1",
        "expiryDateTime": format_timestamp(utc_now() + timedelta(seconds=seconds)),
    }
    return await server.api.post("/API/ReserveNow", json=body)


async def status_at_server(server: RunningServer, connector: int) -> str | None:
    async with server.runtime.db.session() as session:
        row = await session.get(Connector, ("SIM", connector))
        return None if row is None else row.status


async def reservation_status(server: RunningServer) -> str:
    page = (await server.api.get("/API/Reservations?cp=SIM")).json()
    status: str = page["reservations"][0]["status"]
    return status


async def test_a_reserved_connector_starts_only_for_its_tag(
    server: RunningServer, sim: VirtualCharger
) -> None:
    assert (await reserve(server, 1)).json()["status"] == "Accepted"
    async with asyncio.timeout(5):
        await sim.wait_for_status(1, ConnectorStatus.RESERVED)
    await eventually(lambda: _is(server, 1, "Reserved"))

    other = await server.api.get("/API/StartTransaction/SIM/1/TAG2")
    own = await server.api.get("/API/StartTransaction/SIM/1/TAG1")

    assert other.json() == {"status": "Rejected"}
    assert own.json() == {"status": "Accepted"}
    assert await sim.plug_in(1)  # the charger waited for the car under the reservation
    async with asyncio.timeout(5):
        await sim.wait_for_status(1, ConnectorStatus.CHARGING)

    async def used() -> bool:
        return await reservation_status(server) == "Used"

    await eventually(used)


async def test_a_cancelled_reservation_frees_the_connector(
    server: RunningServer, sim: VirtualCharger
) -> None:
    reservation_id = (await reserve(server, 2)).json()["reservation"]["reservationId"]
    async with asyncio.timeout(5):
        await sim.wait_for_status(2, ConnectorStatus.RESERVED)

    cancelled = await server.api.post(
        "/API/CancelReservation", json={"reservationId": reservation_id}
    )

    assert cancelled.json()["status"] == "Accepted"
    async with asyncio.timeout(5):
        await sim.wait_for_status(2, ConnectorStatus.AVAILABLE)
    await eventually(lambda: _is(server, 2, "Available"))


async def test_an_occupied_connector_is_not_reserved(
    server: RunningServer, sim: VirtualCharger
) -> None:
    await sim.plug_in(1)

    response = await reserve(server, 1)

    assert response.json()["status"] == "Occupied"
    assert (await reserve(server, 9)).json()["status"] == "Rejected"


async def test_the_charger_ends_an_expired_reservation(
    server: RunningServer, sim: VirtualCharger
) -> None:
    # Seconds enough for the request to reach the server on a busy machine, which refuses
    # an expiry already past.
    assert (await reserve(server, 1, seconds=3)).json()["status"] == "Accepted"
    async with asyncio.timeout(15):
        await sim.wait_for_status(1, ConnectorStatus.RESERVED)
        await sim.wait_for_status(1, ConnectorStatus.AVAILABLE)
    await eventually(lambda: _is(server, 1, "Available"))
    assert await reservation_status(server) == "Expired"


async def _is(server: RunningServer, connector: int, status: str) -> bool:
    return await status_at_server(server, connector) == status
