"""The message log keeps whole exchanges, one row each, bounded in size, whichever side called."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from ocpp.exceptions import GenericError, TypeConstraintViolationError
from ocpp.v16 import call, call_result
from sqlalchemy import select

from builders import add_charge_point, add_tag, timestamp
from integration.server.test_api_command_failures import answer_with, never_answered
from ocpp_core.config import OcppSettings
from ocpp_core.db.models import MessageLogEntry
from servers import ConnectCharger, RunningServer
from stripe_harness import eventually

MAX_BYTES = 4096


@pytest.fixture
def ocpp_settings(command_timeout: float) -> OcppSettings:
    return OcppSettings(
        command_timeout=command_timeout,
        keepalive_interval=5,
        keepalive_timeout=5,
        message_log_max_bytes=MAX_BYTES,
    )


async def rows(server: RunningServer, count: int) -> list[MessageLogEntry]:
    """The log's rows in the order written, once there are ``count``."""

    async def read() -> list[MessageLogEntry]:
        async with server.runtime.db.session() as session:
            return list(await session.scalars(select(MessageLogEntry).order_by(MessageLogEntry.id)))

    async def written() -> bool:
        return len(await read()) >= count

    await eventually(written)
    return await read()


def loaded(text: str | None) -> Any:
    assert text is not None
    return json.loads(text)


async def test_a_chargers_calls_are_kept_with_our_answers(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    cp = await charger("CP1")
    await cp.call(call.Authorize("TAG1"))
    bad = call.StatusNotification(1, "NoError", "Available", info="x" * 60)  # info: 50 at most
    await cp.call(bad, skip_schema_validation=True)

    authorize, status = await rows(server, 2)

    assert (authorize.direction, authorize.action, authorize.error_code) == (
        "in",
        "Authorize",
        None,
    )
    assert loaded(authorize.payload) == {"idTag": "TAG1"}
    assert loaded(authorize.answer)["idTagInfo"]["status"] == "Accepted"
    assert (status.action, status.error_code) == ("StatusNotification", "TypeConstraintViolation")
    assert status.connector_id == 1
    assert "info" in loaded(status.answer)["errorDescription"]


async def test_our_commands_are_kept_with_the_chargers_answers(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")

    def refuse(**request: Any) -> Any:
        raise GenericError(description="not on this model", details={"model": "X"})

    def nonsense(**request: Any) -> Any:
        return call_result.Reset(status="Maybe")

    assert (await server.api.get("/API/UnlockConnector/CP1/2")).json()["status"] == "Unlocked"
    answer_with(cp, "UnlockConnector", refuse)
    await server.api.get("/API/UnlockConnector/CP1/1")
    answer_with(cp, "Reset", nonsense, validate=False)
    await server.api.get("/API/Reset/CP1")

    unlocked, refused, broken = await rows(server, 3)

    assert (unlocked.direction, unlocked.action, unlocked.connector_id) == (
        "out",
        "UnlockConnector",
        2,
    )
    assert loaded(unlocked.payload) == {"connectorId": 2}
    assert loaded(unlocked.answer) == {"status": "Unlocked"}
    assert unlocked.error_code is None
    assert refused.error_code == "GenericError"
    assert loaded(refused.answer) == {
        "errorDescription": "not on this model",
        "errorDetails": {"model": "X"},
    }
    assert broken.error_code == "PropertyConstraintViolation"
    assert loaded(broken.answer) == {"status": "Maybe"}  # what the charger said


@never_answered
async def test_a_command_never_answered_is_kept_as_timed_out(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    never = asyncio.Event()

    async def silent(**request: Any) -> Any:
        await never.wait()

    answer_with(cp, "Reset", silent)
    before = server.runtime.clock()
    assert (await server.api.get("/API/Reset/CP1/Hard")).json() == {"status": "Timeout"}

    [reset] = await rows(server, 1)
    assert (reset.action, reset.error_code, reset.answer) == ("Reset", "Timeout", None)
    assert loaded(reset.payload) == {"type": "Hard"}
    assert before <= reset.logged_at < server.runtime.clock()  # when it was sent


async def test_huge_messages_and_errors_are_kept_cut_to_the_configured_size(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    huge = "x" * 200_000

    def refuse(**request: Any) -> Any:
        raise GenericError(description="dump follows", details={"dump": huge})

    answer_with(cp, "ClearCache", refuse)
    await server.api.get("/API/ClearCache/CP1")
    bad = call.StatusNotification(1, "NoError", "Available", timestamp(), info=huge)
    await cp.call(bad, skip_schema_validation=True)

    refused, rejected = await rows(server, 2)

    for kept in (refused.answer, rejected.payload):
        assert kept is not None
        assert len(kept.encode()) <= MAX_BYTES
        assert "…[truncated, " in kept
    assert rejected.error_code == "TypeConstraintViolation"


async def test_a_meter_values_row_is_stored_with_its_readings_before_the_answer(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")

    def meter(connector_id: int, value: str) -> call.MeterValues:
        sampled = [{"value": value, "unit": "Wh"}]
        return call.MeterValues(connector_id, [{"timestamp": timestamp(), "sampledValue": sampled}])

    await cp.call(meter(1, "1500"))
    await cp.call(meter(0, "90000"))  # the charger's main meter: no connector, still logged
    async with server.runtime.db.session() as session:  # answered, so already written
        stored = list(await session.scalars(select(MessageLogEntry).order_by(MessageLogEntry.id)))
    assert [(row.action, row.connector_id, loaded(row.answer)) for row in stored] == [
        ("MeterValues", 1, {}),
        ("MeterValues", 0, {}),
    ]
    assert loaded(stored[0].payload)["meterValue"][0]["sampledValue"][0]["value"] == "1500"

    with pytest.raises(TypeConstraintViolationError):
        await cp.call(meter(1, "lots"), suppress=False)
    *_, rejected = await rows(server, 3)
    assert (rejected.action, rejected.error_code) == ("MeterValues", "TypeConstraintViolation")
