"""The virtual charger against a real (if tiny) OCPP 1.6 central system."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from ocpp.v16 import call

from ocpp_core.simulators.chargepoint import (
    ConnectorStatus,
    Fleet,
    FleetSettings,
    VirtualCharger,
)
from unit.simulators.sim_csms import (
    CHARGER_ID,
    REFUSED_TAG,
    CentralSystem,
    booted_charger,
    energies,
    running_central_system,
    settings_for,
    start_remotely,
    within,
)


@pytest.fixture
async def cs() -> AsyncIterator[CentralSystem]:
    async with running_central_system() as central_system:
        yield central_system


async def test_boot_announces_the_charger_and_reports_every_connector(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        [boot] = cs.of("BootNotification")
        assert boot == {
            "charge_point_vendor": "ocpp-core",
            "charge_point_model": "Simulator",
            "charge_point_serial_number": "SN-SIM-0001",
            "firmware_version": "1.0.0-sim",
        }
        assert [(n["connector_id"], n["status"]) for n in cs.of("StatusNotification")] == [
            (0, "Available"),
            (1, "Available"),
            (2, "Available"),
        ]
        assert charger.config.number("HeartbeatInterval") == 123
        assert cs.authorization[CHARGER_ID] is None


async def test_pending_boot_is_retried_and_heartbeats_follow_the_interval(
    cs: CentralSystem,
) -> None:
    cs.boot_replies = ["Pending"]
    cs.heartbeat_interval = 1
    async with booted_charger(cs) as charger:
        actions = [action for _, action, _ in cs.messages]
        assert actions[:3] == ["BootNotification", "BootNotification", "StatusNotification"]
        assert charger.boot_count == 1
        await cs.wait_for_count("Heartbeat", 1)
        assert charger.config.number("HeartbeatInterval") == 1


async def test_basic_auth_uses_the_charger_id_as_user(cs: CentralSystem) -> None:
    async with booted_charger(cs, password="s3cret"):
        expected = base64.b64encode(b"SIM-0001:s3cret").decode()
        assert cs.authorization[CHARGER_ID] == f"Basic {expected}"


async def test_remote_start_charges_with_rising_meter_values(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        transaction_id = await start_remotely(cs, charger, connector_id=2)
        await cs.wait_for_count("MeterValues", 3)

        [start] = cs.of("StartTransaction")
        assert (start["connector_id"], start["id_tag"], start["meter_start"]) == (2, "TAG-1", 0)
        assert cs.statuses(2)[1:] == ["Preparing", "Charging"]
        assert charger.connectors[2].status is ConnectorStatus.CHARGING
        assert charger.connectors[1].status is ConnectorStatus.AVAILABLE
        readings = energies(cs)
        assert readings == sorted(readings)
        assert readings[-1] > readings[0] > 0

        message = cs.of("MeterValues")[-1]
        assert (message["connector_id"], message["transaction_id"]) == (2, transaction_id)
        sampled = message["meter_value"][0]["sampled_value"]
        assert {v["context"] for v in sampled} == {"Sample.Periodic"}
        by_key = {(v["measurand"], v.get("phase")): v for v in sampled}
        assert by_key[("Power.Active.Import", None)]["value"] == "11000"
        assert by_key[("Power.Active.Import", None)]["unit"] == "W"
        assert by_key[("Energy.Active.Import.Register", None)]["unit"] == "Wh"
        assert [by_key[("Current.Import", p)]["value"] for p in ("L1", "L2", "L3")] == ["15.9"] * 3
        soc = by_key[("SoC", None)]
        assert (soc["unit"], soc["location"]) == ("Percent", "EV")
        assert 20 < float(soc["value"]) <= 100


async def test_remote_start_picks_a_free_connector_and_rejects_a_busy_one(
    cs: CentralSystem,
) -> None:
    async with booted_charger(cs) as charger:
        await start_remotely(cs, charger, connector_id=1)
        busy = await cs.send(call.RemoteStartTransaction(id_tag="TAG-2", connector_id=1))
        assert busy.status == "Rejected"

        anywhere = await cs.send(call.RemoteStartTransaction(id_tag="TAG-3"))
        assert anywhere.status == "Accepted"
        assert await charger.plug_in(2)  # the charger waited for the car
        await within(charger.wait_for_status(2, ConnectorStatus.CHARGING))
        assert [s["connector_id"] for s in cs.of("StartTransaction")] == [1, 2]

        full = await cs.send(call.RemoteStartTransaction(id_tag="TAG-4"))
        assert full.status == "Rejected"


async def test_refused_id_tag_returns_the_connector_to_available(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        assert await charger.plug_in(1)
        result = await cs.send(call.RemoteStartTransaction(id_tag=REFUSED_TAG, connector_id=1))
        assert result.status == "Accepted"
        await cs.wait_for(lambda: cs.statuses(1)[-1:] == ["Available"] and len(cs.statuses(1)) > 1)
        assert cs.statuses(1) == ["Available", "Preparing", "Available"]
        assert charger.connectors[1].transaction is None


async def test_remote_stop_ends_the_session_and_frees_the_connector(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        transaction_id = await start_remotely(cs, charger, connector_id=1)
        unknown = await cs.send(call.RemoteStopTransaction(transaction_id=transaction_id + 1))
        assert unknown.status == "Rejected"

        result = await cs.send(call.RemoteStopTransaction(transaction_id=transaction_id))
        assert result.status == "Accepted"
        await within(charger.wait_for_status(1, ConnectorStatus.AVAILABLE))
        await cs.wait_for(lambda: cs.statuses(1)[-1] == "Available")

        [stop] = cs.of("StopTransaction")
        assert (stop["transaction_id"], stop["reason"], stop["id_tag"]) == (
            transaction_id,
            "Remote",
            "TAG-1",
        )
        assert stop["meter_stop"] >= max(energies(cs)) > 0
        [final] = stop["transaction_data"]
        assert {v["context"] for v in final["sampled_value"]} == {"Transaction.End"}
        assert cs.statuses(1)[-3:] == ["Charging", "Finishing", "Available"]


async def test_reconnects_and_reboots_after_the_server_drops_it(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        await cs.drop(CHARGER_ID)
        await within(charger.wait_for(lambda: charger.boot_count == 2))

        assert len(cs.of("BootNotification")) == 2
        assert cs.statuses(0) == ["Available", "Available"]
        assert charger.connected.is_set()


async def test_a_session_survives_a_reconnect(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        transaction_id = await start_remotely(cs, charger, connector_id=1)
        await cs.drop(CHARGER_ID)
        await within(charger.wait_for(lambda: charger.boot_count == 2))
        seen = len(cs.of("MeterValues"))
        await cs.wait_for_count("MeterValues", seen + 1)

        assert cs.statuses(1)[-1] == "Charging"
        assert cs.of("MeterValues")[-1]["transaction_id"] == transaction_id
        assert cs.of("StopTransaction") == []


async def test_a_session_ended_offline_is_reported_after_reconnecting(cs: CentralSystem) -> None:
    async with booted_charger(cs, backoff_initial=0.3, backoff_max=0.3) as charger:
        transaction_id = await start_remotely(cs, charger, connector_id=1)
        await cs.drop(CHARGER_ID)
        await within(charger.wait_for(lambda: not charger.connected.is_set()))
        await charger.unplug(1)
        assert cs.of("StopTransaction") == []

        await cs.wait_for_count("StopTransaction", 1)
        [stop] = cs.of("StopTransaction")
        assert (stop["transaction_id"], stop["reason"]) == (transaction_id, "EVDisconnected")
        actions = [action for _, action, _ in cs.messages]
        assert actions.count("BootNotification") == 2
        assert actions.index("StopTransaction") > actions.index("BootNotification", 1)


async def test_plugged_in_ev_is_preferred_and_unplugging_ends_the_session(
    cs: CentralSystem,
) -> None:
    async with booted_charger(cs) as charger:
        assert await charger.plug_in(2)
        await cs.wait_for(lambda: cs.statuses(2)[-1:] == ["Preparing"])
        result = await cs.send(call.RemoteStartTransaction(id_tag="TAG-1"))
        assert result.status == "Accepted"
        await within(charger.wait_for_status(2, ConnectorStatus.CHARGING))

        await charger.unplug(2)
        await cs.wait_for_count("StopTransaction", 1)
        assert cs.of("StopTransaction")[0]["reason"] == "EVDisconnected"
        await cs.wait_for(lambda: cs.statuses(2)[-1] == "Available")
        assert "Finishing" not in cs.statuses(2)


async def test_auto_start_authorizes_and_starts_on_connector_one(cs: CentralSystem) -> None:
    async with booted_charger(cs, auto_start="AUTO-TAG") as charger:
        await within(charger.wait_for_status(1, ConnectorStatus.CHARGING))
        assert cs.of("Authorize") == [{"id_tag": "AUTO-TAG"}]
        [start] = cs.of("StartTransaction")
        assert (start["connector_id"], start["id_tag"]) == (1, "AUTO-TAG")


async def test_stop_ends_running_sessions_cleanly(cs: CentralSystem) -> None:
    charger = VirtualCharger(settings_for(cs))
    async with charger:
        await within(charger.booted.wait())
        assert await charger.start_local(1, "TAG-1") is not None
    assert [s["reason"] for s in cs.of("StopTransaction")] == ["Local"]
    assert not charger.connected.is_set()


async def test_fifty_chargers_boot_at_once(cs: CentralSystem) -> None:
    settings = FleetSettings(url=cs.url, count=50, stagger=0.002)
    async with Fleet(settings) as fleet:
        await within(fleet.wait_booted(), 15)
        booted = {c for c, action, _ in cs.messages if action == "BootNotification"}
        assert booted == {f"SIM-{i:04d}" for i in range(1, 51)}
        assert all(c.booted.is_set() for c in fleet.chargers)
