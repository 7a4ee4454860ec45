"""OCPP 1.6J adapter: 1.6 payloads in, domain calls, 1.6 payloads out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp_core.clock import format_timestamp, parse_timestamp, utc_now
from ocpp_core.domain import (
    authorization,
    chargepoints,
    commands,
    connectors,
    events,
    metering,
    transactions,
)
from ocpp_core.domain.authorization import Authorization
from ocpp_core.domain.meter import InvalidSample, MeterReading, sample_from_v16, summarize
from ocpp_core.ocpp.adapter import ChargerContext, Handler, ProtocolAdapter
from ocpp_core.ocpp.framing import ErrorCode, FrameError
from ocpp_core.ocpp.schemas import SchemaSet

Payload = dict[str, Any]


def _timestamp(value: str) -> datetime:
    """Read a timestamp the schema's date-time pattern let through, e.g. a leap second."""
    try:
        return parse_timestamp(value.upper())  # RFC 3339 allows a lower-case t and z
    except (ValueError, OverflowError):
        raise FrameError(
            ErrorCode.TYPE_CONSTRAINT_VIOLATION, f"timestamp {value!r} is not a valid date-time"
        ) from None


def _id_tag_info(auth: Authorization) -> Payload:
    info: Payload = {"status": auth.status.value}
    if auth.expires_at is not None:
        info["expiryDate"] = format_timestamp(auth.expires_at)
    if auth.group is not None:
        info["parentIdTag"] = auth.group
    return info


async def boot_notification(ctx: ChargerContext, p: Payload) -> Payload:
    info = chargepoints.BootInfo(
        vendor=p["chargePointVendor"],
        model=p["chargePointModel"],
        serial_number=p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber"),
        firmware_version=p.get("firmwareVersion"),
        iccid=p.get("iccid"),
        imsi=p.get("imsi"),
        meter_type=p.get("meterType"),
        meter_serial_number=p.get("meterSerialNumber"),
    )
    now = ctx.runtime.clock()
    async with ctx.runtime.db.session() as session:
        await chargepoints.record_boot(
            session, ctx.charge_point_id, info, protocol=ctx.protocol, now=now
        )
    return {
        "status": "Accepted",
        "currentTime": format_timestamp(now),
        "interval": ctx.runtime.settings.ocpp.heartbeat_interval,
    }


async def heartbeat(ctx: ChargerContext, p: Payload) -> Payload:
    now = ctx.runtime.clock()
    async with ctx.runtime.db.session() as session:
        await chargepoints.mark_seen(session, ctx.charge_point_id, now=now)
    return {"currentTime": format_timestamp(now)}


async def authorize(ctx: ChargerContext, p: Payload) -> Payload:
    # No ConcurrentTx here: a tag is also authorized to *stop* its running transaction.
    async with ctx.runtime.db.session() as session:
        auth = await authorization.authorize(session, p["idTag"], now=ctx.runtime.clock())
    return {"idTagInfo": _id_tag_info(auth)}


async def start_transaction(ctx: ChargerContext, p: Payload) -> Payload:
    begin = transactions.TransactionStart(
        charge_point_id=ctx.charge_point_id,
        connector_id=p["connectorId"],
        tag=p["idTag"],
        started_at=_timestamp(p["timestamp"]),
        meter_start_wh=p["meterStart"],
    )
    runtime = ctx.runtime
    async with runtime.db.session() as session:
        replayed = await transactions.find_replay(session, begin)
        if replayed is not None:
            auth = Authorization(authorization.AuthStatus(replayed.start_result))
            return {"transactionId": replayed.id, "idTagInfo": _id_tag_info(auth)}
        auth = await authorization.authorize(
            session,
            begin.tag,
            now=runtime.clock(),
            deny_concurrent=runtime.settings.ocpp.deny_concurrent_tx,
        )
        row = await transactions.start(session, begin, result=auth.status.value)
        await connectors.record_reading(
            session,
            ctx.charge_point_id,
            begin.connector_id,
            MeterReading(begin.meter_start_wh, None, None, None, "Transaction.Begin"),
            at=begin.started_at,
        )
    accepted = auth.status is authorization.AuthStatus.ACCEPTED
    await runtime.events.publish(
        events.TransactionStarted(
            ctx.charge_point_id, begin.connector_id, row.id, begin.tag, begin.started_at, accepted
        )
    )
    return {"transactionId": row.id, "idTagInfo": _id_tag_info(auth)}


async def stop_transaction(ctx: ChargerContext, p: Payload) -> Payload:
    runtime = ctx.runtime
    now = runtime.clock()
    tag = p.get("idTag")
    async with runtime.db.session() as session:
        row = await transactions.find_open(session, ctx.charge_point_id, p["transactionId"])
        if row is None:
            # Chargers replay queued stops; a stale one is acknowledged and changes nothing.
            if tag is None:
                return {}
            return {"idTagInfo": _id_tag_info(await authorization.authorize(session, tag, now=now))}
        for sampled_at, reading in _readings(p.get("transactionData", [])):
            await _apply(ctx, session, row.connector_id, row.id, sampled_at, reading)
        auth = await authorization.authorize_stop(
            session, start_tag=row.start_tag, stop_tag=tag, now=now
        )
        end = transactions.TransactionStop(
            charge_point_id=ctx.charge_point_id,
            transaction_id=row.id,
            tag=tag,
            stopped_at=_timestamp(p["timestamp"]),
            meter_stop_wh=p["meterStop"],
            reason=p.get("reason", "Local"),
        )
        transactions.stop(row, end, max_power_w=runtime.settings.ocpp.max_charger_power_w)
    await runtime.events.publish(
        events.TransactionStopped(
            ctx.charge_point_id, row.connector_id, row.id, end.stopped_at, end.reason
        )
    )
    return {"idTagInfo": _id_tag_info(auth)} if tag is not None else {}


async def meter_values(ctx: ChargerContext, p: Payload) -> Payload:
    connector_id = p["connectorId"]
    if connector_id == 0:
        return {}  # the charger's main meter: no connector to show it on
    readings = _readings(p["meterValue"])
    progress: dict[int, int] = {}
    async with ctx.runtime.db.session() as session:
        for sampled_at, reading in readings:
            applied = await _apply(
                ctx, session, connector_id, p.get("transactionId"), sampled_at, reading
            )
            if applied.transaction_id is not None and applied.session_wh is not None:
                progress[applied.transaction_id] = applied.session_wh
    for transaction_id, energy_wh in progress.items():
        await ctx.runtime.events.publish(
            events.SessionEnergy(ctx.charge_point_id, connector_id, transaction_id, energy_wh)
        )
    return {}


def _readings(meter_values: list[Payload]) -> list[tuple[datetime, MeterReading]]:
    """Decode every sample first, so a bad one rejects the message before anything is stored."""
    try:
        return [
            (
                _timestamp(mv["timestamp"]),
                summarize(s for raw in mv["sampledValue"] if (s := sample_from_v16(raw))),
            )
            for mv in meter_values
        ]
    except InvalidSample as error:
        raise FrameError(ErrorCode.TYPE_CONSTRAINT_VIOLATION, f"sampledValue: {error}") from None


async def _apply(
    ctx: ChargerContext,
    session: Any,
    connector_id: int,
    transaction_id: int | None,
    sampled_at: datetime,
    reading: MeterReading,
) -> metering.Applied:
    return await metering.apply_reading(
        session,
        metering.ReadingAt(ctx.charge_point_id, connector_id, transaction_id, reading, sampled_at),
        max_power_w=ctx.runtime.settings.ocpp.max_charger_power_w,
        now=ctx.runtime.clock(),
    )


async def status_notification(ctx: ChargerContext, p: Payload) -> Payload:
    connector_id = p["connectorId"]
    if connector_id == 0:
        return {}  # the whole charger; kept in the message log, not as a connector
    at = _timestamp(p["timestamp"]) if "timestamp" in p else ctx.runtime.clock()
    error_code = p["errorCode"]
    async with ctx.runtime.db.session() as session:
        await connectors.record_status(
            session,
            ctx.charge_point_id,
            connector_id,
            status=p["status"],
            error_code=None if error_code == "NoError" else error_code,
            at=at,
        )
    await ctx.runtime.events.publish(
        events.ConnectorStatusChanged(ctx.charge_point_id, connector_id, p["status"], at)
    )
    return {}


async def data_transfer(ctx: ChargerContext, p: Payload) -> Payload:
    known = p["vendorId"] in ctx.runtime.settings.ocpp.data_transfer_vendors
    return {"status": "Accepted" if known else "UnknownVendorId"}


def _progress(kind: str) -> Handler:
    async def record(ctx: ChargerContext, p: Payload) -> Payload:
        async with ctx.runtime.db.session() as session:
            await chargepoints.record_firmware_status(
                session, ctx.charge_point_id, status=p["status"], kind=kind, now=ctx.runtime.clock()
            )
        return {}

    return record


async def acknowledge(ctx: ChargerContext, p: Payload) -> Payload:
    """Messages whose content the message log keeps; the answer is empty."""
    return {}


async def sign_certificate(ctx: ChargerContext, p: Payload) -> Payload:
    # ocpp-core does not run a certificate authority; saying so lets the charger stop asking.
    return {"status": "Rejected"}


def encode(command: commands.Command) -> tuple[str, Payload]:
    match command:
        case commands.Reset(hard=hard):
            return "Reset", {"type": "Hard" if hard else "Soft"}
        case commands.UnlockConnector(connector_id=connector):
            return "UnlockConnector", {"connectorId": connector}
        case commands.SetChargingLimit():
            return "SetChargingProfile", _charging_limit(command)
        case commands.ClearChargingLimit(connector_id=connector):
            return "ClearChargingProfile", {"id": _profile_id(connector)}
        case commands.RemoteStart(connector_id=connector, id_tag=tag):
            return "RemoteStartTransaction", _without_none(idTag=tag, connectorId=connector)
        case commands.RemoteStop(transaction_id=transaction_id):
            return "RemoteStopTransaction", {"transactionId": transaction_id}
        case commands.GetConfiguration(keys=keys):
            return "GetConfiguration", {"key": list(keys)} if keys else {}
        case commands.ChangeConfiguration(key=key, value=value):
            return "ChangeConfiguration", {"key": key, "value": value}
        case commands.TriggerMessage(message=message, connector_id=connector):
            return "TriggerMessage", _without_none(requestedMessage=message, connectorId=connector)
        case commands.ChangeAvailability(connector_id=connector, operative=operative):
            kind = "Operative" if operative else "Inoperative"
            return "ChangeAvailability", {"connectorId": connector, "type": kind}
        case commands.ClearCache():
            return "ClearCache", {}
        case commands.DataTransfer(vendor_id=vendor, message_id=message_id, data=data):
            return "DataTransfer", _without_none(vendorId=vendor, messageId=message_id, data=data)


def _profile_id(connector_id: int) -> int:
    # One id per connector: 1.6 replaces a profile with the same id on *any* connector.
    return commands.CHARGING_LIMIT_PROFILE_ID + connector_id


def _charging_limit(command: commands.SetChargingLimit) -> Payload:
    return {
        "connectorId": command.connector_id,
        "csChargingProfiles": {
            "chargingProfileId": _profile_id(command.connector_id),
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "startSchedule": format_timestamp(utc_now()),
                "chargingRateUnit": command.unit,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": float(command.limit)}],
            },
        },
    }


def _without_none(**fields: Any) -> Payload:
    return {key: value for key, value in fields.items() if value is not None}


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "Authorize": authorize,
    "StartTransaction": start_transaction,
    "StopTransaction": stop_transaction,
    "MeterValues": meter_values,
    "StatusNotification": status_notification,
    "DataTransfer": data_transfer,
    "DiagnosticsStatusNotification": _progress("diagnostics"),
    "FirmwareStatusNotification": _progress("firmware"),
    "SignedFirmwareStatusNotification": _progress("firmware"),
    "LogStatusNotification": _progress("diagnostics"),
    "SecurityEventNotification": acknowledge,
    "SignCertificate": sign_certificate,
}

ADAPTER = ProtocolAdapter(
    subprotocol="ocpp1.6",
    schemas=SchemaSet("v16"),
    handlers=HANDLERS,
    encode=encode,
    # OCPP-J 1.6 spells these two with its own typos; chargers match the exact strings.
    error_spelling={
        ErrorCode.FORMAT_VIOLATION: "FormationViolation",
        ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    },
    always_logged=frozenset({"SecurityEventNotification"}),
)
