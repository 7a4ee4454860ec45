"""Whether a charger takes reservations, as each version asks it (within its schemas) and
reads the answer: 1.6 by its feature profiles, 2.0.1 by its reservation controller."""

from __future__ import annotations

from typing import Any

import pytest

from ocpp_core.config import OcppSettings
from ocpp_core.domain.commands import ReadReservationSupport
from ocpp_core.ocpp import v16, v201
from ocpp_core.ocpp.adapter import ProtocolAdapter
from ocpp_core.ocpp.schemas import check

ASK = ReadReservationSupport()


@pytest.mark.parametrize(
    "adapter", [v16.ADAPTER, v201.ADAPTER, v201.ADAPTER_21], ids=lambda a: a.subprotocol
)
def test_each_version_asks_within_its_schema(adapter: ProtocolAdapter) -> None:
    action, payload = adapter.encode(ASK, OcppSettings())
    validator = adapter.schemas.request(action)
    assert validator is not None
    check(validator, payload, "m1")


def test_16_asks_for_the_feature_profiles() -> None:
    assert v16.ADAPTER.encode(ASK, OcppSettings()) == (
        "GetConfiguration",
        {"key": ["SupportedFeatureProfiles"]},
    )


def _profiles(value: str | None) -> dict[str, Any]:
    key: dict[str, Any] = {"key": "SupportedFeatureProfiles", "readonly": True}
    if value is not None:
        key["value"] = value
    return {"configurationKey": [key]}


@pytest.mark.parametrize(
    ("answer", "takes"),
    [
        (_profiles("Core,Reservation"), "true"),
        (_profiles("Core, Reservation "), "true"),
        (_profiles("Core,SmartCharging"), "false"),
        (_profiles(None), "false"),
        ({"unknownKey": ["SupportedFeatureProfiles"]}, "false"),
    ],
    ids=["listed", "spaced", "not-listed", "no-value", "unknown-key"],
)
def test_16_reads_the_reservation_profile(answer: dict[str, Any], takes: str) -> None:
    assert v16.ADAPTER.status_of(ASK, answer) == takes


def _read(name: str, value: str | None, status: str = "Accepted") -> dict[str, Any]:
    result: dict[str, Any] = {
        "attributeStatus": status,
        "component": {"name": "ReservationCtrlr"},
        "variable": {"name": name},
    }
    if value is not None:
        result["attributeValue"] = value
    return result


def test_201_asks_for_the_reservation_controller() -> None:
    action, payload = v201.ADAPTER.encode(ASK, OcppSettings())
    assert action == "GetVariables"
    asked = [(d["component"]["name"], d["variable"]["name"]) for d in payload["getVariableData"]]
    assert asked == [("ReservationCtrlr", "Available"), ("ReservationCtrlr", "Enabled")]


@pytest.mark.parametrize(
    ("results", "takes"),
    [
        ([_read("Available", "true"), _read("Enabled", "true")], "true"),
        ([_read("Available", "TRUE"), _read("Enabled", "True")], "true"),
        ([_read("Available", None, "UnknownVariable"), _read("Enabled", "true")], "true"),
        ([_read("Available", "false"), _read("Enabled", "true")], "false"),
        ([_read("Available", "true"), _read("Enabled", "false")], "false"),
        ([_read("Available", "true"), _read("Enabled", None, "UnknownComponent")], "false"),
        ([], "false"),
    ],
    ids=["both", "any-case", "enabled-only", "absent", "disabled", "enabled-unknown", "none"],
)
def test_201_reads_an_enabled_controller(results: list[dict[str, Any]], takes: str) -> None:
    assert v201.ADAPTER.status_of(ASK, {"getVariableResult": results}) == takes
