"""A mixed fleet, one 1.6 and one 2.0.1 virtual charger, on the real server: the same product.

The simulators run 30x faster than real time, their clocks with their meters, so
every session stays plausible: billable rather than sent to review.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import select

from builders import add_charge_point, add_tag
from ocpp_core.db.models import ChargePoint, Transaction
from ocpp_core.simulators.chargepoint import ChargerSettings, VirtualCharger
from servers import RunningServer
from stripe_harness import eventually

FLEET = {"MIX-16": "ocpp1.6", "MIX-201": "ocpp2.0.1"}


@pytest.fixture
async def fleet(server: RunningServer) -> AsyncIterator[dict[str, VirtualCharger]]:
    for charge_point_id in FLEET:
        await add_charge_point(server.runtime.db, charge_point_id)
    await add_tag(server.runtime.db, "TAG1")
    async with AsyncExitStack() as stack:
        chargers = {}
        for charge_point_id, protocol in FLEET.items():
            settings = ChargerSettings(
                url=server.ws_url,
                charger_id=charge_point_id,
                protocol=protocol,
                connectors=2,
                meter_interval=0.05,
                speed=30.0,
                unplug_after=0.1,
                backoff_initial=0.05,
                backoff_max=0.2,
            )
            chargers[charge_point_id] = await stack.enter_async_context(VirtualCharger(settings))
        async with asyncio.timeout(10):
            for charger in chargers.values():
                await charger.booted.wait()
        yield chargers


async def transactions_of(server: RunningServer, charge_point_id: str) -> list[Transaction]:
    async with server.runtime.db.session() as session:
        query = select(Transaction).where(Transaction.charge_point_id == charge_point_id)
        return list((await session.scalars(query)).all())


@pytest.mark.parametrize("charge_point_id", list(FLEET))
async def test_each_charger_of_a_mixed_fleet_charges_the_same_way(
    server: RunningServer, fleet: dict[str, VirtualCharger], charge_point_id: str
) -> None:
    assert sorted(await server.runtime.router.online()) == sorted(FLEET.items())
    async with server.runtime.db.session() as session:
        station = await session.get(ChargePoint, charge_point_id)
    assert station is not None
    assert (station.protocol, station.model) == (FLEET[charge_point_id], "Simulator")

    assert await fleet[charge_point_id].plug_in(1)  # the car is there: a start at once
    started = await server.api.get(f"/API/StartTransaction/{charge_point_id}/1/TAG1")
    assert started.json() == {"status": "Accepted"}

    async def charging() -> bool:
        txs = await transactions_of(server, charge_point_id)
        return len(txs) == 1 and (txs[0].last_meter_wh or 0) > txs[0].meter_start_wh

    await eventually(charging)
    stopped = await server.api.get(f"/API/StopTransaction/{charge_point_id}/1")
    assert stopped.json()["status"] == "Accepted"

    async def ended() -> bool:
        txs = await transactions_of(server, charge_point_id)
        return txs[0].stop_at is not None

    await eventually(ended)
    [tx] = await transactions_of(server, charge_point_id)
    assert (tx.connector_id, tx.start_tag, tx.stop_reason, tx.review_reason) == (
        1,
        "TAG1",
        "Remote",
        None,
    )
    assert tx.energy_wh is not None
    assert tx.energy_wh > 0


async def test_the_201_simulator_reports_its_device_model(
    server: RunningServer, fleet: dict[str, VirtualCharger]
) -> None:
    asked = await server.api.get("/API/GetBaseReport/MIX-201")
    assert asked.json()["status"] == "Accepted"

    async def reported() -> bool:
        return (await server.api.get("/API/Report/MIX-201")).status_code == 200

    await eventually(reported)
    report = (await server.api.get("/API/Report/MIX-201")).json()
    assert report["complete"] is True
    names = {(e["component"]["name"], e["variable"]["name"]) for e in report["reportData"]}
    assert ("OCPPCommCtrlr", "HeartbeatInterval") in names
    reservations = [
        (e["variable"]["name"], e["variableAttribute"][0]["value"])
        for e in report["reportData"]
        if e["component"]["name"] == "ReservationCtrlr"
    ]
    assert sorted(reservations) == [("Available", "true"), ("Enabled", "true")]
    got = await server.api.get("/API/GetConfiguration/MIX-201/HeartbeatInterval")
    [result] = got.json()["getVariableResult"]
    assert result["attributeStatus"] == "Accepted"


async def test_the_201_simulator_has_a_reservation_controller_nobody_turns_off(
    server: RunningServer, fleet: dict[str, VirtualCharger]
) -> None:
    for variable in ("Available", "Enabled"):
        got = await server.api.get(f"/API/GetVariables/MIX-201/ReservationCtrlr/{variable}")
        [result] = got.json()["getVariableResult"]
        assert (result["attributeStatus"], result["attributeValue"]) == ("Accepted", "true")
    refused = await server.api.get("/API/SetVariables/MIX-201/ReservationCtrlr/Enabled/false")
    assert refused.json()["status"] == "Rejected"


async def test_the_16_simulator_lists_the_reservation_profile(
    server: RunningServer, fleet: dict[str, VirtualCharger]
) -> None:
    got = await server.api.get("/API/GetConfiguration/MIX-16/SupportedFeatureProfiles")
    [entry] = got.json()["configurationKey"]
    assert "Reservation" in entry["value"].split(",")
