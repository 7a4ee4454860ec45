"""Charging profiles through ``/API`` (POST JSON), reaching the ``ocpp`` library's chargers.

What the chargers received is shown as the library decoded it (snake_case keys); the
``charger`` fixtures check every frame the server sent against the OCA schemas.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from ocpp.exceptions import InternalError
from ocpp.messages import MessageType, get_validator
from ocpp.v201 import call as call201
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from builders import NOW, add_charge_point, add_tag, timestamp
from chargers import TestCharger, TestCharger201
from events201 import energy, transaction_event
from ocpp_core.db.models import Transaction
from servers import ConnectCharger, ConnectCharger201, RunningServer

Request = dict[str, Any]
DAILY = {
    "connectorId": 1,
    "chargingProfileId": 7001,
    "stackLevel": 2,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Recurring",
    "recurrencyKind": "Daily",
    "chargingRateUnit": "A",
    "startSchedule": "2026-12-01T00:00:00Z",
    "duration": 86400,
    "chargingSchedulePeriod": [
        {"startPeriod": 0, "limit": 16.5, "numberPhases": 3},
        {"startPeriod": 3600, "limit": 8},
    ],
}
STATION_MAX = {
    "connectorId": 0,
    "chargingProfileId": 7002,
    "stackLevel": 0,
    "chargingProfilePurpose": "ChargingStationMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingRateUnit": "W",
    "startSchedule": "2026-12-01T00:00:00Z",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000}],
}
TX_PROFILE = {
    "connectorId": 1,
    "chargingProfileId": 7003,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Relative",
    "chargingRateUnit": "A",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}],
}


async def next_request(cp: TestCharger | TestCharger201) -> tuple[str, Request]:
    """The next CALL the charger handled; the API answers only after that, so no waiting."""
    async with asyncio.timeout(2):
        return await cp.received.get()


async def connected(server: RunningServer, charger: ConnectCharger) -> TestCharger:
    await add_charge_point(server.runtime.db, "CP1")
    return await charger("CP1")


async def connected201(server: RunningServer, charger201: ConnectCharger201) -> TestCharger201:
    await add_charge_point(server.runtime.db, "CP2")
    return await charger201("CP2")


async def listed(server: RunningServer, cp: str) -> dict[int, Request]:
    response = await server.api.get(f"/API/ChargingProfiles/{cp}")
    assert response.status_code == 200
    return {p["chargingProfileId"]: p for p in response.json()}


async def test_a_profile_made_then_sent_then_cleared_by_the_id_the_api_gave(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    made = await server.api.post("/API/ChargingProfiles/CP1", json=DAILY)
    assert made.status_code == 200
    assert made.json()["status"] == "new"
    assert made.json()["chargingSchedulePeriod"] == DAILY["chargingSchedulePeriod"]
    sent = await server.api.post("/API/ChargingProfiles/CP1/7001/Send")
    assert sent.json() == {"status": "Accepted", "chargingProfileId": 7001}
    action, request = await next_request(cp)
    assert action == "SetChargingProfile"
    assert request["connector_id"] == 1
    profile = request["cs_charging_profiles"]
    assert profile["charging_profile_id"] == 7001
    assert profile["stack_level"] == 2
    assert (profile["charging_profile_kind"], profile["recurrency_kind"]) == ("Recurring", "Daily")
    schedule = profile["charging_schedule"]
    assert schedule["start_schedule"] == "2026-12-01T00:00:00.000Z"
    assert schedule["duration"] == 86400
    assert schedule["charging_schedule_period"] == [
        {"start_period": 0, "limit": 16.5, "number_phases": 3},
        {"start_period": 3600, "limit": 8.0},
    ]
    assert (await listed(server, "CP1"))[7001]["status"] == "accepted"

    cleared = await server.api.post(
        "/API/ClearChargingProfile/CP1", json={"chargingProfileId": 7001}
    )
    assert cleared.json() == {"status": "Accepted", "cleared": [7001]}
    assert await next_request(cp) == ("ClearChargingProfile", {"id": 7001})
    assert (await listed(server, "CP1"))[7001]["status"] == "cleared"


async def test_a_2_0_1_station_maximum_is_sent_in_2_0_1_words(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    sent = await server.api.post("/API/SetChargingProfile/CP2", json=STATION_MAX)
    assert sent.json() == {"status": "Accepted", "chargingProfileId": 7002}
    action, request = await next_request(cp)
    assert action == "SetChargingProfile"
    assert request["evse_id"] == 0
    profile = request["charging_profile"]
    assert profile["id"] == 7002
    assert profile["charging_profile_purpose"] == "ChargingStationMaxProfile"
    [schedule] = profile["charging_schedule"]
    assert schedule["charging_rate_unit"] == "W"
    assert schedule["charging_schedule_period"] == [{"start_period": 0, "limit": 22000.0}]
    record = (await listed(server, "CP2"))[7002]
    assert (record["chargingProfilePurpose"], record["status"]) == (
        "ChargePointMaxProfile",
        "accepted",
    )


async def test_a_profile_set_without_an_id_gets_one_to_clear_it_by(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    body = {key: value for key, value in DAILY.items() if key != "chargingProfileId"}
    sent = (await server.api.post("/API/SetChargingProfile/CP1", json=body)).json()
    _, request = await next_request(cp)
    assert request["cs_charging_profiles"]["charging_profile_id"] == sent["chargingProfileId"]


async def test_a_refused_profile_is_noted_rejected(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    cp.answers["SetChargingProfile"] = {"status": "Rejected"}
    sent = await server.api.post("/API/SetChargingProfile/CP1", json=DAILY)
    assert sent.json() == {"status": "Rejected", "chargingProfileId": 7001}
    record = (await listed(server, "CP1"))[7001]
    assert (record["status"], record["statusDetail"]) == ("rejected", "Rejected")


@pytest.mark.parametrize(
    ("body", "v16", "v201"),
    [
        ({}, {}, {}),
        (
            {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 2},
            {"connector_id": 1, "charging_profile_purpose": "TxDefaultProfile", "stack_level": 2},
            {
                "charging_profile_criteria": {
                    "evse_id": 1,
                    "charging_profile_purpose": "TxDefaultProfile",
                    "stack_level": 2,
                }
            },
        ),
        (
            {"chargingProfilePurpose": "ChargePointMaxProfile"},
            {"charging_profile_purpose": "ChargePointMaxProfile"},
            {
                "charging_profile_criteria": {
                    "charging_profile_purpose": "ChargingStationMaxProfile"
                }
            },
        ),
    ],
)
async def test_profiles_are_cleared_by_connector_purpose_and_stack_level_in_both_versions(
    server: RunningServer,
    charger: ConnectCharger,
    charger201: ConnectCharger201,
    body: Request,
    v16: Request,
    v201: Request,
) -> None:
    cp16, cp201 = await connected(server, charger), await connected201(server, charger201)
    assert (await server.api.post("/API/ClearChargingProfile/CP1", json=body)).status_code == 200
    assert await next_request(cp16) == ("ClearChargingProfile", v16)
    assert (await server.api.post("/API/ClearChargingProfile/CP2", json=body)).status_code == 200
    assert await next_request(cp201) == ("ClearChargingProfile", v201)


async def test_a_clear_by_criteria_marks_the_records_it_took_off(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    for body in (DAILY, {**DAILY, "chargingProfileId": 7004, "stackLevel": 3}):
        assert (await server.api.post("/API/SetChargingProfile/CP1", json=body)).status_code == 200
        await next_request(cp)
    criteria = {"connectorId": 1, "stackLevel": 3}
    cleared = await server.api.post("/API/ClearChargingProfile/CP1", json=criteria)
    assert cleared.json() == {"status": "Accepted", "cleared": [7004]}
    records = await listed(server, "CP1")
    assert (records[7001]["status"], records[7004]["status"]) == ("accepted", "cleared")


async def test_the_composite_schedule_is_the_chargers_answer_in_both_versions(
    server: RunningServer, charger: ConnectCharger, charger201: ConnectCharger201
) -> None:
    cp16, cp201 = await connected(server, charger), await connected201(server, charger201)
    periods = [{"start_period": 0, "limit": 16.0}]
    cp16.answers["GetCompositeSchedule"] = {
        "status": "Accepted",
        "connector_id": 1,
        "schedule_start": timestamp(),
        "charging_schedule": {"charging_rate_unit": "A", "charging_schedule_period": periods},
    }
    cp201.answers["GetCompositeSchedule"] = {
        "status": "Accepted",
        "schedule": {
            "evse_id": 1,
            "duration": 3600,
            "schedule_start": timestamp(),
            "charging_rate_unit": "A",
            "charging_schedule_period": periods,
        },
    }
    body = {"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"}
    answer16 = (await server.api.post("/API/GetCompositeSchedule/CP1", json=body)).json()
    assert answer16["status"] == "Accepted"
    assert answer16["answer"]["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0}
    ]
    assert answer16["schedule"] == {
        "chargingRateUnit": "A",
        "scheduleStart": timestamp(),
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    }
    assert await next_request(cp16) == (
        "GetCompositeSchedule",
        {"connector_id": 1, "duration": 3600, "charging_rate_unit": "A"},
    )
    answer201 = (await server.api.post("/API/GetCompositeSchedule/CP2", json=body)).json()
    assert answer201["answer"]["schedule"]["evseId"] == 1
    assert answer201["schedule"] == answer16["schedule"]
    assert await next_request(cp201) == (
        "GetCompositeSchedule",
        {"evse_id": 1, "duration": 3600, "charging_rate_unit": "A"},
    )


async def test_a_2_0_1_chargers_report_of_its_profiles_is_kept_by_request(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    cp.answers["GetChargingProfiles"] = {"status": "Accepted"}
    body = {"evseId": 1, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileId": [5]}
    asked = (await server.api.post("/API/GetChargingProfiles/CP2", json=body)).json()
    assert asked["status"] == "Accepted"
    action, request = await next_request(cp)
    assert (action, request["request_id"], request["evse_id"]) == (
        "GetChargingProfiles",
        asked["requestId"],
        1,
    )
    assert request["charging_profile"] == {
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_id": [5],
    }
    installed = {
        "id": 5,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": [
            {
                "id": 1,
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 6}],
            }
        ],
    }
    await cp.call(call201.ReportChargingProfiles(asked["requestId"], "CSO", [installed], 1))
    response = await server.api.get(f"/API/ChargingNotices/CP2?requestId={asked['requestId']}")
    [notice] = response.json()
    assert (notice["kind"], notice["evseId"], notice["source"]) == (
        "ReportChargingProfiles",
        1,
        "CSO",
    )
    assert notice["data"]["chargingProfile"][0]["id"] == 5


async def test_a_1_6_charger_has_no_get_charging_profiles(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await connected(server, charger)
    response = await server.api.post("/API/GetChargingProfiles/CP1", json={})
    assert response.status_code == 501


async def test_limits_and_ev_needs_a_2_0_1_charger_tells_are_kept(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    limit = {"charging_limit_source": "SO", "is_grid_critical": True}
    await cp.call(call201.NotifyChargingLimit(limit, evse_id=1))
    await cp.call(call201.ClearedChargingLimit("SO", evse_id=1))
    needs = {"requested_energy_transfer": "AC_three_phase"}
    answered = await cp.call(call201.NotifyEVChargingNeeds(needs, 1))
    assert answered.status == "Rejected"  # kept, but no schedule is computed from it
    response = await server.api.get("/API/ChargingNotices/CP2")
    kinds = [(n["kind"], n["evseId"], n["source"]) for n in response.json()]
    assert kinds == [
        ("NotifyEVChargingNeeds", 1, None),
        ("ClearedChargingLimit", 1, "SO"),
        ("NotifyChargingLimit", 1, "SO"),
    ]
    only = await server.api.get("/API/ChargingNotices/CP2?kind=NotifyChargingLimit")
    assert only.json()[0]["data"]["chargingLimit"]["isGridCritical"] is True


def _smart_charging_report(stack_level: str, units: str, max_installed: int) -> list[Request]:
    def entry(variable: Request, value: str, **extra: Any) -> Request:
        return {
            "component": {"name": "SmartChargingCtrlr"},
            "variable": variable,
            "variable_attribute": [{"type": "Actual", "value": value}],
            "variable_characteristics": {"data_type": "integer", "supports_monitoring": False}
            | extra,
        }

    return [
        entry({"name": "ProfileStackLevel"}, stack_level),
        entry({"name": "RateUnit"}, units),
        entry({"name": "Entries", "instance": "ChargingProfiles"}, "0", max_limit=max_installed),
    ]


async def test_a_2_0_1_charger_is_not_sent_what_its_report_says_it_cant_take(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    report = _smart_charging_report("2", "A", 1)
    await cp.call(call201.NotifyReport(9, timestamp(), 0, report))
    too_high = {**DAILY, "stackLevel": 3}
    refused = await server.api.post("/API/SetChargingProfile/CP2", json=too_high)
    assert refused.status_code == 409
    assert refused.json()["error"] == "stack level 3 is over ChargeProfileMaxStackLevel 2"
    watts = await server.api.post("/API/SetChargingProfile/CP2", json=STATION_MAX)
    assert watts.status_code == 409
    assert "ChargingScheduleAllowedChargingRateUnit (A)" in watts.json()["error"]
    assert (await server.api.post("/API/SetChargingProfile/CP2", json=DAILY)).status_code == 200
    await next_request(cp)
    again = await server.api.post("/API/SetChargingProfile/CP2", json=DAILY)  # a replacement
    assert again.status_code == 200
    await next_request(cp)
    second = await server.api.post(
        "/API/SetChargingProfile/CP2", json={**DAILY, "chargingProfileId": 7009}
    )
    assert (second.status_code, second.json()["status"]) == (409, "ProfileRefused")
    assert "MaxChargingProfilesInstalled (1)" in second.json()["error"]
    assert cp.received.empty()


async def test_a_1_6_charger_is_held_to_the_configuration_it_reported(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    keys = [
        {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "1"},
        {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
        {"key": "MaxChargingProfilesInstalled", "readonly": True, "value": "many"},
    ]
    cp.answers["GetConfiguration"] = {"configuration_key": keys}
    assert (await server.api.get("/API/GetConfiguration/CP1")).status_code == 200
    await next_request(cp)
    await server.runtime.message_log.flush()
    refused = await server.api.post("/API/SetChargingProfile/CP1", json=DAILY)
    assert refused.status_code == 409
    assert refused.json()["error"] == "stack level 2 is over ChargeProfileMaxStackLevel 1"
    watts = await server.api.post("/API/SetChargingProfile/CP1", json=STATION_MAX)
    assert watts.status_code == 409
    assert "ChargingScheduleAllowedChargingRateUnit (A)" in watts.json()["error"]
    assert cp.received.empty()


async def test_a_remote_start_carries_a_stored_tx_profile_in_both_versions(
    server: RunningServer, charger: ConnectCharger, charger201: ConnectCharger201
) -> None:
    cp16, cp201 = await connected(server, charger), await connected201(server, charger201)
    await add_tag(server.runtime.db, "TAG1")
    for cp_id in ("CP1", "CP2"):
        made = await server.api.post(f"/API/ChargingProfiles/{cp_id}", json=TX_PROFILE)
        assert made.status_code == 200
    started = await server.api.get("/API/StartTransaction/CP1/1/TAG1?profileId=7003")
    assert started.json() == {"status": "Accepted"}
    action, request = await next_request(cp16)
    assert action == "RemoteStartTransaction"
    assert request["charging_profile"]["charging_profile_purpose"] == "TxProfile"
    assert request["charging_profile"]["charging_profile_id"] == 7003
    await server.api.get("/API/StartTransaction/CP2/1/TAG1?profileId=7003")
    action, request = await next_request(cp201)
    assert action == "RequestStartTransaction"
    assert request["charging_profile"]["id"] == 7003
    assert (await listed(server, "CP1"))[7003]["status"] == "accepted"


async def test_a_remote_start_takes_only_a_stored_tx_profile(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await connected(server, charger)
    await add_tag(server.runtime.db, "TAG1")
    unknown = await server.api.get("/API/StartTransaction/CP1/1/TAG1?profileId=99")
    assert unknown.status_code == 404
    await server.api.post("/API/ChargingProfiles/CP1", json=DAILY)
    wrong = await server.api.get("/API/StartTransaction/CP1/1/TAG1?profileId=7001")
    assert (wrong.status_code, wrong.json()["status"]) == (400, "InvalidProfile")


async def test_an_edited_profile_is_unsent_until_sent_and_a_deleted_one_is_cleared_first(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    await server.api.post("/API/SetChargingProfile/CP1", json=DAILY)
    await next_request(cp)
    edited = await server.api.post(
        "/API/ChargingProfiles/CP1/7001", json={**DAILY, "stackLevel": 4}
    )
    assert (edited.json()["stackLevel"], edited.json()["status"]) == (4, "new")
    assert (await server.api.get("/API/ChargingProfiles/CP1/7001")).json()["stackLevel"] == 4
    await server.api.post("/API/ChargingProfiles/CP1/7001/Send")
    await next_request(cp)
    deleted = await server.api.post("/API/ChargingProfiles/CP1/7001/Delete")
    assert deleted.json() == {"status": "Accepted", "cleared": [7001]}
    assert await next_request(cp) == ("ClearChargingProfile", {"id": 7001})
    assert (await server.api.get("/API/ChargingProfiles/CP1/7001")).status_code == 404


async def test_a_profile_the_charger_may_hold_is_kept_while_it_cannot_be_cleared(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    await server.api.post("/API/SetChargingProfile/CP1", json=DAILY)
    await next_request(cp)
    cp.answers["ClearChargingProfile"] = InternalError(description="flash busy")
    kept = await server.api.post("/API/ChargingProfiles/CP1/7001/Delete")
    assert kept.json()["status"] == "Rejected"
    assert (await listed(server, "CP1"))[7001]["status"] == "accepted"
    await next_request(cp)
    cp.answers["ClearChargingProfile"] = {"status": "Unknown"}
    gone = await server.api.post("/API/ChargingProfiles/CP1/7001/Delete")
    assert gone.json() == {"status": "Unknown", "cleared": []}  # the charger had none: deleted
    assert await listed(server, "CP1") == {}


async def test_the_fixed_charging_limit_is_a_profile_record(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    assert (await server.api.get("/API/SetChargingLimit/CP1/1/16A")).json() == {
        "status": "Accepted"
    }
    await next_request(cp)
    record = (await listed(server, "CP1"))[101]
    assert (record["chargingRateUnit"], record["status"]) == ("A", "accepted")
    assert record["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 16.0}]
    assert (await server.api.get("/API/ClearChargingLimit/CP1/1")).json() == {"status": "Accepted"}
    await next_request(cp)
    assert (await listed(server, "CP1"))[101]["status"] == "cleared"


def _with(**changes: Any) -> Request:
    return {**DAILY, **changes}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/API/ChargingProfiles/CP1", _with(chargingSchedulePeriod=[])),
        (
            "/API/ChargingProfiles/CP1",
            _with(chargingSchedulePeriod=[{"startPeriod": 0, "limit": 1}] * 49),
        ),
        (
            "/API/ChargingProfiles/CP1",
            _with(chargingSchedulePeriod=[{"startPeriod": 0, "limit": 16.05}]),
        ),
        (
            "/API/ChargingProfiles/CP1",
            _with(chargingSchedulePeriod=[{"startPeriod": 60, "limit": 16}]),
        ),
        (
            "/API/ChargingProfiles/CP1",
            _with(
                chargingSchedulePeriod=[
                    {"startPeriod": 0, "limit": 6},
                    {"startPeriod": 0, "limit": 8},
                ]
            ),
        ),
        (
            "/API/ChargingProfiles/CP1",
            _with(chargingSchedulePeriod=[{"startPeriod": 0, "limit": -1}]),
        ),
        (
            "/API/ChargingProfiles/CP1",
            _with(chargingProfilePurpose="ChargingStationExternalConstraints"),
        ),
        ("/API/ChargingProfiles/CP1", _with(chargingProfilePurpose="ChargePointMaxProfile")),
        ("/API/ChargingProfiles/CP1", {**TX_PROFILE, "connectorId": 0}),
        ("/API/ChargingProfiles/CP1", _with(recurrencyKind=None)),
        ("/API/ChargingProfiles/CP1", {**TX_PROFILE, "startSchedule": "2026-12-01T00:00:00Z"}),
        ("/API/ChargingProfiles/CP1", _with(startSchedule="2026-12-01T00:00:00")),
        (
            "/API/ChargingProfiles/CP1",
            _with(validFrom="2026-12-02T00:00:00Z", validTo="2026-12-01T00:00:00Z"),
        ),
        ("/API/ChargingProfiles/CP1", _with(stackLevel=-1)),
        ("/API/ChargingProfiles/CP1", _with(connectorId=1001)),
        ("/API/ChargingProfiles/CP1", _with(chargingProfileId=2**31)),
        ("/API/ChargingProfiles/CP1", _with(extra=1)),
        ("/API/ChargingProfiles/" + "X" * 101, DAILY),
        ("/API/ClearChargingProfile/CP1", {"stackLevel": -1}),
        ("/API/ClearChargingProfile/CP1", {"chargingProfilePurpose": "Other"}),
        ("/API/GetCompositeSchedule/CP1", {"connectorId": 1, "duration": 0}),
        (
            "/API/GetCompositeSchedule/CP1",
            {"connectorId": 1, "duration": 60, "chargingRateUnit": "kW"},
        ),
        ("/API/GetChargingProfiles/CP1", {"chargingProfileId": list(range(1, 52))}),
        ("/API/ChargingProfiles/CP1/7001", _with(chargingProfileId=7002)),
    ],
)
async def test_bad_profiles_and_criteria_are_refused_before_anything_is_stored(
    server: RunningServer, path: str, body: Request
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    response = await server.api.post(path, json=body)
    assert response.status_code == 400, response.json()
    assert response.json()["status"] in ("InvalidParameter", "InvalidProfile")
    assert await listed(server, "CP1") == {}


async def test_unknown_chargers_and_profiles_and_taken_ids(server: RunningServer) -> None:
    assert (await server.api.post("/API/ChargingProfiles/NOPE", json=DAILY)).status_code == 404
    await add_charge_point(server.runtime.db, "CP1")
    assert (await server.api.get("/API/ChargingProfiles/CP1/5")).status_code == 404
    assert (await server.api.post("/API/ChargingProfiles/CP1/5/Send")).status_code == 404
    assert (await server.api.post("/API/ChargingProfiles/CP1", json=DAILY)).status_code == 200
    taken = await server.api.post("/API/ChargingProfiles/CP1", json=DAILY)
    assert (taken.status_code, taken.json()["status"]) == (409, "ProfileConflict")
    offline = await server.api.post("/API/ChargingProfiles/CP1/7001/Send")
    assert (offline.status_code, offline.json()["status"]) == (404, "ChargerOffline")
    assert (await server.api.get("/API/ChargingProfiles/CP1?limit=101")).status_code == 400
    assert (await server.api.get("/API/ChargingNotices/CP1?kind=Other")).status_code == 400


async def test_a_tx_profile_names_its_transaction_as_each_charger_knows_it(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected201(server, charger201)
    await add_tag(server.runtime.db, "TAG1")
    await transaction_event(
        cp,
        "Started",
        "tx-p",
        0,
        NOW,
        trigger="Authorized",
        evse=1,
        tag="TAG1",
        meter=[energy(0, NOW, "Transaction.Begin")],
    )
    async with server.runtime.db.session() as session:
        transaction_id = await session.scalar(select(Transaction.id))
    body = {**TX_PROFILE, "transactionId": transaction_id}
    sent = await server.api.post("/API/SetChargingProfile/CP2", json=body)
    assert sent.json()["status"] == "Accepted"
    _, request = await next_request(cp)
    assert request["charging_profile"]["transaction_id"] == "tx-p"
    record = (await listed(server, "CP2"))[7003]
    assert record["transactionId"] == transaction_id


async def test_a_2_1_charger_is_sent_and_tells_the_same(server: RunningServer) -> None:
    """2.1 kept these messages' shape: the frames pass the OCA 2.1 schemas."""
    await add_charge_point(server.runtime.db, "CP21")
    async with connect(f"{server.ws_url}/CP21", subprotocols=[Subprotocol("ocpp2.1")]) as websocket:
        limit = {"chargingLimit": {"chargingLimitSource": "SO"}, "evseId": 1}
        await websocket.send(json.dumps([2, "n1", "NotifyChargingLimit", limit]))
        assert json.loads(await websocket.recv()) == [3, "n1", {}]
        sending = asyncio.create_task(
            server.api.post("/API/SetChargingProfile/CP21", json=STATION_MAX)
        )
        _, unique_id, action, payload = json.loads(await websocket.recv())
        validator = get_validator(MessageType.Call, "SetChargingProfile", "2.1")
        assert (action, list(validator.iter_errors(payload))) == ("SetChargingProfile", [])
        await websocket.send(json.dumps([3, unique_id, {"status": "Accepted"}]))
        assert (await sending).json() == {"status": "Accepted", "chargingProfileId": 7002}
    [notice] = (await server.api.get("/API/ChargingNotices/CP21")).json()
    assert (notice["kind"], notice["source"]) == ("NotifyChargingLimit", "SO")
