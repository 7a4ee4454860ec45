"""Charging profiles through the API to the virtual chargers, which hold and combine them.

One 1.6 and one 2.0.1 simulator on the real server: each keeps what it was sent by
connector, purpose and stack level, clears by any of them, and answers a composite
schedule made of what it holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from builders import add_charge_point, add_tag
from ocpp_core.simulators.chargepoint import ChargerSettings, VirtualCharger
from ocpp_core.simulators.chargepoint.profiles import MAX_STACK_LEVEL
from servers import RunningServer
from stripe_harness import eventually

FLEET = {"PRO-16": "ocpp1.6", "PRO-201": "ocpp2.0.1"}
CHARGER_MAX = {
    "connectorId": 0,
    "chargingProfileId": 501,
    "stackLevel": 0,
    "chargingProfilePurpose": "ChargePointMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingRateUnit": "A",
    "startSchedule": "2026-01-01T00:00:00Z",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32}],
}
DEFAULT = {
    "connectorId": 1,
    "chargingProfileId": 502,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Relative",
    "chargingRateUnit": "A",
    "chargingSchedulePeriod": [
        {"startPeriod": 0, "limit": 16},
        {"startPeriod": 36000, "limit": 40},
    ],
}


@pytest.fixture
async def fleet(server: RunningServer) -> AsyncIterator[dict[str, VirtualCharger]]:
    for charge_point_id in FLEET:
        await add_charge_point(server.runtime.db, charge_point_id)
    async with AsyncExitStack() as stack:
        chargers = {}
        for charge_point_id, protocol in FLEET.items():
            settings = ChargerSettings(
                url=server.ws_url,
                charger_id=charge_point_id,
                protocol=protocol,
                connectors=2,
                backoff_initial=0.05,
                backoff_max=0.2,
            )
            chargers[charge_point_id] = await stack.enter_async_context(VirtualCharger(settings))
        async with asyncio.timeout(10):
            for charger in chargers.values():
                await charger.booted.wait()
        yield chargers


async def composite(server: RunningServer, cp: str, connector: int) -> dict[str, Any]:
    body = {"connectorId": connector, "duration": 86400, "chargingRateUnit": "A"}
    response = await server.api.post(f"/API/GetCompositeSchedule/{cp}", json=body)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def periods(answer: dict[str, Any]) -> list[tuple[float, float]]:
    return [(p["startPeriod"], p["limit"]) for p in answer["schedule"]["chargingSchedulePeriod"]]


@pytest.mark.parametrize("cp", list(FLEET))
async def test_the_simulator_holds_clears_and_combines_profiles(
    server: RunningServer, fleet: dict[str, VirtualCharger], cp: str
) -> None:
    nothing = await composite(server, cp, 1)
    assert (nothing["status"], nothing["schedule"]) == ("Rejected", None)
    for body in (CHARGER_MAX, DEFAULT):
        sent = await server.api.post("/API/SetChargingProfile/" + cp, json=body)
        assert sent.json() == {"status": "Accepted", "chargingProfileId": body["chargingProfileId"]}
    assert len(fleet[cp].charging_profiles) == 2
    # The connector's default under the charger's maximum: 16 A, then 32 A, not 40.
    combined = periods(await composite(server, cp, 1))
    assert [limit for _, limit in combined] == [16, 32]
    # Connector 2 has no default of its own: only the maximum applies.
    assert periods(await composite(server, cp, 2)) == [(0, 32)]

    cleared = await server.api.post(
        "/API/ClearChargingProfile/" + cp, json={"chargingProfilePurpose": "TxDefaultProfile"}
    )
    assert cleared.json() == {"status": "Accepted", "cleared": [502]}
    assert periods(await composite(server, cp, 1)) == [(0, 32)]
    again = await server.api.post(
        "/API/ClearChargingProfile/" + cp, json={"chargingProfileId": 502}
    )
    assert again.json() == {"status": "Unknown", "cleared": []}


@pytest.mark.parametrize("cp", list(FLEET))
async def test_the_simulator_refuses_a_stack_level_it_cannot_hold(
    server: RunningServer, fleet: dict[str, VirtualCharger], cp: str
) -> None:
    body = {**DEFAULT, "stackLevel": MAX_STACK_LEVEL + 1}
    refused = await server.api.post("/API/SetChargingProfile/" + cp, json=body)
    assert refused.json() == {"status": "Rejected", "chargingProfileId": 502}


async def test_the_1_6_simulators_configuration_keeps_a_profile_from_being_sent(
    server: RunningServer, fleet: dict[str, VirtualCharger]
) -> None:
    keys = await server.api.get("/API/GetConfiguration/PRO-16")
    assert keys.status_code == 200
    await server.runtime.message_log.flush()
    body = {**DEFAULT, "stackLevel": MAX_STACK_LEVEL + 1}
    refused = await server.api.post("/API/SetChargingProfile/PRO-16", json=body)
    assert (refused.status_code, refused.json()["status"]) == (409, "ProfileRefused")


async def test_the_2_0_1_simulator_reports_the_profiles_it_holds(
    server: RunningServer, fleet: dict[str, VirtualCharger]
) -> None:
    for body in (CHARGER_MAX, DEFAULT):
        await server.api.post("/API/SetChargingProfile/PRO-201", json=body)
    asked = await server.api.post("/API/GetChargingProfiles/PRO-201", json={})
    assert asked.json()["status"] == "Accepted"
    path = f"/API/ChargingNotices/PRO-201?requestId={asked.json()['requestId']}"

    async def reported() -> bool:
        return len((await server.api.get(path)).json()) == 2

    await eventually(reported)
    notices = (await server.api.get(path)).json()
    held = {(n["evseId"], p["id"]) for n in notices for p in n["data"]["chargingProfile"]}
    assert held == {(0, 501), (1, 502)}
    none = await server.api.post("/API/GetChargingProfiles/PRO-201", json={"stackLevel": 9})
    assert none.json()["status"] == "NoProfiles"


@pytest.mark.parametrize("cp", list(FLEET))
async def test_a_remote_start_installs_its_tx_profile_on_the_simulator(
    server: RunningServer, fleet: dict[str, VirtualCharger], cp: str
) -> None:
    await add_tag(server.runtime.db, "TAG1")
    tx_profile = {
        **DEFAULT,
        "chargingProfileId": 503,
        "chargingProfilePurpose": "TxProfile",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}],
    }
    assert (
        await server.api.post(f"/API/ChargingProfiles/{cp}", json=tx_profile)
    ).status_code == 200
    started = await server.api.get(f"/API/StartTransaction/{cp}/1/TAG1?profileId=503")
    assert started.json() == {"status": "Accepted"}
    assert periods(await composite(server, cp, 1)) == [(0, 10)]
