"""How the virtual charger answers the central system's other 1.6 requests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ocpp.v16 import call

from ocpp_core.simulators.chargepoint import ConnectorStatus
from unit.simulators.sim_csms import (
    CHARGER_ID,
    CentralSystem,
    booted_charger,
    running_central_system,
    start_remotely,
    within,
)


@pytest.fixture
async def cs() -> AsyncIterator[CentralSystem]:
    async with running_central_system() as central_system:
        yield central_system


async def test_get_configuration_reports_known_and_unknown_keys(cs: CentralSystem) -> None:
    async with booted_charger(cs, connectors=3):
        result = await cs.send(call.GetConfiguration(key=["NumberOfConnectors", "Nope"]))
        assert result.configuration_key == [
            {"key": "NumberOfConnectors", "readonly": True, "value": "3"}
        ]
        assert result.unknown_key == ["Nope"]

        everything = await cs.send(call.GetConfiguration())
        keys = {entry["key"] for entry in everything.configuration_key}
        assert {
            "HeartbeatInterval",
            "MeterValueSampleInterval",
            "AuthorizeRemoteTxRequests",
        } <= keys


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("MeterValueSampleInterval", "30", "Accepted"),
        ("HeartbeatInterval", "soon", "Rejected"),
        ("NumberOfConnectors", "4", "Rejected"),
        ("NoSuchKey", "1", "NotSupported"),
    ],
)
async def test_change_configuration(cs: CentralSystem, key: str, value: str, status: str) -> None:
    async with booted_charger(cs) as charger:
        result = await cs.send(call.ChangeConfiguration(key=key, value=value))
        assert result.status == status
        known, _ = charger.config.lookup([key])
        assert (key in known and known[key].value == value) is (status == "Accepted")


async def test_authorize_remote_tx_requests_is_honoured(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        await cs.send(call.ChangeConfiguration(key="AuthorizeRemoteTxRequests", value="true"))
        await start_remotely(cs, charger, connector_id=1, id_tag="TAG-9")
        assert cs.of("Authorize") == [{"id_tag": "TAG-9"}]
        assert charger.connectors[1].status is ConnectorStatus.CHARGING


async def test_trigger_message_sends_what_was_asked(cs: CentralSystem) -> None:
    async with booted_charger(cs):
        for message in ("StatusNotification", "Heartbeat", "BootNotification", "MeterValues"):
            before = len(cs.of(message))
            result = await cs.send(call.TriggerMessage(requested_message=message, connector_id=1))
            assert result.status == "Accepted"
            await cs.wait_for_count(message, before + 1)
        [sample] = cs.of("MeterValues")[0]["meter_value"]
        assert {v["context"] for v in sample["sampled_value"]} == {"Trigger"}

        for message in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
            result = await cs.send(call.TriggerMessage(requested_message=message))
            assert result.status == "Accepted"
            await cs.wait_for_count(message, 1)
            assert cs.of(message) == [{"status": "Idle"}]  # nothing in progress
        wrong_connector = call.TriggerMessage(requested_message="Heartbeat", connector_id=9)
        assert (await cs.send(wrong_connector)).status == "Rejected"


async def test_reset_stops_the_session_and_reboots(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        await start_remotely(cs, charger, connector_id=1)
        result = await cs.send(call.Reset(type="Hard"))
        assert result.status == "Accepted"
        await within(charger.wait_for(lambda: charger.boot_count == 2))

        assert [s["reason"] for s in cs.of("StopTransaction")] == ["HardReset"]
        assert cs.statuses(1)[-1] == "Available"
        assert len(cs.of("BootNotification")) == 2


async def test_change_availability_takes_connectors_out_and_back(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        result = await cs.send(call.ChangeAvailability(connector_id=0, type="Inoperative"))
        assert result.status == "Accepted"
        await cs.wait_for(lambda: cs.statuses(2)[-1] == "Unavailable")
        assert [cs.statuses(n)[-1] for n in (0, 1, 2)] == ["Unavailable"] * 3
        refused = await cs.send(call.RemoteStartTransaction(id_tag="TAG-1"))
        assert refused.status == "Rejected"

        await cs.send(call.ChangeAvailability(connector_id=0, type="Operative"))
        await within(charger.wait_for_status(2, ConnectorStatus.AVAILABLE))
        await cs.wait_for(lambda: cs.statuses(2)[-1] == "Available")
        unknown = await cs.send(call.ChangeAvailability(connector_id=7, type="Operative"))
        assert unknown.status == "Rejected"


async def test_change_availability_waits_for_a_running_session(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        transaction_id = await start_remotely(cs, charger, connector_id=1)
        result = await cs.send(call.ChangeAvailability(connector_id=1, type="Inoperative"))
        assert result.status == "Scheduled"
        assert charger.connectors[1].status is ConnectorStatus.CHARGING

        await cs.send(call.RemoteStopTransaction(transaction_id=transaction_id))
        await within(charger.wait_for_status(1, ConnectorStatus.UNAVAILABLE))


async def test_unlock_connector_ends_a_session(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        await start_remotely(cs, charger, connector_id=2)
        assert (await cs.send(call.UnlockConnector(connector_id=2))).status == "Unlocked"
        await within(charger.wait_for_status(2, ConnectorStatus.AVAILABLE))
        assert [s["reason"] for s in cs.of("StopTransaction")] == ["UnlockCommand"]
        assert (await cs.send(call.UnlockConnector(connector_id=5))).status == "NotSupported"


async def test_profiles_cache_and_data_transfer(cs: CentralSystem) -> None:
    profile = {
        "chargingProfileId": 7,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}],
        },
    }
    async with booted_charger(cs):
        set_profile = call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile)
        assert (await cs.send(set_profile)).status == "Accepted"
        assert (await cs.send(call.ClearChargingProfile(id=7))).status == "Accepted"
        assert (await cs.send(call.ClearChargingProfile(id=7))).status == "Unknown"
        assert (await cs.send(call.ClearCache())).status == "Accepted"
        transfer = call.DataTransfer(vendor_id="com.example", data="hi")
        assert (await cs.send(transfer, CHARGER_ID)).status == "UnknownVendorId"
