"""Every ``/API/{Command}`` endpoint, over real HTTP, reaching a real charger on a real websocket.

Each test asserts what the charger received (as the ``ocpp`` library decoded it,
so keys are snake_case) and that the charger's own answer comes back in the
JSON. The ``charger`` fixture checks every frame the server sent against the
OCA 1.6 schema at teardown.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from ocpp.v16 import call
from sqlalchemy import select

from builders import NOW, add_charge_point, add_tag, timestamp
from chargers import TestCharger
from ocpp_core.db.models import Transaction
from ocpp_core.domain.commands import CHARGING_LIMIT_PROFILE_ID
from servers import ConnectCharger, RunningServer

Request = dict[str, Any]


async def next_request(cp: TestCharger) -> tuple[str, Request]:
    """The next CALL the charger handled; the API answers only after that, so no waiting."""
    async with asyncio.timeout(2):
        return await cp.received.get()


async def connected(
    server: RunningServer, charger: ConnectCharger, cp_id: str = "CP1"
) -> TestCharger:
    await add_charge_point(server.runtime.db, cp_id)
    return await charger(cp_id)


@pytest.mark.parametrize(
    ("path", "action", "request_", "answer"),
    [
        ("/API/Reset/CP1", "Reset", {"type": "Soft"}, {"status": "Accepted"}),
        ("/API/Reset/CP1/Soft", "Reset", {"type": "Soft"}, {"status": "Accepted"}),
        ("/API/Reset/CP1/Hard", "Reset", {"type": "Hard"}, {"status": "Accepted"}),
        (
            "/API/UnlockConnector/CP1/2",
            "UnlockConnector",
            {"connector_id": 2},
            {"status": "Unlocked"},
        ),
        (
            "/API/ClearChargingLimit/CP1/2",
            "ClearChargingProfile",
            {"id": CHARGING_LIMIT_PROFILE_ID + 2},
            {"status": "Accepted"},
        ),
        (
            "/API/ClearChargingLimit/CP1/0",
            "ClearChargingProfile",
            {"id": CHARGING_LIMIT_PROFILE_ID},
            {"status": "Accepted"},
        ),
        (
            "/API/ChangeConfiguration/CP1/HeartbeatInterval/60",
            "ChangeConfiguration",
            {"key": "HeartbeatInterval", "value": "60"},
            {"status": "Accepted"},
        ),
        (
            "/API/TriggerMessage/CP1/StatusNotification",
            "TriggerMessage",
            {"requested_message": "StatusNotification"},
            {"status": "Accepted"},
        ),
        (
            "/API/TriggerMessage/CP1/StatusNotification/1",
            "TriggerMessage",
            {"requested_message": "StatusNotification", "connector_id": 1},
            {"status": "Accepted"},
        ),
        (
            "/API/TriggerMessage/CP1/Heartbeat/0",
            "TriggerMessage",
            {"requested_message": "Heartbeat", "connector_id": 0},
            {"status": "Accepted"},
        ),
        (
            "/API/ChangeAvailability/CP1/1/Inoperative",
            "ChangeAvailability",
            {"connector_id": 1, "type": "Inoperative"},
            {"status": "Accepted"},
        ),
        (
            "/API/ChangeAvailability/CP1/0/Operative",
            "ChangeAvailability",
            {"connector_id": 0, "type": "Operative"},
            {"status": "Accepted"},
        ),
        ("/API/ClearCache/CP1", "ClearCache", {}, {"status": "Accepted"}),
        (
            "/API/DataTransfer/CP1/com.acme?data=ping",
            "DataTransfer",
            {"vendor_id": "com.acme", "data": "ping"},
            {"status": "Accepted", "data": "pong"},
        ),
        (
            "/API/DataTransfer/CP1/com.acme/Hello?data=%7B%22a%22%3A1%7D",
            "DataTransfer",
            {"vendor_id": "com.acme", "message_id": "Hello", "data": '{"a":1}'},
            {"status": "Accepted", "data": "pong"},
        ),
        (
            "/API/DataTransfer/CP1/com.acme",
            "DataTransfer",
            {"vendor_id": "com.acme"},
            {"status": "Accepted", "data": "pong"},
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and value.startswith("/") else "",
)
async def test_command_reaches_the_charger_and_its_answer_comes_back(
    server: RunningServer,
    charger: ConnectCharger,
    path: str,
    action: str,
    request_: Request,
    answer: dict[str, str],
) -> None:
    cp = await connected(server, charger)
    response = await server.api.get(path)
    assert response.status_code == 200
    assert response.json() == answer
    assert await next_request(cp) == (action, request_)
    assert cp.received.empty()


@pytest.mark.parametrize(
    ("path", "action", "status"),
    [
        ("/API/Reset/CP1/Hard", "Reset", "Rejected"),
        ("/API/UnlockConnector/CP1/1", "UnlockConnector", "UnlockFailed"),
        ("/API/UnlockConnector/CP1/9", "UnlockConnector", "NotSupported"),
        ("/API/SetChargingLimit/CP1/1/16A", "SetChargingProfile", "NotSupported"),
        ("/API/ClearChargingLimit/CP1/1", "ClearChargingProfile", "Unknown"),
        (
            "/API/ChangeConfiguration/CP1/MeterValueSampleInterval/5",
            "ChangeConfiguration",
            "RebootRequired",
        ),
        ("/API/ChangeConfiguration/CP1/ChargePointId/x", "ChangeConfiguration", "Rejected"),
        ("/API/TriggerMessage/CP1/MeterValues/1", "TriggerMessage", "NotImplemented"),
        ("/API/ChangeAvailability/CP1/1/Inoperative", "ChangeAvailability", "Scheduled"),
        ("/API/ClearCache/CP1", "ClearCache", "Rejected"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.startswith("/") else "",
)
async def test_the_chargers_own_status_is_passed_through(
    server: RunningServer, charger: ConnectCharger, path: str, action: str, status: str
) -> None:
    cp = await connected(server, charger)
    cp.answers[action] = {"status": status}
    response = await server.api.get(path)
    assert (response.status_code, response.json()) == (200, {"status": status})
    assert (await next_request(cp))[0] == action


async def test_data_transfer_returns_the_chargers_whole_answer(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    cp.answers["DataTransfer"] = {"status": "UnknownMessageId"}
    response = await server.api.get("/API/DataTransfer/CP1/com.acme/Nope")
    assert (response.status_code, response.json()) == (200, {"status": "UnknownMessageId"})
    assert await next_request(cp) == (
        "DataTransfer",
        {"vendor_id": "com.acme", "message_id": "Nope"},
    )


@pytest.mark.parametrize(
    ("limit", "unit", "value"),
    [("16A", "A", 16.0), ("11000W", "W", 11000.0), ("32a", "A", 32.0)],
)
async def test_set_charging_limit_sends_our_own_profile(
    server: RunningServer, charger: ConnectCharger, limit: str, unit: str, value: float
) -> None:
    cp = await connected(server, charger)
    response = await server.api.get(f"/API/SetChargingLimit/CP1/2/{limit}")
    assert (response.status_code, response.json()) == (200, {"status": "Accepted"})
    action, request = await next_request(cp)
    assert action == "SetChargingProfile"
    assert request["connector_id"] == 2
    profile = request["cs_charging_profiles"]
    assert profile["charging_profile_id"] == CHARGING_LIMIT_PROFILE_ID + 2
    assert profile["charging_profile_purpose"] == "TxDefaultProfile"
    schedule = profile["charging_schedule"]
    assert schedule["charging_rate_unit"] == unit
    assert schedule["charging_schedule_period"] == [{"start_period": 0, "limit": value}]
    assert schedule["start_schedule"].endswith("Z")


async def test_clearing_a_limit_targets_the_profile_that_setting_it_created(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    assert (await server.api.get("/API/SetChargingLimit/CP1/1/10A")).status_code == 200
    assert (await server.api.get("/API/ClearChargingLimit/CP1/1")).status_code == 200
    (_, set_request), (_, clear_request) = await next_request(cp), await next_request(cp)
    assert clear_request == {"id": set_request["cs_charging_profiles"]["charging_profile_id"]}


BAD_REQUESTS = {
    "InvalidLimit": [
        f"/API/SetChargingLimit/CP1/1/{limit}"
        for limit in ("abc", "16", "A", "16kW", "-5A", "1.5A", "12345678W")
    ],
    "InvalidResetMode": [f"/API/Reset/CP1/{mode}" for mode in ("soft", "HARD", "Immediate", "0")],
    "InvalidMessage": [
        "/API/TriggerMessage/CP1/Nope",
        "/API/TriggerMessage/CP1/statusnotification",
        "/API/TriggerMessage/CP1/StartTransaction",
    ],
    "InvalidConnector": ["/API/TriggerMessage/CP1/StatusNotification/-1"],
    "InvalidParameter": [
        "/API/UnlockConnector/CP1/0",
        "/API/UnlockConnector/CP1/x",
        "/API/SetChargingLimit/CP1/-1/16A",
        "/API/ChangeAvailability/CP1/1/Broken",
        "/API/ChangeAvailability/CP1/1/inoperative",
        "/API/TriggerMessage/CP1/StatusNotification/one",
        "/API/StartTransaction/CP1/0/TAG1",
        "/API/StopTransaction/CP1/0",
        f"/API/Reset/{'C' * 101}",
        # Values the OCPP 1.6 schema refuses: caught before anything is sent.
        f"/API/ChangeConfiguration/CP1/{'K' * 51}/1",  # key is CiString50
        f"/API/ChangeConfiguration/CP1/HeartbeatInterval/{'9' * 501}",  # value is CiString500
        f"/API/GetConfiguration/CP1/{'K' * 51}",
        f"/API/DataTransfer/CP1/{'v' * 256}",  # vendorId is CiString255
        f"/API/DataTransfer/CP1/com.acme/{'m' * 51}",  # messageId is CiString50
    ],
}


@pytest.mark.parametrize("status", BAD_REQUESTS)
async def test_a_bad_request_is_400_and_nothing_is_sent(
    server: RunningServer, charger: ConnectCharger, status: str
) -> None:
    cp = await connected(server, charger)
    await add_tag(server.runtime.db, "TAG1")
    for path in BAD_REQUESTS[status]:
        response = await server.api.get(path)
        assert (response.status_code, response.json()["status"]) == (400, status), path
        assert response.json()["error"], path
    assert cp.requests == []


async def test_get_configuration_returns_the_chargers_keys(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    response = await server.api.get("/API/GetConfiguration/CP1")
    assert response.status_code == 200
    assert response.json() == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
    }
    assert await next_request(cp) == ("GetConfiguration", {})


async def test_get_configuration_of_one_key_asks_for_that_key(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    cp.answers["GetConfiguration"] = {
        "configuration_key": [{"key": "MeterValueSampleInterval", "readonly": True, "value": "60"}],
        "unknown_key": ["Bogus"],
    }
    response = await server.api.get("/API/GetConfiguration/CP1/MeterValueSampleInterval")
    assert response.status_code == 200
    assert response.json() == {
        "configurationKey": [{"key": "MeterValueSampleInterval", "readonly": True, "value": "60"}],
        "unknownKey": ["Bogus"],
    }
    assert await next_request(cp) == ("GetConfiguration", {"key": ["MeterValueSampleInterval"]})


async def test_remote_start_for_an_accepted_tag(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    await add_tag(server.runtime.db, "TAG1")
    response = await server.api.get("/API/StartTransaction/CP1/2/TAG1")
    assert (response.status_code, response.json()) == (200, {"status": "Accepted"})
    assert await next_request(cp) == (
        "RemoteStartTransaction",
        {"id_tag": "TAG1", "connector_id": 2},
    )


async def test_remote_start_the_charger_refuses(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    await add_tag(server.runtime.db, "TAG1")
    cp.answers["RemoteStartTransaction"] = {"status": "Rejected"}
    response = await server.api.get("/API/StartTransaction/CP1/1/TAG1")
    assert (response.status_code, response.json()) == (200, {"status": "Rejected"})
    assert (await next_request(cp))[0] == "RemoteStartTransaction"


@pytest.mark.parametrize(
    ("tag", "why"),
    [("UNKNOWN", "Invalid"), ("LOCKED", "Blocked"), ("OLD", "Expired")],
)
async def test_remote_start_for_a_tag_we_would_not_accept_sends_nothing(
    server: RunningServer, charger: ConnectCharger, tag: str, why: str
) -> None:
    db = server.runtime.db
    cp = await connected(server, charger)
    await add_tag(db, "LOCKED", blocked=True)
    await add_tag(db, "OLD", expires_at=NOW - timedelta(days=1))
    response = await server.api.get(f"/API/StartTransaction/CP1/1/{tag}")
    assert response.status_code == 200
    assert response.json()["status"] == "Rejected"
    assert why in response.json()["error"]
    assert cp.requests == []


async def test_remote_stop_stops_the_open_transaction_on_that_connector(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    cp = await connected(server, charger)
    await add_tag(db, "TAG1")
    earlier = await cp.call(call.StartTransaction(2, "TAG1", 100, timestamp()))
    await cp.call(
        call.StopTransaction(200, timestamp(NOW.replace(minute=5)), earlier.transaction_id)
    )
    other = await cp.call(call.StartTransaction(1, "TAG1", 0, timestamp()))
    running = await cp.call(
        call.StartTransaction(2, "TAG1", 500, timestamp(NOW.replace(minute=10)))
    )

    response = await server.api.get("/API/StopTransaction/CP1/2")

    assert response.status_code == 200
    assert response.json() == {"status": "Accepted", "transactionId": running.transaction_id}
    assert await next_request(cp) == (
        "RemoteStopTransaction",
        {"transaction_id": running.transaction_id},
    )
    assert running.transaction_id not in (earlier.transaction_id, other.transaction_id)


async def test_remote_stop_the_charger_refuses(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    await add_tag(server.runtime.db, "TAG1")
    started = await cp.call(call.StartTransaction(1, "TAG1", 0, timestamp()))
    cp.answers["RemoteStopTransaction"] = {"status": "Rejected"}
    response = await server.api.get("/API/StopTransaction/CP1/1")
    assert response.json() == {"status": "Rejected", "transactionId": started.transaction_id}
    async with server.runtime.db.session() as session:
        row = await session.get(Transaction, started.transaction_id)
    assert row is not None
    assert row.stop_at is None  # only the charger's own StopTransaction ends it


async def test_remote_stop_without_an_open_transaction_is_424(
    server: RunningServer, charger: ConnectCharger
) -> None:
    cp = await connected(server, charger)
    await add_tag(server.runtime.db, "TAG1")
    started = await cp.call(call.StartTransaction(1, "TAG1", 0, timestamp()))
    await cp.call(
        call.StopTransaction(10, timestamp(NOW.replace(minute=1)), started.transaction_id)
    )
    await cp.call(call.StartTransaction(2, "TAG1", 0, timestamp()))  # open, but elsewhere

    response = await server.api.get("/API/StopTransaction/CP1/1")

    assert response.status_code == 424
    assert response.json()["status"] == "NoOpenTransaction"
    assert cp.requests == []


@pytest.mark.parametrize("refused", ["UNKNOWN", "LOCKED"], ids=["invalid", "blocked"])
async def test_a_refused_start_is_not_the_transaction_to_stop(
    server: RunningServer, charger: ConnectCharger, refused: str
) -> None:
    db = server.runtime.db
    cp = await connected(server, charger)
    await add_tag(db, "TAG1")
    await add_tag(db, "LOCKED", blocked=True)
    running = await cp.call(call.StartTransaction(1, "TAG1", 0, timestamp()))
    refused_start = await cp.call(
        call.StartTransaction(1, refused, 100, timestamp(NOW + timedelta(minutes=1)))
    )
    assert refused_start.id_tag_info["status"] in ("Invalid", "Blocked")

    response = await server.api.get("/API/StopTransaction/CP1/1")

    assert response.json() == {"status": "Accepted", "transactionId": running.transaction_id}
    await cp.call(
        call.StopTransaction(
            100, timestamp(NOW + timedelta(minutes=2)), running.transaction_id, reason="Remote"
        )
    )
    nothing_left = await server.api.get("/API/StopTransaction/CP1/1")
    assert (nothing_left.status_code, nothing_left.json()["status"]) == (424, "NoOpenTransaction")
    # The charger's own stop of the refused start is still accepted and recorded.
    await cp.call(
        call.StopTransaction(
            100,
            timestamp(NOW + timedelta(minutes=3)),
            refused_start.transaction_id,
            id_tag=refused,
            reason="DeAuthorized",
        )
    )
    async with db.session() as session:
        row = await session.get(Transaction, refused_start.transaction_id)
    assert row is not None
    assert (row.start_result, row.stop_reason, row.energy_wh) == (
        refused_start.id_tag_info["status"],
        "DeAuthorized",
        0,
    )


async def test_remote_stop_ignores_another_chargers_transaction(
    server: RunningServer, charger: ConnectCharger
) -> None:
    other = await connected(server, charger, "CP2")
    cp = await connected(server, charger, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    await other.call(call.StartTransaction(1, "TAG1", 0, timestamp()))
    response = await server.api.get("/API/StopTransaction/CP1/1")
    assert response.status_code == 424
    assert cp.requests == other.requests == []
    async with server.runtime.db.session() as session:
        assert len((await session.scalars(select(Transaction))).all()) == 1


async def test_commands_go_to_the_named_charger_only(
    server: RunningServer, charger: ConnectCharger
) -> None:
    one = await connected(server, charger, "CP1")
    two = await connected(server, charger, "CP2")
    assert (await server.api.get("/API/Reset/CP2/Hard")).json() == {"status": "Accepted"}
    assert await next_request(two) == ("Reset", {"type": "Hard"})
    assert one.requests == []


async def test_a_charger_that_drops_the_socket_mid_command_is_a_timeout_at_once(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    asked = asyncio.Event()
    never = asyncio.Event()

    async def hang(**request: Any) -> Any:
        asked.set()
        await never.wait()

    cp.route_map["GetConfiguration"] = {"_on_action": hang, "_skip_schema_validation": False}
    pending = asyncio.create_task(server.api.get("/API/GetConfiguration/CP1"))
    async with asyncio.timeout(2):
        await asked.wait()
    await cp.connection.websocket.close()
    # Answered when the socket closes, well before the 3 s command timeout.
    async with asyncio.timeout(2):
        response = await pending
    assert response.json() == {"status": "Timeout"}
