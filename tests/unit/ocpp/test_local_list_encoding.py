"""The local-list commands as each version spells them, checked against that version's
schemas (1.6, 2.0.1 and 2.1), and the values read back from the answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ocpp_core.config import OcppSettings
from ocpp_core.domain import commands
from ocpp_core.ocpp import v16, v201
from ocpp_core.ocpp.adapter import ProtocolAdapter
from ocpp_core.ocpp.schemas import check

ENTRIES = (
    commands.ListEntry("A", "Accepted", datetime(2030, 1, 1, tzinfo=UTC), "FLEET"),
    commands.ListEntry("B", "Blocked"),
    commands.ListEntry("C", None),
)
ADAPTERS = [v16.ADAPTER, v201.ADAPTER, v201.ADAPTER_21]


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.subprotocol)
@pytest.mark.parametrize(
    "command",
    [
        commands.SendLocalList(3, True, ENTRIES),
        commands.SendLocalList(1, True),
        commands.SendLocalList(4, False, ENTRIES[2:]),
        commands.GetLocalListVersion(),
        commands.ReadSetting("LocalAuthListMaxLength"),
    ],
    ids=["full", "empty", "differential", "version", "setting"],
)
def test_each_version_spells_them_within_its_schema(
    adapter: ProtocolAdapter, command: commands.Command
) -> None:
    action, payload = adapter.encode(command, OcppSettings())
    validator = adapter.schemas.request(action)
    assert validator is not None
    check(validator, payload, "m1")


def test_the_16_list_entries() -> None:
    _, payload = v16.ADAPTER.encode(commands.SendLocalList(3, True, ENTRIES), OcppSettings())
    assert payload == {
        "listVersion": 3,
        "updateType": "Full",
        "localAuthorizationList": [
            {
                "idTag": "A",
                "idTagInfo": {
                    "status": "Accepted",
                    "expiryDate": "2030-01-01T00:00:00.000Z",
                    "parentIdTag": "FLEET",
                },
            },
            {"idTag": "B", "idTagInfo": {"status": "Blocked"}},
            {"idTag": "C"},
        ],
    }


def test_the_201_list_entries() -> None:
    _, payload = v201.ADAPTER.encode(commands.SendLocalList(4, False, ENTRIES), OcppSettings())
    assert payload["updateType"] == "Differential"
    assert payload["versionNumber"] == 4
    assert payload["localAuthorizationList"][0] == {
        "idToken": {"idToken": "A", "type": "ISO14443"},
        "idTokenInfo": {
            "status": "Accepted",
            "cacheExpiryDateTime": "2030-01-01T00:00:00.000Z",
            "groupIdToken": {"idToken": "FLEET", "type": "Central"},
        },
    }
    assert payload["localAuthorizationList"][2] == {"idToken": {"idToken": "C", "type": "ISO14443"}}


def test_the_values_read_from_the_answers() -> None:
    version, setting = commands.GetLocalListVersion(), commands.ReadSetting("LocalAuthListEnabled")
    assert v16.ADAPTER.status_of(version, {"listVersion": 7}) == "7"
    assert v201.ADAPTER.status_of(version, {"versionNumber": 7}) == "7"
    keys = {
        "configurationKey": [{"key": "LocalAuthListEnabled", "readonly": False, "value": "true"}]
    }
    assert v16.ADAPTER.status_of(setting, keys) == "true"
    assert v16.ADAPTER.status_of(setting, {"unknownKey": ["LocalAuthListEnabled"]}) is None
    read = {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "false"}]}
    assert v201.ADAPTER.status_of(setting, read) == "false"
    unknown = {"getVariableResult": [{"attributeStatus": "UnknownVariable"}]}
    assert v201.ADAPTER.status_of(setting, unknown) is None
