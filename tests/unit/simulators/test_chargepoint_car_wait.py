"""A remote start with no car plugged in: the virtual charger waits for the car up to its
``ConnectionTimeOut``, as a real one does, under the connector's reservation if it has one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call

from ocpp_core.simulators.chargepoint import ConnectorStatus, VirtualCharger
from unit.simulators.sim_csms import CentralSystem, booted_charger, running_central_system, within

RESERVATION_ID = 7


@pytest.fixture
async def cs() -> AsyncIterator[CentralSystem]:
    async with running_central_system() as central_system:
        yield central_system


async def remote_start(cs: CentralSystem, connector_id: int = 1) -> None:
    result = await cs.send(call.RemoteStartTransaction(id_tag="TAG-1", connector_id=connector_id))
    assert result.status == "Accepted"


async def reserve(cs: CentralSystem, charger: VirtualCharger) -> None:
    expiry = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    result = await cs.send(
        call.ReserveNow(
            connector_id=1, expiry_date=expiry, id_tag="TAG-1", reservation_id=RESERVATION_ID
        )
    )
    assert result.status == "Accepted"
    await within(charger.wait_for_status(1, ConnectorStatus.RESERVED))


async def charging(cs: CentralSystem, connector_id: int) -> None:
    await cs.wait_for(lambda: cs.statuses(connector_id)[-1:] == ["Charging"])


async def gave_up(charger: VirtualCharger) -> None:
    """The start no longer holds the connector: another may claim it."""
    await within(charger.wait_for(lambda: not charger.connectors[1].starting))


async def test_a_remote_start_without_a_car_waits_for_it(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        await remote_start(cs)
        assert charger.connectors[1].starting  # held for this start, not yet started
        assert cs.of("StartTransaction") == []
        assert cs.statuses(1) == ["Available"]

        assert await charger.plug_in(1)

        await charging(cs, 1)
        [start] = cs.of("StartTransaction")
        assert (start["connector_id"], start["id_tag"], start.get("reservation_id")) == (
            1,
            "TAG-1",
            None,
        )
        assert cs.statuses(1) == ["Available", "Preparing", "Charging"]


async def test_no_car_within_the_connection_timeout_starts_nothing(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        changed = await cs.send(call.ChangeConfiguration(key="ConnectionTimeOut", value="1"))
        assert changed.status == "Accepted"
        await remote_start(cs)

        await gave_up(charger)

        assert charger.connectors[1].status is ConnectorStatus.AVAILABLE
        assert await charger.plug_in(1)  # too late: the car is there, the start is not
        await cs.wait_for(lambda: cs.statuses(1)[-1:] == ["Preparing"])
        assert cs.of("StartTransaction") == []
        assert charger.connectors[1].transaction is None


async def test_a_reserved_connector_starts_with_its_reservation_when_the_car_comes(
    cs: CentralSystem,
) -> None:
    async with booted_charger(cs) as charger:
        await reserve(cs, charger)
        await remote_start(cs)
        assert cs.of("StartTransaction") == []

        assert await charger.plug_in(1)

        await charging(cs, 1)
        [start] = cs.of("StartTransaction")
        assert start["reservation_id"] == RESERVATION_ID
        assert charger.connectors[1].reservation is None  # used
        assert cs.statuses(1) == ["Available", "Reserved", "Preparing", "Charging"]


async def test_a_start_that_gave_up_leaves_the_connector_reserved(cs: CentralSystem) -> None:
    async with booted_charger(cs) as charger:
        await cs.send(call.ChangeConfiguration(key="ConnectionTimeOut", value="1"))
        await reserve(cs, charger)
        await remote_start(cs)

        await gave_up(charger)

        assert charger.connectors[1].status is ConnectorStatus.RESERVED
        assert charger.connectors[1].reservation is not None
        assert await charger.plug_in(1)
        await charger.unplug(1)  # a car that came and went leaves the reservation standing
        await cs.wait_for(lambda: cs.statuses(1)[-2:] == ["Preparing", "Reserved"])
        assert cs.of("StartTransaction") == []


async def test_the_simulated_driver_plugs_the_car_in_after_a_remote_start(
    cs: CentralSystem,
) -> None:
    async with booted_charger(cs, plug_in_after=0.0):
        await remote_start(cs, connector_id=2)

        await charging(cs, 2)
        assert cs.statuses(2) == ["Available", "Preparing", "Charging"]


async def test_the_charger_lists_every_feature_profile_it_handles(cs: CentralSystem) -> None:
    async with booted_charger(cs):
        result = await cs.send(call.GetConfiguration(key=["SupportedFeatureProfiles"]))
        [entry] = result.configuration_key
        assert set(entry["value"].split(",")) == {
            "Core",
            "FirmwareManagement",
            "LocalAuthListManagement",
            "Reservation",
            "SmartCharging",
            "RemoteTrigger",
        }
        assert entry["readonly"] is True
