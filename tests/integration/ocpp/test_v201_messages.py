"""OCPP 2.0.1 messages from the charger (the ``ocpp`` library's v201 ChargePoint), persisted."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from ocpp.messages import MessageType, get_validator
from ocpp.v201 import call
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from builders import NOW, add_charge_point, add_tag, timestamp
from events201 import energy, status, transaction_event
from ocpp_core.db.models import ChargePoint, Connector, EvseConnector, MessageLogEntry, Transaction
from servers import ConnectCharger201, RunningServer


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


async def test_boot_is_accepted_and_stored_with_its_protocol(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger201("CP2")
    station = {
        "vendor_name": "ACME",
        "model": "Wallbox 22",
        "serial_number": "SN-7",
        "firmware_version": "2.0.0",
        "modem": {"iccid": "8931", "imsi": "2620"},
    }
    answer = await cp.call(call.BootNotification(station, "PowerUp"))
    assert answer.status == "Accepted"
    assert answer.interval == server.runtime.settings.ocpp.heartbeat_interval
    assert answer.current_time.endswith("Z")
    heartbeat = await cp.call(call.Heartbeat())
    assert heartbeat.current_time.endswith("Z")
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP2")
    assert row is not None
    assert (row.vendor, row.model, row.serial_number, row.firmware_version) == (
        "ACME",
        "Wallbox 22",
        "SN-7",
        "2.0.0",
    )
    assert (row.iccid, row.imsi, row.protocol) == ("8931", "2620", "ocpp2.0.1")
    assert await server.runtime.router.online() == [("CP2", "ocpp2.0.1")]


async def test_an_evse_is_as_busy_as_its_busiest_plug(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger201("CP2")
    await status(cp, 1, 1, "Available", NOW)
    await status(cp, 1, 2, "Occupied", NOW + minutes(1))
    await status(cp, 2, 1, "Faulted", NOW)
    await status(cp, 0, 0, "Available", NOW)  # the station itself: not a position
    async with server.runtime.db.session() as session:
        evses = (await session.scalars(select(Connector).order_by(Connector.connector_id))).all()
        plugs = (
            await session.scalars(
                select(EvseConnector).order_by(EvseConnector.evse_id, EvseConnector.connector_id)
            )
        ).all()
    assert [(r.connector_id, r.status, r.status_at) for r in evses] == [
        (1, "Preparing", NOW + minutes(1)),
        (2, "Faulted", NOW),
    ]
    assert [(p.evse_id, p.connector_id, p.status) for p in plugs] == [
        (1, 1, "Available"),
        (1, 2, "Occupied"),
        (2, 1, "Faulted"),
    ]
    await status(cp, 1, 2, "Available", NOW + minutes(2))
    async with server.runtime.db.session() as session:
        evse = await session.get(Connector, ("CP2", 1))
    assert evse is not None
    assert evse.status == "Available"


async def test_authorize_follows_the_tag_rules(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP2")
    await add_tag(db, "GOOD", parent="FLEET")
    await add_tag(db, "LOCKED", blocked=True)
    cp = await charger201("CP2")
    results = {}
    for tag in ("GOOD", "LOCKED", "UNKNOWN"):
        token = {"id_token": tag, "type": "ISO14443"}
        results[tag] = (await cp.call(call.Authorize(token))).id_token_info
    assert results["GOOD"] == {
        "status": "Accepted",
        "group_id_token": {"id_token": "FLEET", "type": "Central"},
    }
    assert results["LOCKED"] == {"status": "Blocked"}
    assert results["UNKNOWN"] == {"status": "Invalid"}


async def test_a_session_started_updated_and_ended(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP2")
    await add_tag(db, "TAG1")
    cp = await charger201("CP2")
    started = await transaction_event(
        cp,
        "Started",
        "tx-a1",
        0,
        NOW,
        trigger="Authorized",
        evse=2,
        tag="TAG1",
        meter=[energy(1_000, NOW, "Transaction.Begin")],
        charging_state="Charging",
    )
    assert started.id_token_info == {"status": "Accepted"}
    # Wh with multiplier 3: the register in kWh, as some meters send it.
    in_kwh = {
        "timestamp": timestamp(NOW + minutes(30)),
        "sampled_value": [
            {"value": 6.5, "unit_of_measure": {"unit": "Wh", "multiplier": 3}},
            {"value": 11, "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "kW"}},
        ],
    }
    updated = await transaction_event(
        cp, "Updated", "tx-a1", 1, NOW + minutes(30), trigger="MeterValuePeriodic", meter=[in_kwh]
    )
    assert updated.id_token_info is None
    ended = await transaction_event(
        cp,
        "Ended",
        "tx-a1",
        2,
        NOW + minutes(60),
        trigger="EVCommunicationLost",
        tag="TAG1",
        meter=[energy(11_500, NOW + minutes(60), "Transaction.End")],
        stopped_reason="EVDisconnected",
    )
    assert ended.id_token_info == {"status": "Accepted"}
    async with db.session() as session:
        tx = await session.scalar(select(Transaction).where(Transaction.uid == "tx-a1"))
        evse = await session.get(Connector, ("CP2", 2))
    assert tx is not None
    assert evse is not None
    assert (tx.connector_id, tx.start_tag, tx.start_at, tx.stop_at) == (
        2,
        "TAG1",
        NOW,
        NOW + minutes(60),
    )
    assert (tx.meter_start_wh, tx.last_meter_wh, tx.meter_stop_wh, tx.energy_wh) == (
        1_000,
        11_500,
        11_500,
        10_500,
    )
    assert (tx.stop_reason, tx.review_reason, tx.seq_no, tx.seq_gaps) == (
        "EVDisconnected",
        None,
        2,
        0,
    )
    assert (evse.power_w, evse.meter_wh) == (11_000, 11_500)


async def test_offline_events_with_gaps_and_a_late_tag(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    """Started at plug-in without a tag; events queued offline arrive with numbers missing."""
    db = server.runtime.db
    await add_charge_point(db, "CP2")
    await add_tag(db, "TAG1")
    cp = await charger201("CP2")
    await transaction_event(
        cp,
        "Started",
        "tx-b",
        0,
        NOW,
        trigger="CablePluggedIn",
        evse=1,
        meter=[energy(2_000, NOW, "Transaction.Begin")],
        charging_state="EVConnected",
    )
    async with db.session() as session:
        evse = await session.get(Connector, ("CP2", 1))
    assert evse is not None
    assert evse.status == "Preparing"
    identified = await transaction_event(
        cp, "Updated", "tx-b", 1, NOW + minutes(1), trigger="Authorized", tag="TAG1"
    )
    assert identified.id_token_info == {"status": "Accepted"}
    for seq_no, minute in ((4, 20), (3, 10)):  # 2 never came; 3 arrives after 4
        await transaction_event(
            cp,
            "Updated",
            "tx-b",
            seq_no,
            NOW + minutes(minute),
            trigger="MeterValuePeriodic",
            meter=[energy(2_000 + minute * 100, NOW + minutes(minute))],
            offline=True,
            charging_state="Charging",
        )
    await transaction_event(
        cp,
        "Ended",
        "tx-b",
        5,
        NOW + minutes(30),
        trigger="StopAuthorized",
        stopped_reason="Local",
        offline=True,
    )
    async with db.session() as session:
        tx = await session.scalar(select(Transaction).where(Transaction.uid == "tx-b"))
    assert tx is not None
    assert (tx.start_tag, tx.seq_no, tx.seq_gaps) == ("TAG1", 5, 2)
    # No register in the end event: the newest sample is the stop register.
    assert (tx.meter_stop_wh, tx.energy_wh, tx.stop_reason) == (4_000, 2_000, "Local")


async def test_a_replayed_start_and_end_change_nothing(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP2")
    await add_tag(db, "TAG1")
    cp = await charger201("CP2")
    for _ in range(2):
        await transaction_event(
            cp,
            "Started",
            "tx-c",
            0,
            NOW,
            trigger="Authorized",
            evse=1,
            tag="TAG1",
            meter=[energy(0, NOW, "Transaction.Begin")],
        )
    for _ in range(2):
        await transaction_event(
            cp,
            "Ended",
            "tx-c",
            1,
            NOW + minutes(10),
            trigger="StopAuthorized",
            meter=[energy(1_000, NOW + minutes(10), "Transaction.End")],
            stopped_reason="Local",
        )
    async with db.session() as session:
        rows = (await session.scalars(select(Transaction))).all()
    assert [(r.uid, r.energy_wh, r.seq_gaps) for r in rows] == [("tx-c", 1_000, 0)]


async def test_events_of_a_transaction_whose_start_was_lost_record_it(
    server: RunningServer, charger201: ConnectCharger201, caplog: pytest.LogCaptureFixture
) -> None:
    """The charger queued its events offline and the Started event never arrived."""
    db = server.runtime.db
    await add_charge_point(db, "CP2")
    await add_tag(db, "TAG1")
    cp = await charger201("CP2")
    updated = await transaction_event(
        cp,
        "Updated",
        "tx-lost",
        3,
        NOW + minutes(20),
        trigger="MeterValuePeriodic",
        evse=2,
        tag="TAG1",
        meter=[energy(52_000, NOW + minutes(20))],
        offline=True,
        charging_state="Charging",
    )
    assert updated.id_token_info == {"status": "Accepted"}  # answered, so it is not sent again
    assert "transaction 'tx-lost' was never started here" in caplog.text
    await transaction_event(
        cp,
        "Ended",
        "tx-lost",
        4,
        NOW + minutes(50),
        trigger="EVCommunicationLost",
        meter=[energy(60_000, NOW + minutes(50), "Transaction.End")],
        stopped_reason="EVDisconnected",
    )
    async with db.session() as session:
        tx = await session.scalar(select(Transaction).where(Transaction.uid == "tx-lost"))
        evse = await session.get(Connector, ("CP2", 2))
    assert tx is not None
    assert evse is not None
    assert (tx.connector_id, tx.start_tag, tx.start_result, tx.start_at) == (
        2,
        "TAG1",
        "Accepted",
        NOW + minutes(20),
    )
    # Billed from the first register that reached us; the numbers 0-2 never came.
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh, tx.review_reason) == (
        52_000,
        60_000,
        8_000,
        None,
    )
    assert (tx.seq_no, tx.seq_gaps, tx.stop_reason) == (4, 0, "EVDisconnected")
    assert evse.meter_wh == 60_000


async def test_an_end_without_an_evse_runs_on_the_stations_only_evse(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger201("CP2")
    await status(cp, 1, 1, "Occupied", NOW)
    ended = await transaction_event(
        cp,
        "Ended",
        "tx-lost",
        7,
        NOW + minutes(30),
        trigger="EVCommunicationLost",
        meter=[energy(9_000, NOW + minutes(30), "Transaction.End")],
        stopped_reason="EVDisconnected",
    )
    assert ended.id_token_info is None
    async with server.runtime.db.session() as session:
        rows = (await session.scalars(select(Transaction))).all()
    assert [(r.uid, r.connector_id, r.start_tag, r.stop_at) for r in rows] == [
        ("tx-lost", 1, "NotIdentified", NOW + minutes(30))
    ]
    # Where it began is unknown: an end register alone bills nothing blindly.
    assert (rows[0].meter_stop_wh, rows[0].review_reason) == (9_000, "no start register")


async def test_an_event_without_an_evse_on_a_station_of_several_is_kept_apart(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger201("CP2")
    await status(cp, 1, 1, "Available", NOW)
    await status(cp, 2, 1, "Occupied", NOW)
    await transaction_event(
        cp,
        "Updated",
        "tx-lost",
        1,
        NOW + minutes(5),
        trigger="MeterValuePeriodic",
        meter=[energy(4_000, NOW + minutes(5))],
        charging_state="Charging",
    )
    async with server.runtime.db.session() as session:
        tx = await session.scalar(select(Transaction))
        positions = (await session.scalars(select(Connector.connector_id))).all()
    assert tx is not None
    assert (tx.connector_id, tx.meter_start_wh, tx.stop_at) == (0, 4_000, None)
    assert sorted(positions) == [1, 2]  # no position 0 made up for it


async def test_meter_values_per_evse(server: RunningServer, charger201: ConnectCharger201) -> None:
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger201("CP2")
    reading = energy(7_250, NOW)
    await cp.call(call.MeterValues(evse_id=3, meter_value=[reading]))
    await cp.call(call.MeterValues(evse_id=0, meter_value=[energy(99_000, NOW)]))
    async with server.runtime.db.session() as session:
        evses = (await session.scalars(select(Connector))).all()
    assert [(e.connector_id, e.meter_wh, e.meter_at) for e in evses] == [(3, 7_250, NOW)]


async def error_code(cp: object, payload: object) -> str:
    """Send without the library's own check; the code of the CALLERROR that came back."""
    answer = await cp.call(payload, skip_schema_validation=True)  # type: ignore[attr-defined]
    assert answer is None  # a CALLERROR (the library suppresses it)
    frame = cp.connection.received[-1]  # type: ignore[attr-defined]
    assert frame[0] == 4
    code: str = frame[2]
    return code


async def test_invalid_messages_get_the_2_0_1_error_spellings(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger201("CP2")
    station = {"vendor_name": "ACME", "model": "W", "colour": "red"}
    wrong_field = call.BootNotification(station, "PowerUp")
    assert await error_code(cp, wrong_field) == "FormatViolation"
    no_samples = call.MeterValues(evse_id=1, meter_value=[])
    assert await error_code(cp, no_samples) == "OccurrenceConstraintViolation"
    start_without_evse = call.TransactionEvent(
        "Started", timestamp(), "Authorized", 0, {"transaction_id": "tx-d"}
    )
    assert await error_code(cp, start_without_evse) == "OccurrenceConstraintViolation"
    bad_state = call.StatusNotification(timestamp(), "Sleeping", 1, 1)
    assert await error_code(cp, bad_state) == "PropertyConstraintViolation"
    # The socket stayed up and nothing was stored.
    assert (await cp.call(call.Heartbeat())).current_time.endswith("Z")
    async with server.runtime.db.session() as session:
        assert (await session.scalars(select(Transaction))).all() == []
        assert (await session.scalars(select(Connector))).all() == []


async def test_the_other_charger_messages_are_answered_and_kept(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger201("CP2")
    now = timestamp()
    event = {
        "event_id": 1,
        "timestamp": now,
        "trigger": "Delta",
        "actual_value": "Faulted",
        "event_notification_type": "HardWiredNotification",
        "component": {"name": "Connector", "evse": {"id": 1, "connector_id": 1}},
        "variable": {"name": "AvailabilityState"},
    }
    limit = {"charging_limit_source": "EMS", "is_grid_critical": False}
    needs = {"requested_energy_transfer": "AC_three_phase"}
    assert await cp.call(call.NotifyEvent(now, 0, [event])) is not None
    assert await cp.call(call.SecurityEventNotification("FirmwareUpdated", now)) is not None
    assert await cp.call(call.FirmwareStatusNotification("Installed", request_id=3)) is not None
    assert await cp.call(call.LogStatusNotification("Uploaded", request_id=4)) is not None
    assert await cp.call(call.NotifyChargingLimit(limit, evse_id=1)) is not None
    assert await cp.call(call.ClearedChargingLimit("EMS", evse_id=1)) is not None
    assert await cp.call(call.ReservationStatusUpdate(7, "Expired")) is not None
    answered = await cp.call(call.NotifyEVChargingNeeds(needs, 1))
    assert answered.status == "Rejected"  # no smart charging: no schedule will follow
    transfer = await cp.call(call.DataTransfer("com.unknown", message_id="x", data={"a": 1}))
    assert transfer.status == "UnknownVendorId"
    await server.runtime.message_log.flush()
    async with server.runtime.db.session() as session:
        station = await session.get(ChargePoint, "CP2")
        rows = (
            await session.execute(select(MessageLogEntry.action, MessageLogEntry.connector_id))
        ).all()
    logged = dict(rows)
    assert station is not None
    assert (station.firmware_status, station.diagnostics_status) == ("Installed", "Uploaded")
    assert "SecurityEventNotification" in logged
    assert "NotifyEvent" in logged
    assert logged["NotifyChargingLimit"] == 1  # logged against its EVSE


async def test_a_2_1_charger_is_served_by_the_same_handlers(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP21")
    boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "ACME", "model": "X21"}}
    status_ = {
        "timestamp": timestamp(),
        "connectorStatus": "Occupied",
        "evseId": 1,
        "connectorId": 1,
    }
    async with connect(f"{server.ws_url}/CP21", subprotocols=[Subprotocol("ocpp2.1")]) as websocket:
        assert websocket.subprotocol == "ocpp2.1"
        for number, (action, payload) in enumerate(
            (("BootNotification", boot), ("StatusNotification", status_))
        ):
            await websocket.send(json.dumps([2, f"m{number}", action, payload]))
            answer = json.loads(await websocket.recv())
            assert answer[:2] == [3, f"m{number}"]
            validator = get_validator(MessageType.CallResult, action, "2.1")
            assert list(validator.iter_errors(answer[2])) == []
    async with server.runtime.db.session() as session:
        station = await session.get(ChargePoint, "CP21")
        evse = await session.get(Connector, ("CP21", 1))
    assert station is not None
    assert evse is not None
    assert (station.protocol, station.model, evse.status) == ("ocpp2.1", "X21", "Preparing")
