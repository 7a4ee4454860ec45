"""The same ``/API/{Command}`` endpoints reaching an OCPP 2.0.1 charger (the ``ocpp`` library's).

What the charger received is shown as the library decoded it (snake_case keys);
every frame the server sent is checked against the OCA 2.0.1 schema at teardown.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.v201 import call
from sqlalchemy import select

from builders import NOW, add_charge_point, add_tag, timestamp
from chargers import TestCharger201
from events201 import energy, transaction_event
from ocpp_core.clock import format_timestamp
from ocpp_core.db.models import Transaction
from ocpp_core.domain.commands import CHARGING_LIMIT_PROFILE_ID
from servers import ConnectCharger, ConnectCharger201, RunningServer

Request = dict[str, Any]
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}


async def next_request(cp: TestCharger201) -> tuple[str, Request]:
    """The next CALL the charger handled; the API answers only after that, so no waiting."""
    async with asyncio.timeout(2):
        return await cp.received.get()


async def connected(server: RunningServer, charger201: ConnectCharger201) -> TestCharger201:
    await add_charge_point(server.runtime.db, "CP2")
    return await charger201("CP2")


@pytest.mark.parametrize(
    ("path", "action", "request_", "answer"),
    [
        ("/API/Reset/CP2", "Reset", {"type": "OnIdle"}, {"status": "Accepted"}),
        ("/API/Reset/CP2/Hard", "Reset", {"type": "Immediate"}, {"status": "Accepted"}),
        (
            "/API/Reset/CP2/Soft/2",
            "Reset",
            {"type": "OnIdle", "evse_id": 2},
            {"status": "Accepted"},
        ),
        (
            "/API/UnlockConnector/CP2/2",
            "UnlockConnector",
            {"evse_id": 2, "connector_id": 1},
            {"status": "Unlocked"},
        ),
        (
            "/API/UnlockConnector/CP2/2/3",
            "UnlockConnector",
            {"evse_id": 2, "connector_id": 3},
            {"status": "Unlocked"},
        ),
        (
            "/API/ClearChargingLimit/CP2/2",
            "ClearChargingProfile",
            {"charging_profile_id": CHARGING_LIMIT_PROFILE_ID + 2},
            {"status": "Accepted"},
        ),
        (
            "/API/TriggerMessage/CP2/StatusNotification/1",
            "TriggerMessage",
            {
                "requested_message": "StatusNotification",
                "evse": {"id": 1, "connector_id": 1},
            },
            {"status": "Accepted"},
        ),
        (
            "/API/TriggerMessage/CP2/TransactionEvent/2",
            "TriggerMessage",
            {"requested_message": "TransactionEvent", "evse": {"id": 2}},
            {"status": "Accepted"},
        ),
        (
            "/API/TriggerMessage/CP2/DiagnosticsStatusNotification",
            "TriggerMessage",
            {"requested_message": "LogStatusNotification"},
            {"status": "Accepted"},
        ),
        (
            "/API/ChangeAvailability/CP2/1/Inoperative",
            "ChangeAvailability",
            {"operational_status": "Inoperative", "evse": {"id": 1}},
            {"status": "Accepted"},
        ),
        (
            "/API/ChangeAvailability/CP2/0/Operative",
            "ChangeAvailability",
            {"operational_status": "Operative"},
            {"status": "Accepted"},
        ),
        ("/API/ClearCache/CP2", "ClearCache", {}, {"status": "Accepted"}),
        (
            "/API/DataTransfer/CP2/com.acme?data=ping",
            "DataTransfer",
            {"vendor_id": "com.acme", "data": "ping"},
            {"status": "Accepted", "data": "pong"},
        ),
        (
            "/API/ChangeConfiguration/CP2/HeartbeatInterval/60",
            "SetVariables",
            {"set_variable_data": [{"attribute_value": "60", **HEARTBEAT}]},
            {"status": "Accepted"},
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and value.startswith("/") else "",
)
async def test_command_reaches_the_201_charger_and_its_answer_comes_back(
    server: RunningServer,
    charger201: ConnectCharger201,
    path: str,
    action: str,
    request_: Request,
    answer: dict[str, str],
) -> None:
    cp = await connected(server, charger201)
    response = await server.api.get(path)
    assert (response.status_code, response.json()) == (200, answer)
    assert await next_request(cp) == (action, request_)
    assert cp.received.empty()


async def test_set_charging_limit_sends_a_2_0_1_profile(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected(server, charger201)
    response = await server.api.get("/API/SetChargingLimit/CP2/2/16A")
    assert (response.status_code, response.json()) == (200, {"status": "Accepted"})
    action, request = await next_request(cp)
    assert action == "SetChargingProfile"
    assert request["evse_id"] == 2
    profile = request["charging_profile"]
    assert profile["id"] == CHARGING_LIMIT_PROFILE_ID + 2
    assert profile["charging_profile_purpose"] == "TxDefaultProfile"
    [schedule] = profile["charging_schedule"]
    assert schedule["charging_rate_unit"] == "A"
    assert schedule["charging_schedule_period"] == [{"start_period": 0, "limit": 16.0}]


async def test_get_and_set_variables(server: RunningServer, charger201: ConnectCharger201) -> None:
    cp = await connected(server, charger201)
    got = await server.api.get(
        "/API/GetVariables/CP2/Connector/AvailabilityState?evse=1&connector=2&instance=x"
    )
    assert got.status_code == 200
    [result] = got.json()["getVariableResult"]
    assert (result["attributeStatus"], result["attributeValue"]) == ("Accepted", "300")
    component = {"name": "Connector", "evse": {"id": 1, "connector_id": 2}, "instance": "x"}
    assert await next_request(cp) == (
        "GetVariables",
        {
            "get_variable_data": [
                {"component": component, "variable": {"name": "AvailabilityState"}}
            ]
        },
    )
    cp.answers["SetVariables"] = {
        "set_variable_result": [{"attribute_status": "RebootRequired", **HEARTBEAT}]
    }
    set_ = await server.api.get("/API/SetVariables/CP2/OCPPCommCtrlr/HeartbeatInterval/60")
    assert set_.status_code == 200
    assert set_.json()["status"] == "RebootRequired"
    assert (await next_request(cp))[0] == "SetVariables"
    mapped = await server.api.get("/API/GetConfiguration/CP2/HeartbeatInterval")
    assert mapped.json()["getVariableResult"][0]["attributeValue"] == "300"
    assert await next_request(cp) == ("GetVariables", {"get_variable_data": [HEARTBEAT]})


async def test_configuration_keys_without_a_variable_are_not_supported(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected(server, charger201)
    for path in ("/API/GetConfiguration/CP2", "/API/ChangeConfiguration/CP2/ChargePointId/x"):
        response = await server.api.get(path)
        assert (response.status_code, response.json()["status"]) == (501, "NotSupported")
    assert cp.received.empty()


async def test_device_model_commands_are_not_supported_on_1_6(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    for path in (
        "/API/GetVariables/CP1/OCPPCommCtrlr/HeartbeatInterval",
        "/API/SetVariables/CP1/OCPPCommCtrlr/HeartbeatInterval/5",
        "/API/GetBaseReport/CP1",
        "/API/Reset/CP1/Hard/1",
        "/API/UnlockConnector/CP1/1/2",
    ):
        response = await server.api.get(path)
        assert (response.status_code, response.json()["status"]) == (501, "NotSupported"), path
    assert cp.received.empty()


async def test_base_report_is_stored_and_viewable(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected(server, charger201)
    assert (await server.api.get("/API/Report/CP2")).status_code == 404
    response = await server.api.get("/API/GetBaseReport/CP2/ConfigurationInventory")
    assert response.status_code == 200
    request_id = response.json()["requestId"]
    assert response.json()["status"] == "Accepted"
    assert await next_request(cp) == (
        "GetBaseReport",
        {"request_id": request_id, "report_base": "ConfigurationInventory"},
    )
    entry = {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "variable_attribute": [{"value": "300", "mutability": "ReadWrite"}],
    }
    for seq_no, tbc in ((1, False), (0, True)):  # parts may arrive out of order
        await cp.call(call.NotifyReport(request_id, timestamp(), seq_no, [entry], tbc=tbc))
    report = (await server.api.get("/API/Report/CP2")).json()
    assert report["requestId"] == request_id
    assert report["complete"] is True
    assert report["generatedAt"] == format_timestamp(NOW)
    assert len(report["reportData"]) == 2
    [attribute] = report["reportData"][0]["variableAttribute"]
    assert (attribute["value"], attribute["mutability"]) == ("300", "ReadWrite")


async def test_remote_start_and_stop(server: RunningServer, charger201: ConnectCharger201) -> None:
    db = server.runtime.db
    cp = await connected(server, charger201)
    await add_tag(db, "TAG1")
    started = await server.api.get("/API/StartTransaction/CP2/1/TAG1")
    assert started.json() == {"status": "Accepted"}
    action, request = await next_request(cp)
    assert action == "RequestStartTransaction"
    assert request["id_token"] == {"id_token": "TAG1", "type": "ISO14443"}
    assert request["evse_id"] == 1
    remote_start_id = request["remote_start_id"]
    assert remote_start_id > 0
    again = await server.api.get("/API/StartTransaction/CP2/1/TAG1")
    assert again.status_code == 200
    assert (await next_request(cp))[1]["remote_start_id"] != remote_start_id
    await transaction_event(
        cp,
        "Started",
        "tx-r",
        0,
        NOW,
        trigger="RemoteStart",
        evse=1,
        tag="TAG1",
        meter=[energy(0, NOW, "Transaction.Begin")],
        remote_start_id=remote_start_id,
    )
    stopped = await server.api.get("/API/StopTransaction/CP2/1")
    async with db.session() as session:
        tx = await session.scalar(select(Transaction).where(Transaction.uid == "tx-r"))
    assert tx is not None
    assert tx.remote_start_id == remote_start_id
    assert stopped.json() == {"status": "Accepted", "transactionId": tx.id}
    assert await next_request(cp) == ("RequestStopTransaction", {"transaction_id": "tx-r"})


async def test_a_refused_start_is_not_the_transaction_to_stop(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    cp = await connected(server, charger201)
    started = await transaction_event(
        cp, "Started", "tx-refused", 0, NOW, trigger="Authorized", evse=1, tag="UNKNOWN"
    )
    assert started.id_token_info == {"status": "Invalid"}

    response = await server.api.get("/API/StopTransaction/CP2/1")

    assert (response.status_code, response.json()["status"]) == (424, "NoOpenTransaction")
    assert cp.requests == []
    ended = await transaction_event(
        cp, "Ended", "tx-refused", 1, NOW, trigger="Deauthorized", stopped_reason="DeAuthorized"
    )
    assert ended.id_token_info is None
    async with server.runtime.db.session() as session:
        tx = await session.scalar(select(Transaction).where(Transaction.uid == "tx-refused"))
    assert tx is not None
    assert (tx.start_result, tx.stop_reason) == ("Invalid", "DeAuthorized")
