"""``GET /API/Status``: the connected chargers and what their connectors last reported."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
from ocpp.v16 import call
from ocpp.v201 import call as call201

from builders import NOW, add_charge_point, add_tag, timestamp
from servers import ConnectCharger, ConnectCharger201, RunningServer

_UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def _sample(at: str, **values: str) -> dict[str, Any]:
    units = {
        "Energy.Active.Import.Register": "Wh",
        "Power.Active.Import": "W",
        "Current.Import": "A",
        "SoC": "Percent",
    }
    return {
        "timestamp": at,
        "sampledValue": [
            {"value": value, "measurand": measurand, "unit": units[measurand]}
            for measurand, value in (
                (name.replace("_", "."), value) for name, value in values.items()
            )
        ],
    }


async def status(server: RunningServer) -> list[dict[str, Any]]:
    response = await server.api.get("/API/Status")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: list[dict[str, Any]] = response.json()
    return body


async def test_nothing_connected_is_an_empty_list(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1", name="Yard")
    assert await status(server) == []


async def test_lists_only_connected_chargers(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1", name="Yard")
    await add_charge_point(db, "CP2", name="Garage")
    await add_charge_point(db, "CP3")
    await charger("CP3")
    await charger("CP1")
    nothing_reported = {
        "firmwareStatus": None,
        "firmwareStatusAt": None,
        "diagnosticsStatus": None,
        "diagnosticsStatusAt": None,
    }
    assert await status(server) == [
        {"id": "CP1", "name": "Yard", "protocol": "ocpp1.6", **nothing_reported, "connectors": []},
        {
            "id": "CP3",
            "name": "CP3",
            "protocol": "ocpp1.6",
            **nothing_reported,
            "connectors": [],
        },  # name defaults to id
    ]


async def test_a_charger_leaves_the_list_when_it_disconnects(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    assert [c["id"] for c in await status(server)] == ["CP1"]
    await cp.connection.websocket.close()
    # Nothing signals when the server has handled the disconnect, so poll.
    async with asyncio.timeout(5):
        while await status(server):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_connectors_show_status_and_meter_values(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1", name="Yard")
    await add_tag(db, "TAG1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(2, "NoError", "Available", timestamp=timestamp()))
    await cp.call(call.StatusNotification(1, "NoError", "Preparing", timestamp=timestamp()))
    started = await cp.call(call.StartTransaction(1, "TAG1", 1_000, timestamp()))
    later = NOW + timedelta(minutes=10)
    await cp.call(call.StatusNotification(1, "NoError", "Charging", timestamp=timestamp(later)))
    await cp.call(
        call.MeterValues(
            1,
            [
                _sample(
                    timestamp(later),
                    Energy_Active_Import_Register="2500",
                    Power_Active_Import="7400",
                    Current_Import="32.1",
                    SoC="42",
                )
            ],
            transaction_id=started.transaction_id,
        )
    )
    await cp.call(call.StatusNotification(0, "NoError", "Available"))  # the charger: not listed

    [charger_state] = await status(server)

    assert (charger_state["id"], charger_state["name"], charger_state["protocol"]) == (
        "CP1",
        "Yard",
        "ocpp1.6",
    )
    one, two = charger_state["connectors"]
    assert one == {
        "connectorId": 1,
        "name": None,
        "status": "Charging",
        "errorCode": None,
        "statusAt": "2026-11-28T12:10:00Z",
        "meterWh": 2_500,
        "meterAt": "2026-11-28T12:10:00Z",
        "powerW": 7_400,
        "currentMa": 32_100,
        "socPercent": 42,
    }
    assert two == {
        "connectorId": 2,
        "name": None,
        "status": "Available",
        "errorCode": None,
        "statusAt": "2026-11-28T12:00:00Z",
        "meterWh": None,
        "meterAt": None,
        "powerW": None,
        "currentMa": None,
        "socPercent": None,
    }


async def test_a_fault_shows_its_error_code(server: RunningServer, charger: ConnectCharger) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "GroundFailure", "Faulted"))
    [state] = await status(server)
    [connector] = state["connectors"]
    assert (connector["status"], connector["errorCode"]) == ("Faulted", "GroundFailure")
    assert _UTC_TIME.match(connector["statusAt"])  # the server's clock when none was sent


async def test_each_charger_shows_its_own_connectors(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_charge_point(db, "CP2")
    one = await charger("CP1")
    two = await charger("CP2")
    await one.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await two.call(call.StatusNotification(1, "NoError", "Unavailable", timestamp=timestamp()))
    await two.call(call.StatusNotification(3, "NoError", "Finishing", timestamp=timestamp()))
    states = {s["id"]: s for s in await status(server)}
    assert [(c["connectorId"], c["status"]) for c in states["CP1"]["connectors"]] == [
        (1, "Available")
    ]
    assert [(c["connectorId"], c["status"]) for c in states["CP2"]["connectors"]] == [
        (1, "Unavailable"),
        (3, "Finishing"),
    ]


async def test_times_are_utc_with_z_even_when_the_charger_sent_an_offset(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(
        call.StatusNotification(1, "NoError", "Available", timestamp="2026-11-28T14:00:00+02:00")
    )
    [state] = await status(server)
    assert state["connectors"][0]["statusAt"] == "2026-11-28T12:00:00Z"


async def test_firmware_and_diagnostics_progress_is_shown_with_its_time(
    server: RunningServer, charger: ConnectCharger, charger201: ConnectCharger201
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger("CP1")
    await cp.call(call.FirmwareStatusNotification("Downloading"))
    await cp.call(call.DiagnosticsStatusNotification("Uploaded"))
    cp201 = await charger201("CP2")
    await cp201.call(call201.FirmwareStatusNotification("InstallationFailed", request_id=3))
    await cp201.call(call201.LogStatusNotification("Uploading", request_id=4))

    states = {state["id"]: state for state in await status(server)}

    for charge_point_id, firmware, diagnostics in (
        ("CP1", "Downloading", "Uploaded"),
        ("CP2", "InstallationFailed", "Uploading"),
    ):
        state = states[charge_point_id]
        assert (state["firmwareStatus"], state["diagnosticsStatus"]) == (firmware, diagnostics)
        assert _UTC_TIME.match(state["firmwareStatusAt"])  # when the notification came
        assert _UTC_TIME.match(state["diagnosticsStatusAt"])


async def test_a_big_fleet_comes_a_page_at_a_time_with_a_link_to_the_next(
    server: RunningServer, charger: ConnectCharger
) -> None:
    for cp_id in ("CP1", "CP2", "CP3"):
        await add_charge_point(server.runtime.db, cp_id)
        await charger(cp_id)

    first = await server.api.get("/API/Status", params={"limit": 2})
    last = await server.api.get("/API/Status", params={"after": "CP2", "limit": 2})

    assert [c["id"] for c in first.json()] == ["CP1", "CP2"]
    assert first.headers["link"] == '</API/Status?after=CP2&limit=2>; rel="next"'
    assert [c["id"] for c in last.json()] == ["CP3"]
    assert "link" not in last.headers


async def test_paging_parameters_are_bounded(server: RunningServer) -> None:
    for params in ({"limit": "0"}, {"limit": "501"}, {"limit": "x"}, {"after": "C" * 101}):
        answer = await server.api.get("/API/Status", params=params)
        assert answer.status_code == 400, params
        assert answer.json()["status"] == "InvalidParameter"


async def test_the_list_narrows_to_the_chargers_asked_for(
    server: RunningServer, charger: ConnectCharger
) -> None:
    for cp_id in ("CP1", "CP2", "CP3", "CP4"):
        await add_charge_point(server.runtime.db, cp_id)
    for cp_id in ("CP1", "CP2", "CP3"):
        await charger(cp_id)
    asked = ["CP3", "CP1", "CP4", "NOPE"]

    whole = await server.api.get("/API/Status", params={"chargePointId": asked})
    first = await server.api.get("/API/Status", params={"chargePointId": asked, "limit": 1})
    link = first.headers["link"]
    last = await server.api.get(link[1 : link.index(">")])

    # CP2 is connected but not asked for; CP4 is asked for but not connected.
    assert [c["id"] for c in whole.json()] == ["CP1", "CP3"]
    assert "link" not in whole.headers
    assert [c["id"] for c in first.json()] == ["CP1"]
    assert link == (
        "</API/Status?chargePointId=CP3&chargePointId=CP1&chargePointId=CP4"
        '&chargePointId=NOPE&after=CP1&limit=1>; rel="next"'
    )
    assert [c["id"] for c in last.json()] == ["CP3"]
    assert "link" not in last.headers


async def test_the_chargers_asked_for_are_at_most_a_page_of_well_formed_ids(
    server: RunningServer,
) -> None:
    page = [f"CP{n}" for n in range(500)]

    full = await server.api.get("/API/Status", params={"chargePointId": page})
    too_many = await server.api.get("/API/Status", params={"chargePointId": [*page, "CP500"]})
    malformed = await server.api.get("/API/Status", params={"chargePointId": ["CP1", "bad id"]})
    long = await server.api.get("/API/Status", params={"chargePointId": "C" * 2000})

    assert (full.status_code, full.json()) == (200, [])
    assert too_many.status_code == 400
    assert too_many.json()["status"] == "InvalidParameter"
    assert "chargePointId" in too_many.json()["error"]
    assert "500" in too_many.json()["error"]
    assert malformed.status_code == 400
    assert malformed.json()["status"] == "InvalidChargePointId"
    assert malformed.json()["error"].startswith("bad id: ")
    assert long.status_code == 400
    assert long.json()["error"].startswith("C" * 100 + ": ")  # not the whole id echoed back


async def test_one_charger_is_asked_for_connected_or_not(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1", name="Yard")
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Faulted", timestamp=timestamp()))

    connected = await server.api.get("/API/Status/CP1")
    offline = await server.api.get("/API/Status/CP2")

    assert connected.status_code == offline.status_code == 200
    state = connected.json()
    assert (state["id"], state["name"], state["protocol"], state["online"]) == (
        "CP1",
        "Yard",
        "ocpp1.6",
        True,
    )
    assert [(c["connectorId"], c["status"]) for c in state["connectors"]] == [(1, "Faulted")]
    assert (offline.json()["online"], offline.json()["connectors"]) == (False, [])


async def test_one_charger_unknown_or_malformed_is_a_clear_error(server: RunningServer) -> None:
    unknown = await server.api.get("/API/Status/NOPE")
    malformed = await server.api.get("/API/Status/bad%20id")

    assert unknown.status_code == 404
    assert unknown.json() == {"status": "NotFound", "error": "no charge point NOPE"}
    assert malformed.status_code == 400
    assert malformed.json()["status"] == "InvalidChargePointId"


async def test_one_charger_needs_the_api_key(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as anonymous:
        answer = await anonymous.get("/API/Status/CP1")

    assert answer.status_code == 401
    assert answer.json()["status"] == "Unauthorized"
