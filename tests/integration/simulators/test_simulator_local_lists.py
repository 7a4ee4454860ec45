"""The simulator keeps a local list as a real charger does, on both versions, and the
server's sync fills it: in messages of its SendLocalListMaxLength (20), differences
after the first full list, the whole list again when its version is not the server's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from builders import add_charge_point, add_tag
from ocpp_core.config import OcppSettings
from ocpp_core.simulators.chargepoint import ChargerSettings, VirtualCharger
from servers import RunningServer


@pytest.fixture
def ocpp_settings() -> OcppSettings:
    return OcppSettings(
        command_timeout=3, keepalive_interval=5, keepalive_timeout=5, local_list_sync_interval=0
    )


@pytest.fixture(params=["ocpp1.6", "ocpp2.0.1"])
async def simulator(
    request: pytest.FixtureRequest, server: RunningServer
) -> AsyncIterator[VirtualCharger]:
    await add_charge_point(server.runtime.db, "SIM")
    settings = ChargerSettings(
        url=server.ws_url, charger_id="SIM", protocol=request.param, connectors=1
    )
    async with VirtualCharger(settings) as charger:
        async with asyncio.timeout(10):
            await charger.booted.wait()
        yield charger


async def sync(server: RunningServer) -> dict[str, object]:
    response = await server.api.post("/API/LocalList/Sync", json={"chargePointId": "SIM"})
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


async def test_the_simulator_takes_the_list_in_parts_then_differences(
    server: RunningServer, simulator: VirtualCharger
) -> None:
    db = server.runtime.db
    for number in range(25):
        await add_tag(db, f"T{number:02}")
    assign = {"chargePointId": "SIM", "tags": "All"}
    assert (await server.api.post("/API/LocalList/Assign", json=assign)).status_code == 200
    assert await sync(server) == {"status": "Accepted", "listVersion": 2, "entriesSent": 25}
    assert simulator.local_list.version == 2
    assert len(simulator.local_list.entries) == 25

    await server.api.post("/API/Tags", json={"id": "T00", "blocked": True})
    assert await sync(server) == {"status": "Accepted", "listVersion": 3, "entriesSent": 1}
    assert simulator.local_list.entries["T00"] == "Blocked"

    # Reset behind the server's back: the version tells, and the whole list goes again.
    simulator.local_list.version, simulator.local_list.entries = 0, {}
    assert await sync(server) == {"status": "Accepted", "listVersion": 5, "entriesSent": 25}
    assert len(simulator.local_list.entries) == 25


async def test_the_simulator_reads_and_changes_its_auth_settings(
    server: RunningServer, simulator: VirtualCharger
) -> None:
    body = {"chargePointId": "SIM", "authorizationCacheEnabled": False}
    response = await server.api.post("/API/AuthSettings", json=body)
    assert response.json() == {
        "changes": {"AuthorizationCacheEnabled": "Accepted"},
        "authorizationCacheEnabled": False,
        "localAuthListEnabled": True,
        "localAuthListMaxLength": 100,
        "sendLocalListMaxLength": 20,
    }
    version = await server.api.post("/API/GetLocalListVersion", json={"chargePointId": "SIM"})
    assert version.json()["listVersion"] == 0
