"""The compiled OCA schemas: which CALLERROR code each kind of violation gets."""

from __future__ import annotations

from typing import Any

import pytest

from ocpp_core.ocpp.framing import ErrorCode, FrameError
from ocpp_core.ocpp.schemas import SchemaSet, check

V16 = SchemaSet("v16")
V201 = SchemaSet("v201", request_suffix="Request")


def status(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def meter_values(**changes: Any) -> dict[str, Any]:
    sample = {"timestamp": "2026-11-28T12:00:00Z", "sampledValue": [{"value": "1"}]}
    payload: dict[str, Any] = {"connectorId": 1, "meterValue": [sample]}
    payload.update(changes)
    return payload


def violation(action: str, payload: dict[str, Any], schemas: SchemaSet = V16) -> ErrorCode:
    validator = schemas.request(action)
    assert validator is not None
    with pytest.raises(FrameError) as error:
        check(validator, payload, "id-7")
    assert error.value.unique_id == "id-7"
    assert error.value.description  # says which field
    return error.value.code


def test_a_valid_payload_passes() -> None:
    validator = V16.request("StatusNotification")
    assert validator is not None
    check(validator, status(timestamp="2026-11-28T12:00:00Z", info="fine"), "id")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (status(connectorId="1"), ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        (status(connectorId=1.0), ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        (status(connectorId=True), ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        (status(connectorId=None), ErrorCode.PROTOCOL_ERROR),
        (status(info="x" * 51), ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        (status(timestamp="28.11.2026 12:00"), ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        (status(extra=1), ErrorCode.FORMAT_VIOLATION),
        (status(status="Sleeping"), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        (status(connectorId=2**31), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        (status(connectorId=-(2**31) - 1), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    ],
    ids=[
        "type",
        "float-integer",
        "boolean-integer",
        "required",
        "max-length",
        "format",
        "additional-property",
        "enum",
        "int32-max",
        "int32-min",
    ],
)
def test_each_violated_rule_maps_to_its_code(payload: dict[str, Any], code: ErrorCode) -> None:
    assert violation("StatusNotification", payload) == code


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"measurand": "Voltage"}, "['value']"),
        ({"value": "1", "measurand": "Voltage"}, None),
    ],
    ids=["missing", "present"],
)
def test_a_required_property_of_a_nested_object_is_named(
    values: dict[str, Any], missing: str | None
) -> None:
    """Presence is tested first (see schemas._present_first), the message is the same."""
    payload = meter_values(
        meterValue=[{"timestamp": "2026-11-28T12:00:00Z", "sampledValue": [{"value": "2"}, values]}]
    )
    validator = V16.request("MeterValues")
    assert validator is not None
    if missing is None:
        check(validator, payload, "id")
        return
    with pytest.raises(FrameError) as error:
        check(validator, payload, "id")
    assert error.value.code == ErrorCode.PROTOCOL_ERROR
    assert error.value.description == (
        f"data.meterValue[0].sampledValue[1] must contain {missing} properties"
    )


def test_too_few_items_is_an_occurrence_violation() -> None:
    assert violation("MeterValues", meter_values(meterValue=[])) == (
        ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
    )


def test_registers_get_64_bits_and_ids_32() -> None:
    validator = V16.request("StartTransaction")
    assert validator is not None
    start = {
        "connectorId": 1,
        "idTag": "T",
        "meterStart": 2**40,
        "timestamp": "2026-11-28T12:00:00Z",
    }
    check(validator, start, "id")
    assert violation("StartTransaction", {**start, "meterStart": 2**63}) == (
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    )
    assert violation("StartTransaction", {**start, "connectorId": 2**31}) == (
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    )


def test_2_0_1_numbers_we_store_are_bounded_to_32_bits() -> None:
    event = {
        "eventType": "Started",
        "timestamp": "2026-11-28T12:00:00Z",
        "triggerReason": "RemoteStart",
        "seqNo": 2**31 - 1,
        "transactionInfo": {"transactionId": "t1", "remoteStartId": 2**31 - 1},
        "evse": {"id": 1, "connectorId": 1},
    }
    validator = V201.request("TransactionEvent")
    assert validator is not None
    check(validator, event, "id")
    assert violation("TransactionEvent", {**event, "seqNo": 2**31}, V201) == (
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    )
    info = {"transactionId": "t1", "remoteStartId": 2**31}
    assert violation("TransactionEvent", {**event, "transactionInfo": info}, V201) == (
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    )
    report = {"requestId": 2**31, "generatedAt": "2026-11-28T12:00:00Z", "seqNo": 0}
    assert violation("NotifyReport", report, V201) == ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


def test_charging_rates_are_not_held_to_multiple_of() -> None:
    validator = V16.request("SetChargingProfile")
    assert validator is not None
    profile = {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
            },
        },
    }
    check(validator, profile, "id")


def test_known_actions_and_responses() -> None:
    assert V16.knows("Heartbeat")
    assert V16.knows("Reset")
    assert V16.response("Heartbeat") is not None
    assert V16.request("Heartbeat") is V16.request("Heartbeat")  # compiled once
    assert V201.knows("Heartbeat")
    assert not V201.knows("HeartbeatRequest")


@pytest.mark.parametrize(
    "action",
    ["FooBar", "heartbeat", "HeartbeatResponse", "../schemas/Heartbeat", "v16/Heartbeat", ""],
)
def test_only_shipped_action_names_are_known(action: str) -> None:
    assert not V16.knows(action)
    assert V16.response(action) is None
