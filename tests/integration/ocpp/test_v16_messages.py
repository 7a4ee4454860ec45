"""OCPP 1.6 messages from the charger, over a real websocket, persisted in the real database."""

from __future__ import annotations

from datetime import datetime, timedelta

from ocpp.v16 import call
from sqlalchemy import select

from builders import NOW, add_charge_point, add_tag, timestamp
from ocpp_core.db.models import ChargePoint, Connector, Transaction
from servers import ConnectCharger, RunningServer


async def test_boot_is_accepted_and_stored(server: RunningServer, charger: ConnectCharger) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    answer = await cp.call(
        call.BootNotification(
            charge_point_vendor="ACME",
            charge_point_model="Wallbox 11",
            charge_point_serial_number="SN-42",
            firmware_version="1.2.3",
            meter_type="EEM",
        )
    )
    assert answer.status == "Accepted"
    assert answer.interval == server.runtime.settings.ocpp.heartbeat_interval
    assert answer.current_time.endswith("Z")
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
    assert row is not None
    assert (row.vendor, row.model, row.serial_number, row.firmware_version) == (
        "ACME",
        "Wallbox 11",
        "SN-42",
        "1.2.3",
    )
    assert row.protocol == "ocpp1.6"
    assert row.booted_at is not None


async def last_seen(server: RunningServer) -> datetime | None:
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
    assert row is not None
    return row.last_seen_at


async def test_heartbeat_updates_last_seen(server: RunningServer, charger: ConnectCharger) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await server.runtime.presence.flush()
    connected = await last_seen(server)
    assert connected is not None

    answer = await cp.call(call.Heartbeat())
    assert answer.current_time.endswith("Z")
    await server.runtime.presence.flush()  # what its timer does every few seconds

    heard = await last_seen(server)
    assert heard is not None
    assert heard > connected


async def test_status_notification_is_kept_per_connector(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(call.StatusNotification(1, "NoError", "Available", timestamp=timestamp()))
    await cp.call(call.StatusNotification(2, "GroundFailure", "Faulted"))
    await cp.call(call.StatusNotification(0, "NoError", "Available"))
    async with server.runtime.db.session() as session:
        rows = (await session.scalars(select(Connector).order_by(Connector.connector_id))).all()
    assert [(r.connector_id, r.status, r.error_code) for r in rows] == [
        (1, "Available", None),
        (2, "Faulted", "GroundFailure"),
    ]
    assert rows[0].status_at == NOW


async def test_authorize_follows_the_tag_rules(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_tag(db, "GOOD", parent="FLEET")
    await add_tag(db, "LOCKED", blocked=True)
    await add_tag(db, "OLD", expires_at=NOW - timedelta(days=1))
    cp = await charger("CP1")
    results = {}
    for tag in ("GOOD", "LOCKED", "OLD", "UNKNOWN"):
        results[tag] = (await cp.call(call.Authorize(tag))).id_tag_info
    assert results["GOOD"] == {"status": "Accepted", "parent_id_tag": "FLEET"}
    assert results["LOCKED"]["status"] == "Blocked"
    assert results["OLD"]["status"] == "Expired"
    assert results["UNKNOWN"]["status"] == "Invalid"


async def test_full_session_start_meter_stop(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_tag(db, "TAG1")
    cp = await charger("CP1")
    started = await cp.call(call.StartTransaction(1, "TAG1", 1_000, timestamp()))
    assert started.id_tag_info["status"] == "Accepted"
    tx_id = started.transaction_id
    await cp.call(
        call.MeterValues(
            1,
            [
                {
                    "timestamp": timestamp(NOW + timedelta(minutes=30)),
                    "sampledValue": [
                        {
                            "value": "6.5",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "kWh",
                        },
                        {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                        {"value": "55", "measurand": "SoC", "unit": "Percent", "location": "EV"},
                    ],
                }
            ],
            transaction_id=tx_id,
        )
    )
    stopped = await cp.call(
        call.StopTransaction(
            meter_stop=11_500,
            timestamp=timestamp(NOW + timedelta(hours=1)),
            transaction_id=tx_id,
            reason="EVDisconnected",
            id_tag="TAG1",
        )
    )
    assert stopped.id_tag_info == {"status": "Accepted"}
    async with db.session() as session:
        tx = await session.get(Transaction, tx_id)
        connector = await session.get(Connector, ("CP1", 1))
    assert tx is not None
    assert connector is not None
    assert (tx.meter_start_wh, tx.last_meter_wh, tx.meter_stop_wh) == (1_000, 6_500, 11_500)
    assert tx.energy_wh == 10_500
    assert tx.review_reason is None
    assert tx.stop_reason == "EVDisconnected"
    assert (connector.power_w, connector.soc_percent, connector.meter_wh) == (11_000, 55, 6_500)
