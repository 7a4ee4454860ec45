"""OCPP 1.6J adapter: 1.6 payloads in, domain calls, 1.6 payloads out."""

from __future__ import annotations

from ocpp_core.clock import format_timestamp, utc_now
from ocpp_core.config import OcppSettings
from ocpp_core.domain import chargepoints, commands, meter, transactions
from ocpp_core.domain.authorization import Authorization
from ocpp_core.domain.charging import Readings
from ocpp_core.domain.command_errors import CommandNotSupported
from ocpp_core.domain.meter import Read
from ocpp_core.ocpp import common
from ocpp_core.ocpp.adapter import ChargerContext, Handler, ProtocolAdapter
from ocpp_core.ocpp.common import Payload, timestamp, without_none
from ocpp_core.ocpp.framing import ErrorCode
from ocpp_core.ocpp.schemas import SchemaSet


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
    return await common.boot(ctx, info)


async def authorize(ctx: ChargerContext, p: Payload) -> Payload:
    return {"idTagInfo": _id_tag_info(await ctx.charging.authorize(p["idTag"]))}


async def start_transaction(ctx: ChargerContext, p: Payload) -> Payload:
    begin = transactions.TransactionStart(
        charge_point_id=ctx.charge_point_id,
        connector_id=p["connectorId"],
        tag=p["idTag"],
        started_at=timestamp(p["timestamp"]),
        meter_start_wh=p["meterStart"],
    )
    transaction_id, auth = await ctx.charging.start(begin)
    return {"transactionId": transaction_id, "idTagInfo": _id_tag_info(auth)}


async def stop_transaction(ctx: ChargerContext, p: Payload) -> Payload:
    auth = await ctx.charging.stop(
        p["transactionId"],
        tag=p.get("idTag"),
        stopped_at=timestamp(p["timestamp"]),
        meter_stop_wh=p["meterStop"],
        reason=p.get("reason", "Local"),
        readings=_readings(p.get("transactionData", [])),
    )
    return {} if auth is None else {"idTagInfo": _id_tag_info(auth)}


async def meter_values(ctx: ChargerContext, p: Payload) -> Payload:
    connector_id = p["connectorId"]
    # Connector 0 is the charger's main meter: no connector to show it on, only the log.
    readings = _readings(p["meterValue"]) if connector_id != 0 else []
    return await common.store_readings(ctx, connector_id, p.get("transactionId"), readings, call=p)


def _readings(meter_values: list[Payload]) -> Readings:
    return common.decode_readings(meter_values, read_sample)


def read_sample(raw: Payload) -> Read | None:
    """A 1.6 SampledValue; None for signed or unknown formats we cannot interpret."""
    get = raw.get
    if get("format", "Raw") != "Raw":
        return None
    return meter.sample(
        get("value"),
        0,
        get("measurand"),
        get("unit"),
        get("phase"),
        get("context"),
        get("location"),
    )


async def status_notification(ctx: ChargerContext, p: Payload) -> Payload:
    connector_id = p["connectorId"]
    if connector_id == 0:
        return {}  # the whole charger; kept in the message log, not as a connector
    at = timestamp(p["timestamp"]) if "timestamp" in p else ctx.runtime.clock()
    error_code = p["errorCode"]
    await ctx.charging.record_status(
        connector_id, p["status"], None if error_code == "NoError" else error_code, at
    )
    return {}


def encode(command: commands.Command, settings: OcppSettings) -> tuple[str, Payload]:
    match command:
        case commands.Reset(hard=hard, connector_id=None):
            return "Reset", {"type": "Hard" if hard else "Soft"}
        case commands.UnlockConnector(connector_id=connector, plug_id=1):
            return "UnlockConnector", {"connectorId": connector}
        case (
            commands.Reset()
            | commands.UnlockConnector()
            | commands.GetVariables()
            | commands.SetVariables()
            | commands.GetBaseReport()
        ):
            # A 1.6 connector has one plug and no device model; its reset is all or nothing.
            raise CommandNotSupported(f"OCPP 1.6 has no {type(command).__name__} of this kind")
        case commands.SetChargingLimit():
            return "SetChargingProfile", _charging_limit(command)
        case commands.ClearChargingLimit(connector_id=connector):
            return "ClearChargingProfile", {"id": common.limit_profile_id(connector)}
        case commands.RemoteStart(connector_id=connector, id_tag=tag):
            return "RemoteStartTransaction", without_none(idTag=tag, connectorId=connector)
        case commands.RemoteStop(transaction_id=transaction_id):  # 1.6 ids are ours
            return "RemoteStopTransaction", {"transactionId": transaction_id}
        case commands.GetConfiguration(keys=keys):
            return "GetConfiguration", {"key": list(keys)} if keys else {}
        case commands.ChangeConfiguration(key=key, value=value):
            return "ChangeConfiguration", {"key": key, "value": value}
        case commands.TriggerMessage(message=message, connector_id=connector):
            return "TriggerMessage", without_none(requestedMessage=message, connectorId=connector)
        case commands.ChangeAvailability(connector_id=connector, operative=operative):
            kind = "Operative" if operative else "Inoperative"
            return "ChangeAvailability", {"connectorId": connector, "type": kind}
        case commands.ClearCache():
            return "ClearCache", {}
        case commands.DataTransfer(vendor_id=vendor, message_id=message_id, data=data):
            return "DataTransfer", without_none(vendorId=vendor, messageId=message_id, data=data)


def _charging_limit(command: commands.SetChargingLimit) -> Payload:
    return {
        "connectorId": command.connector_id,
        "csChargingProfiles": {
            "chargingProfileId": common.limit_profile_id(command.connector_id),
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


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": common.heartbeat,
    "Authorize": authorize,
    "StartTransaction": start_transaction,
    "StopTransaction": stop_transaction,
    "MeterValues": meter_values,
    "StatusNotification": status_notification,
    "DataTransfer": common.data_transfer,
    "DiagnosticsStatusNotification": common.progress("diagnostics"),
    "FirmwareStatusNotification": common.progress("firmware"),
    "SignedFirmwareStatusNotification": common.progress("firmware"),
    "LogStatusNotification": common.progress("diagnostics"),
    "SecurityEventNotification": common.acknowledge,
    "SignCertificate": common.sign_certificate,
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
    logged_by_handler=frozenset({"MeterValues"}),
)
