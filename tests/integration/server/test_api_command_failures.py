"""Commands that do not get a normal answer: charger offline, CALLERROR, bad answer, no answer.

The tests of a command never answered shorten the command timeout (``never_answered``)
so they wait one second, not three; the others keep the shared three seconds, for an
answer that the loaded machine of a CI run may take more than half a second to carry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.exceptions import GenericError, NotImplementedError, NotSupportedError, OCPPError
from ocpp.v16 import call, call_result

from builders import add_charge_point, add_tag, timestamp
from chargers import TestCharger
from servers import ConnectCharger, RunningServer

TIMEOUT = 1.0

COMMANDS = [
    "/API/Reset/CP1",
    "/API/Reset/CP1/Hard",
    "/API/UnlockConnector/CP1/1",
    "/API/SetChargingLimit/CP1/1/16A",
    "/API/ClearChargingLimit/CP1/1",
    "/API/StartTransaction/CP1/1/TAG1",
    "/API/StopTransaction/CP1/1",
    "/API/GetConfiguration/CP1",
    "/API/GetConfiguration/CP1/HeartbeatInterval",
    "/API/ChangeConfiguration/CP1/HeartbeatInterval/60",
    "/API/TriggerMessage/CP1/StatusNotification",
    "/API/TriggerMessage/CP1/StatusNotification/1",
    "/API/ChangeAvailability/CP1/1/Inoperative",
    "/API/ClearCache/CP1",
    "/API/DataTransfer/CP1/com.acme",
    "/API/DataTransfer/CP1/com.acme/Ping?data=x",
]


# The shared ``command_timeout`` fixture, shortened for the tests of a command never answered.
never_answered = pytest.mark.parametrize("command_timeout", [TIMEOUT])


def answer_with(cp: TestCharger, action: str, handler: Any, *, validate: bool = True) -> None:
    """Replace how the charger handles one action (the ``ocpp`` library's route map)."""
    cp.route_map[action] = {"_on_action": handler, "_skip_schema_validation": not validate}


async def test_a_known_charger_that_is_not_connected_is_404(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    for path in COMMANDS:
        response = await server.api.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"status": "ChargerOffline", "chargePointId": "CP1"}, path


async def test_an_unknown_charger_is_404_too(server: RunningServer) -> None:
    response = await server.api.get("/API/Reset/NOSUCHCP")
    assert response.status_code == 404
    assert response.json() == {"status": "ChargerOffline", "chargePointId": "NOSUCHCP"}


async def test_a_charger_that_disconnected_is_offline(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    assert (await server.api.get("/API/ClearCache/CP1")).json() == {"status": "Accepted"}
    await cp.connection.websocket.close()
    # Nothing signals when the server has handled the disconnect, so poll.
    async with asyncio.timeout(5):
        while await server.runtime.router.is_online("CP1"):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    response = await server.api.get("/API/ClearCache/CP1")
    assert (response.status_code, response.json()["status"]) == (404, "ChargerOffline")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotSupportedError, "NotSupported"),
        (NotImplementedError, "NotSupported"),
        (GenericError, "Rejected"),
    ],
)
async def test_a_callerror_from_the_charger_comes_back_with_its_code(
    server: RunningServer, charger: ConnectCharger, error: type[OCPPError], status: str
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")

    def refuse(**request: Any) -> Any:
        raise error(description="not on this model")

    answer_with(cp, "UnlockConnector", refuse)
    response = await server.api.get("/API/UnlockConnector/CP1/1")
    assert response.status_code == 200
    assert response.json() == {
        "status": status,
        "error": error.code,
        "description": "not on this model",
    }
    # The connection survives a CALLERROR: the next command works.
    assert (await server.api.get("/API/Reset/CP1")).json() == {"status": "Accepted"}


async def test_a_charger_crashing_in_its_handler_is_rejected_with_internal_error(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")

    def crash(**request: Any) -> Any:
        raise RuntimeError("firmware bug")

    answer_with(cp, "GetConfiguration", crash)
    response = await server.api.get("/API/GetConfiguration/CP1")
    assert response.status_code == 200
    assert response.json()["status"] == "Rejected"
    assert response.json()["error"] == "InternalError"


async def test_an_answer_that_breaks_the_schema_is_rejected(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")

    def nonsense(**request: Any) -> Any:
        return call_result.Reset(status="Maybe")

    answer_with(cp, "Reset", nonsense, validate=False)
    response = await server.api.get("/API/Reset/CP1")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "Rejected"
    assert body["error"] == "PropertyConstraintViolation"
    assert "status" in body["description"]


async def test_an_answer_the_chargers_library_refuses_to_send_becomes_a_callerror(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    cp.answers["ClearCache"] = {"status": "Maybe"}  # the library validates and sends a CALLERROR
    response = await server.api.get("/API/ClearCache/CP1")
    assert response.status_code == 200
    assert response.json()["status"] == "Rejected"
    # ocpp 2.1 spells it the 2.0.1 way even on a 1.6 connection
    assert response.json()["error"] in {"FormatViolation", "FormationViolation"}


@never_answered
async def test_a_charger_that_does_not_answer_in_time_is_a_timeout(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    release = asyncio.Event()

    async def slow(**request: Any) -> Any:
        cp.requests.append(("Reset", request))
        await release.wait()
        return call_result.Reset(status="Accepted")

    answer_with(cp, "Reset", slow)
    loop = asyncio.get_running_loop()
    began = loop.time()
    response = await server.api.get("/API/Reset/CP1/Hard")
    waited = loop.time() - began
    assert (response.status_code, response.json()) == (200, {"status": "Timeout"})
    assert waited >= TIMEOUT
    assert cp.requests == [("Reset", {"type": "Hard"})]

    # The late answer is ignored, and the connection still carries the next command.
    release.set()
    assert (await server.api.get("/API/ClearCache/CP1")).json() == {"status": "Accepted"}
    assert await server.runtime.router.is_online("CP1")


@never_answered
async def test_a_remote_start_that_times_out(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    cp = await charger("CP1")
    never = asyncio.Event()

    async def silent(**request: Any) -> Any:
        await never.wait()

    answer_with(cp, "RemoteStartTransaction", silent)
    response = await server.api.get("/API/StartTransaction/CP1/1/TAG1")
    assert response.json() == {"status": "Timeout"}


@never_answered
async def test_a_remote_stop_that_times_out_still_names_the_transaction(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    cp = await charger("CP1")
    started = await cp.call(call.StartTransaction(1, "TAG1", 0, timestamp()))
    never = asyncio.Event()

    async def silent(**request: Any) -> Any:
        await never.wait()

    answer_with(cp, "RemoteStopTransaction", silent)
    response = await server.api.get("/API/StopTransaction/CP1/1")
    assert response.json() == {"status": "Timeout", "transactionId": started.transaction_id}
