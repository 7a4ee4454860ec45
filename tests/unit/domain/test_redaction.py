"""Every known secret, in every shape a message carries it, and nothing else."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ocpp_core.domain.redaction import HIDDEN, payload_may_hold_secret, redact, redact_text

PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBk\n-----END EC PRIVATE KEY-----"
PASSWORD = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "1.6 ChangeConfiguration",
        {"key": "AuthorizationKey", "value": "s"},
        {"key": "AuthorizationKey", "value": HIDDEN},
    ),
    (
        "1.6 key in another case",
        {"key": "authorizationkey", "value": "s"},
        {"key": "authorizationkey", "value": HIDDEN},
    ),
    (
        "1.6 GetConfiguration answer",
        {
            "configurationKey": [
                {"key": "AuthorizationKey", "readonly": False, "value": "s"},
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            ]
        },
        {
            "configurationKey": [
                {"key": "AuthorizationKey", "readonly": False, "value": HIDDEN},
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            ]
        },
    ),
    (
        "2.0.1 SetVariables",
        {"setVariableData": [{"attributeValue": "s", **PASSWORD}]},
        {"setVariableData": [{"attributeValue": HIDDEN, **PASSWORD}]},
    ),
    (
        "2.0.1 GetVariables answer, another variable kept",
        {
            "getVariableResult": [
                {"attributeStatus": "Accepted", "attributeValue": "s", **PASSWORD},
                {"attributeStatus": "Accepted", "attributeValue": "300", **HEARTBEAT},
            ]
        },
        {
            "getVariableResult": [
                {"attributeStatus": "Accepted", "attributeValue": HIDDEN, **PASSWORD},
                {"attributeStatus": "Accepted", "attributeValue": "300", **HEARTBEAT},
            ]
        },
    ),
    (
        "2.0.1 NotifyReport",
        {"reportData": [{**PASSWORD, "variableAttribute": [{"value": "s"}, {"type": "Target"}]}]},
        {
            "reportData": [
                {**PASSWORD, "variableAttribute": [{"value": HIDDEN}, {"type": "Target"}]}
            ]
        },
    ),
    (
        "2.0.1 NotifyEvent",
        {"eventData": [{"actualValue": "s", "trigger": "Delta", **PASSWORD}]},
        {"eventData": [{"actualValue": HIDDEN, "trigger": "Delta", **PASSWORD}]},
    ),
    (
        "2.0.1 SetNetworkProfile",
        {
            "connectionData": {
                "apn": {"apn": "web", "apnPassword": "s", "simPin": 1234},
                "vpn": {"server": "v", "user": "u", "password": "s", "key": "k", "type": "IPSec"},
            }
        },
        {
            "connectionData": {
                "apn": {"apn": "web", "apnPassword": HIDDEN, "simPin": HIDDEN},
                "vpn": {"server": "v", "user": "u", "password": HIDDEN, "key": HIDDEN}
                | {"type": "IPSec"},
            }
        },
    ),
    (
        "a private key anywhere",
        {"vendorId": "x", "data": f"cert and key:\n{PEM}\nend"},
        {"vendorId": "x", "data": f"cert and key:\n{HIDDEN}\nend"},
    ),
]


@pytest.mark.parametrize(("payload", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_secrets_are_hidden(payload: dict[str, Any], expected: dict[str, Any]) -> None:
    assert payload_may_hold_secret(payload, orjson.dumps(payload))
    assert redact(payload) == expected


def test_the_payload_given_is_left_as_it_was() -> None:
    payload = {"key": "AuthorizationKey", "value": "s"}
    redact(payload)
    assert payload == {"key": "AuthorizationKey", "value": "s"}


def test_ordinary_messages_are_neither_suspected_nor_changed() -> None:
    meter = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "t", "sampledValue": [{"value": "10", "unit": "Wh"}]}],
    }
    assert not payload_may_hold_secret(meter, orjson.dumps(meter))
    assert redact(meter) == meter
    assert redact({"key": "HeartbeatInterval", "value": "60"})["value"] == "60"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET /API/ChangeConfiguration/CP1/AuthorizationKey/abc HTTP/1.1",
            f"GET /API/ChangeConfiguration/CP1/AuthorizationKey/{HIDDEN} HTTP/1.1",
        ),
        (
            "/API/SetVariables/CP%2F1/SecurityCtrlr/BasicAuthPassword/p%40ss?evse=1",
            f"/API/SetVariables/CP%2F1/SecurityCtrlr/BasicAuthPassword/{HIDDEN}?evse=1",
        ),
        (
            "/API/ChangeConfiguration/CP1/HeartbeatInterval/60",
            "/API/ChangeConfiguration/CP1/HeartbeatInterval/60",
        ),
        (f"key: {PEM[:40]}", f"key: {HIDDEN}"),  # cut short, still hidden
    ],
)
def test_log_lines_lose_their_secrets(text: str, expected: str) -> None:
    assert redact_text(text) == expected
