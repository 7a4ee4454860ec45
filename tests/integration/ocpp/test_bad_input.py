"""Bad input from a charger: the prescribed CALLERROR, nothing lost, the socket stays up.

The charger here is a raw one (see ``chargers.RawCharger``), so frames can be as
broken as needed; every frame the server sends is still checked against the OCA 1.6 schema.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from builders import NOW, add_charge_point, add_tag, timestamp
from chargers import RawCharger
from ocpp_core.config import OcppSettings
from ocpp_core.db.models import Connector, MessageLogEntry, MeterAnomaly, Transaction
from servers import RunningServer

MAX_MESSAGE_SIZE = 2048


@pytest.fixture
def ocpp_settings() -> OcppSettings:
    return OcppSettings(
        command_timeout=3,
        keepalive_interval=5,
        keepalive_timeout=5,
        max_message_size=MAX_MESSAGE_SIZE,
    )


@pytest.fixture
async def raw(server: RunningServer) -> AsyncIterator[RawCharger]:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "TAG1")
    async with connect(f"{server.ws_url}/CP1", subprotocols=[Subprotocol("ocpp1.6")]) as websocket:
        yield RawCharger(websocket)


async def until_offline(server: RunningServer) -> None:
    async with asyncio.timeout(5):
        while True:
            if "CP1" not in server.runtime.registry:
                return
            await asyncio.sleep(0.01)


def status(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": timestamp(),
    }
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def energy(wh: str, at: timedelta, *, unit: str = "Wh") -> dict[str, Any]:
    """One MeterValue with one energy register sample, ``at`` after NOW."""
    return {
        "timestamp": timestamp(NOW + at),
        "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register", "unit": unit}],
    }


# -- frames -------------------------------------------------------------------------------


async def test_not_json_is_a_formation_violation_with_id_minus_one(raw: RawCharger) -> None:
    frame = await raw.exchange('[2, "m1", "Heartbeat", {')
    assert frame[:3] == [4, "-1", "FormationViolation"]
    await raw.still_up()


@pytest.mark.parametrize(
    ("message", "unique_id"),
    [
        ('{"action": "Heartbeat"}', "-1"),
        ('"Heartbeat"', "-1"),
        ("[]", "-1"),
        ('[2, "m1"]', "-1"),
        ('[2, 17, "Heartbeat", {}]', "-1"),
        ('[2, "", "Heartbeat", {}]', "-1"),
        ('[2, "m1", "Heartbeat"]', "m1"),
        ('[2, "m1", "Heartbeat", {}, {}]', "m1"),
        ('[9, "m1", "Heartbeat", {}]', "m1"),
        ('["2", "m1", "Heartbeat", {}]', "m1"),
        ('[2, "m1", 42, {}]', "m1"),
    ],
    ids=[
        "object",
        "string",
        "empty-array",
        "two-items",
        "numeric-id",
        "empty-id",
        "call-without-payload",
        "call-with-extra-item",
        "unknown-type",
        "type-as-string",
        "numeric-action",
    ],
)
async def test_a_malformed_frame_is_a_protocol_error(
    raw: RawCharger, message: str, unique_id: str
) -> None:
    frame = await raw.exchange(message)
    assert frame[:3] == [4, unique_id, "ProtocolError"]
    await raw.still_up()


async def test_a_payload_that_is_not_an_object_is_a_formation_violation(
    raw: RawCharger,
) -> None:
    frame = await raw.exchange('[2, "m1", "Heartbeat", []]')
    assert frame[:3] == [4, "m1", "FormationViolation"]
    await raw.still_up()


async def test_a_binary_frame_is_a_formation_violation(raw: RawCharger) -> None:
    frame = await raw.exchange(b'[2, "m1", "Heartbeat", {}]')
    assert frame[:3] == [4, "-1", "FormationViolation"]
    await raw.still_up()


async def test_an_unexpected_answer_is_ignored(raw: RawCharger) -> None:
    await raw.websocket.send('[3, "never-asked", {}]')
    await raw.websocket.send('[4, "never-asked", "GenericError", "", {}]')
    await raw.still_up()  # the next frame from the server is the Heartbeat's answer


async def test_an_oversized_message_closes_with_1009(
    server: RunningServer, raw: RawCharger
) -> None:
    fits = {"vendorId": "ACME", "data": "x" * (MAX_MESSAGE_SIZE - 200)}
    assert (await raw.result("DataTransfer", fits))["status"] == "UnknownVendorId"
    too_big = {"vendorId": "ACME", "data": "x" * MAX_MESSAGE_SIZE}
    await raw.websocket.send(json.dumps([2, "big", "DataTransfer", too_big]))
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(5):
            await raw.websocket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
    await until_offline(server)


async def test_invalid_utf8_in_a_text_frame_closes_with_1007(
    server: RunningServer, raw: RawCharger
) -> None:
    await raw.websocket.send(b'[2, "m1", "DataTransfer", {"vendorId": "\xff"}]', text=True)
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(5):
            await raw.websocket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1007
    await until_offline(server)


# -- actions ------------------------------------------------------------------------------


async def test_an_unknown_action_is_not_implemented(raw: RawCharger) -> None:
    assert await raw.error_code("FooBar", {}) == "NotImplemented"
    await raw.still_up()


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("Reset", {"type": "Hard"}),
        ("RemoteStartTransaction", {"idTag": "TAG1"}),
        ("GetConfiguration", {}),
    ],
)
async def test_a_central_system_action_sent_by_a_charger_is_not_supported(
    raw: RawCharger, action: str, payload: dict[str, Any]
) -> None:
    assert await raw.error_code(action, payload) == "NotSupported"
    await raw.still_up()


async def test_an_action_name_is_not_a_schema_file_name(raw: RawCharger) -> None:
    for action in (
        "HeartbeatResponse",
        "../schemas/Reset",
        "../../v201/schemas/HeartbeatRequest",
        "v16/Heartbeat",
        "heartbeat",
    ):
        assert await raw.error_code(action, {}) == "NotImplemented"
    await raw.still_up()


# -- payloads against the schema --------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (status(connectorId="one"), "TypeConstraintViolation"),
        (status(connectorId=1.5), "TypeConstraintViolation"),
        (status(info="i" * 51), "TypeConstraintViolation"),
        (status(status=None), "ProtocolError"),
        (status(colour="green"), "FormationViolation"),
        (status(status="Sleeping"), "PropertyConstraintViolation"),
        (status(errorCode="noerror"), "PropertyConstraintViolation"),
    ],
    ids=[
        "string-for-integer",
        "float-for-integer",
        "string-too-long",
        "missing-required",
        "additional-property",
        "bad-enum",
        "enum-wrong-case",
    ],
)
async def test_a_payload_breaking_the_schema_gets_its_error_code(
    server: RunningServer, raw: RawCharger, payload: dict[str, Any], code: str
) -> None:
    assert await raw.error_code("StatusNotification", payload) == code
    await raw.still_up()
    async with server.runtime.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Connector)) == 0


@pytest.mark.parametrize(
    "when",
    [
        "yesterday",
        "2026-11-28",
        "2026-11-28 12:00:00Z",
        "2026-13-01T12:00:00Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T23:59:60Z",
        "2026-11-28T12:00:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
    ids=[
        "words",
        "date-only",
        "space",
        "month-13",
        "hour-24",
        "leap-second",
        "no-offset",
        "before-year-1",
        "after-year-9999",
    ],
)
async def test_a_bad_timestamp_is_a_type_constraint_violation(
    server: RunningServer, raw: RawCharger, when: str
) -> None:
    assert await raw.error_code("StatusNotification", status(timestamp=when)) == (
        "TypeConstraintViolation"
    )
    assert await raw.error_code("StartTransaction", start(when=when)) == ("TypeConstraintViolation")
    assert await raw.error_code(
        "MeterValues",
        {"connectorId": 1, "meterValue": [{**energy("1", timedelta()), "timestamp": when}]},
    ) == ("TypeConstraintViolation")
    await raw.still_up()
    async with server.runtime.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Transaction)) == 0


@pytest.mark.parametrize(
    "when",
    ["2026-11-28t12:00:00z", "2026-11-28T13:00:00+01:00", "2026-11-28T12:00:00.123456789Z"],
    ids=["lower-case", "offset", "nanoseconds"],
)
async def test_unusual_but_valid_timestamps_are_read(
    server: RunningServer, raw: RawCharger, when: str
) -> None:
    assert await raw.result("StatusNotification", status(timestamp=when)) == {}
    async with server.runtime.db.session() as session:
        row = await session.get(Connector, ("CP1", 1))
    assert row is not None
    assert row.status_at is not None
    assert abs(row.status_at - NOW) < timedelta(seconds=1)


# -- meter values -------------------------------------------------------------------------


def start(meter_start: int = 1_000, when: str | None = None) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "idTag": "TAG1",
        "meterStart": meter_start,
        "timestamp": when or timestamp(),
    }


async def started(raw: RawCharger, meter_start: int = 1_000) -> int:
    answer = await raw.result("StartTransaction", start(meter_start))
    assert answer["idTagInfo"]["status"] == "Accepted"
    transaction_id: int = answer["transactionId"]
    return transaction_id


async def state(
    server: RunningServer, transaction_id: int
) -> tuple[Transaction, Connector, list[MeterAnomaly]]:
    async with server.runtime.db.session() as session:
        tx = await session.get(Transaction, transaction_id)
        connector = await session.get(Connector, ("CP1", 1))
        anomalies = (await session.scalars(select(MeterAnomaly).order_by(MeterAnomaly.id))).all()
    assert tx is not None
    assert connector is not None
    return tx, connector, list(anomalies)


async def test_a_non_numeric_meter_value_stores_nothing(
    server: RunningServer, raw: RawCharger
) -> None:
    tx_id = await started(raw)
    good_then_bad = [energy("2000", timedelta(minutes=10)), energy("abc", timedelta(minutes=20))]
    payload = {"connectorId": 1, "transactionId": tx_id, "meterValue": good_then_bad}
    assert await raw.error_code("MeterValues", payload) == "TypeConstraintViolation"
    for value in ("NaN", "Infinity", "1e400", ""):
        payload["meterValue"] = [energy(value, timedelta(minutes=30))]
        assert await raw.error_code("MeterValues", payload) == "TypeConstraintViolation"
    await raw.still_up()
    tx, connector, anomalies = await state(server, tx_id)
    assert (tx.last_meter_wh, tx.last_meter_at) == (None, None)
    assert connector.meter_wh == 1_000  # from the start, untouched
    assert anomalies == []


async def test_a_meter_value_in_an_unknown_unit_stores_nothing(
    server: RunningServer, raw: RawCharger
) -> None:
    tx_id = await started(raw)
    payload = {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [energy("2", timedelta(minutes=10), unit="kW")],
    }
    assert await raw.error_code("MeterValues", payload) == "TypeConstraintViolation"
    tx, connector, anomalies = await state(server, tx_id)
    assert tx.last_meter_wh is None
    assert connector.meter_wh == 1_000
    assert anomalies == []


@pytest.mark.parametrize(
    ("samples", "reason", "kept_wh"),
    [
        ([energy("-5", timedelta(minutes=10))], "negative", 1_000),
        (
            [energy("3000", timedelta(minutes=10)), energy("2500", timedelta(minutes=20))],
            "decreasing",
            3_000,
        ),
        # 400 kW for one minute is 6.7 kWh; 100 kWh in a minute is no charger.
        ([energy("101000", timedelta(minutes=1))], "jump", 1_000),
    ],
    ids=["negative", "decreasing", "jump"],
)
async def test_an_impossible_register_is_kept_as_an_anomaly_not_applied(
    server: RunningServer,
    raw: RawCharger,
    samples: list[dict[str, Any]],
    reason: str,
    kept_wh: int,
) -> None:
    tx_id = await started(raw)
    for sample in samples:
        payload = {"connectorId": 1, "transactionId": tx_id, "meterValue": [sample]}
        assert await raw.result("MeterValues", payload) == {}
    tx, connector, anomalies = await state(server, tx_id)
    assert [(a.reason, a.transaction_id, a.connector_id) for a in anomalies] == [(reason, tx_id, 1)]
    assert anomalies[0].value_wh == int(samples[-1]["sampledValue"][0]["value"])
    assert anomalies[0].previous_wh == kept_wh
    assert connector.meter_wh == kept_wh
    assert tx.last_meter_wh == (None if kept_wh == 1_000 else kept_wh)
    # The transaction still closes on plausible registers, billed from start to stop.
    stop = {
        "transactionId": tx_id,
        "meterStop": 4_000,
        "timestamp": timestamp(NOW + timedelta(hours=1)),
    }
    assert await raw.result("StopTransaction", stop) == {}
    tx, _, _ = await state(server, tx_id)
    assert (tx.energy_wh, tx.review_reason) == (3_000, None)


async def test_an_impossible_register_without_a_transaction_is_kept_too(
    server: RunningServer, raw: RawCharger
) -> None:
    first = {"connectorId": 1, "meterValue": [energy("5000", timedelta())]}
    assert await raw.result("MeterValues", first) == {}
    lower = {"connectorId": 1, "meterValue": [energy("4000", timedelta(minutes=5))]}
    assert await raw.result("MeterValues", lower) == {}
    async with server.runtime.db.session() as session:
        connector = await session.get(Connector, ("CP1", 1))
        anomalies = (await session.scalars(select(MeterAnomaly))).all()
    assert connector is not None
    assert connector.meter_wh == 5_000
    assert [(a.reason, a.transaction_id, a.value_wh) for a in anomalies] == [
        ("decreasing", None, 4_000)
    ]


async def test_a_stop_below_a_sampled_register_is_held_for_review(
    server: RunningServer, raw: RawCharger
) -> None:
    tx_id = await started(raw)
    sample = {
        "connectorId": 1,
        "transactionId": tx_id,
        "meterValue": [energy("5000", timedelta(minutes=30))],
    }
    assert await raw.result("MeterValues", sample) == {}
    stop = {
        "transactionId": tx_id,
        "meterStop": 4_000,
        "timestamp": timestamp(NOW + timedelta(hours=1)),
        "idTag": "TAG1",
    }
    assert (await raw.result("StopTransaction", stop))["idTagInfo"]["status"] == "Accepted"
    tx, _, _ = await state(server, tx_id)
    assert tx.stop_at is not None
    assert tx.meter_stop_wh == 4_000
    assert tx.energy_wh is None
    assert tx.review_reason is not None
    assert "below sampled" in tx.review_reason


async def test_a_stop_faster_than_any_charger_is_held_for_review(
    server: RunningServer, raw: RawCharger
) -> None:
    tx_id = await started(raw)
    stop = {
        "transactionId": tx_id,
        "meterStop": 1_000_000,
        "timestamp": timestamp(NOW + timedelta(minutes=1)),
    }
    assert await raw.result("StopTransaction", stop) == {}
    tx, _, _ = await state(server, tx_id)
    assert tx.stop_at is not None
    assert tx.energy_wh is None
    assert tx.review_reason is not None
    assert "jump" in tx.review_reason


async def test_impossible_transaction_data_in_a_stop_is_kept_as_an_anomaly(
    server: RunningServer, raw: RawCharger
) -> None:
    tx_id = await started(raw)
    stop = {
        "transactionId": tx_id,
        "meterStop": 3_000,
        "timestamp": timestamp(NOW + timedelta(hours=1)),
        "transactionData": [energy("-1", timedelta(minutes=30))],
    }
    assert await raw.result("StopTransaction", stop) == {}
    tx, connector, anomalies = await state(server, tx_id)
    assert [a.reason for a in anomalies] == ["negative"]
    assert (tx.energy_wh, tx.review_reason, tx.last_meter_wh) == (2_000, None, None)
    assert connector.meter_wh == 1_000


async def test_a_stop_with_bad_transaction_data_changes_nothing(
    server: RunningServer, raw: RawCharger
) -> None:
    tx_id = await started(raw)
    stop = {
        "transactionId": tx_id,
        "meterStop": 3_000,
        "timestamp": timestamp(NOW + timedelta(hours=1)),
        "transactionData": [energy("abc", timedelta(minutes=30))],
    }
    assert await raw.error_code("StopTransaction", stop) == "TypeConstraintViolation"
    tx, _, _ = await state(server, tx_id)
    assert (tx.stop_at, tx.meter_stop_wh, tx.energy_wh) == (None, None, None)


async def test_a_stale_or_unknown_stop_is_acknowledged_and_changes_nothing(
    server: RunningServer, raw: RawCharger
) -> None:
    tx_id = await started(raw)
    stop = {
        "transactionId": tx_id,
        "meterStop": 3_000,
        "timestamp": timestamp(NOW + timedelta(hours=1)),
        "reason": "EVDisconnected",
    }
    assert await raw.result("StopTransaction", stop) == {}
    replayed = {**stop, "meterStop": 9_000, "reason": "Other", "idTag": "TAG1"}
    assert (await raw.result("StopTransaction", replayed))["idTagInfo"]["status"] == "Accepted"
    unknown = {**stop, "transactionId": tx_id + 1000}
    assert await raw.result("StopTransaction", unknown) == {}
    await raw.still_up()
    async with server.runtime.db.session() as session:
        rows = (await session.scalars(select(Transaction))).all()
    assert [(r.id, r.meter_stop_wh, r.energy_wh, r.stop_reason) for r in rows] == [
        (tx_id, 3_000, 2_000, "EVDisconnected")
    ]


async def test_a_replayed_start_gets_the_same_transaction(
    server: RunningServer, raw: RawCharger
) -> None:
    first = await raw.result("StartTransaction", start())
    again = await raw.result("StartTransaction", start())
    assert again == first
    other = await raw.result("StartTransaction", start(meter_start=1_001))
    assert other["transactionId"] != first["transactionId"]
    async with server.runtime.db.session() as session:
        ids = (await session.scalars(select(Transaction.id).order_by(Transaction.id))).all()
    assert list(ids) == [first["transactionId"], other["transactionId"]]


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("StatusNotification", status(connectorId=2**31)),
        ("StatusNotification", status(connectorId=-(2**31) - 1)),
        ("StartTransaction", start(meter_start=2**63)),
        ("StartTransaction", {**start(), "connectorId": 2**31}),
        ("StopTransaction", {"transactionId": 2**31, "meterStop": 1, "timestamp": timestamp()}),
        ("StopTransaction", {"transactionId": 1, "meterStop": 2**63, "timestamp": timestamp()}),
        ("MeterValues", {"connectorId": 2**40, "meterValue": [energy("1", timedelta())]}),
        (
            "MeterValues",
            {"connectorId": 1, "transactionId": 2**40, "meterValue": [energy("1", timedelta())]},
        ),
    ],
)
async def test_integers_beyond_what_is_stored_are_a_property_constraint_violation(
    server: RunningServer, raw: RawCharger, action: str, payload: dict[str, Any]
) -> None:
    assert await raw.error_code(action, payload) == "PropertyConstraintViolation"
    await raw.still_up()
    async with server.runtime.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Transaction)) == 0
        assert await session.scalar(select(func.count()).select_from(Connector)) == 0


@pytest.mark.parametrize("connector_id", ["1.0", str(2**70), "1e2"])
async def test_a_number_that_is_not_an_integer_is_a_type_constraint_violation(
    raw: RawCharger, connector_id: str
) -> None:
    text = json.dumps(status()).replace('"connectorId": 1', f'"connectorId": {connector_id}')
    frame = await raw.exchange(f'[2, "m1", "StatusNotification", {text}]')
    assert frame[:3] == [4, "m1", "TypeConstraintViolation"]
    await raw.still_up()


async def test_rejected_messages_are_logged_even_with_fields_the_log_cannot_hold(
    server: RunningServer, raw: RawCharger
) -> None:
    long_action = "X" * 80
    assert await raw.error_code(long_action, {"connectorId": 1}) == "NotImplemented"
    too_big = status(connectorId=2**40)
    assert await raw.error_code("StatusNotification", too_big) == "PropertyConstraintViolation"
    assert await raw.error_code("StatusNotification", status(connectorId=True)) == (
        "TypeConstraintViolation"
    )
    async with asyncio.timeout(5):
        while True:
            async with server.runtime.db.session() as session:
                rows = (
                    await session.scalars(select(MessageLogEntry).order_by(MessageLogEntry.id))
                ).all()
            if len(rows) == 3:
                break
            await asyncio.sleep(0.05)
    assert [(r.action, r.connector_id, r.error_code) for r in rows] == [
        ("X" * 50, 1, "NotImplemented"),
        ("StatusNotification", None, "PropertyConstraintViolation"),
        ("StatusNotification", None, "TypeConstraintViolation"),
    ]
    assert rows[1].payload is not None
    assert str(2**40) in rows[1].payload
