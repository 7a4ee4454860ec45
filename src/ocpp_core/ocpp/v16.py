"""OCPP 1.6J adapter: 1.6 payloads in, domain calls, 1.6 payloads out."""

from __future__ import annotations

from ocpp_core.clock import format_timestamp
from ocpp_core.config import OcppSettings
from ocpp_core.domain import chargepoints, commands, meter, transactions
from ocpp_core.domain.authorization import Authorization
from ocpp_core.domain.charging import Readings
from ocpp_core.domain.command_errors import CommandNotSupported
from ocpp_core.domain.meter import Read
from ocpp_core.domain.protocols import TRIGGERABLE_16
from ocpp_core.ocpp import common
from ocpp_core.ocpp.adapter import ChargerContext, Handler, ProtocolAdapter, status
from ocpp_core.ocpp.common import Payload, optional_timestamp, timestamp, without_none
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
        reservation_id=p.get("reservationId"),
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
        case commands.RemoteStart(connector_id=connector, id_tag=tag, profile=profile):
            return "RemoteStartTransaction", without_none(
                idTag=tag,
                connectorId=connector,
                chargingProfile=None if profile is None else _profile(profile),
            )
        case commands.RemoteStop(transaction_id=transaction_id):  # 1.6 ids are ours
            return "RemoteStopTransaction", {"transactionId": transaction_id}
        case commands.GetConfiguration(keys=keys):
            return "GetConfiguration", {"key": list(keys)} if keys else {}
        case commands.ChangeConfiguration(key=key, value=value):
            return "ChangeConfiguration", {"key": key, "value": value}
        case commands.TriggerMessage(message=message) if message not in TRIGGERABLE_16:
            raise common.not_triggerable("1.6", message, TRIGGERABLE_16)
        case commands.TriggerMessage(message=message, connector_id=connector):
            return "TriggerMessage", without_none(requestedMessage=message, connectorId=connector)
        case commands.ChangeAvailability(connector_id=connector, operative=operative):
            kind = "Operative" if operative else "Inoperative"
            return "ChangeAvailability", {"connectorId": connector, "type": kind}
        case commands.ClearCache():
            return "ClearCache", {}
        case commands.DataTransfer(vendor_id=vendor, message_id=message_id, data=data):
            return "DataTransfer", without_none(vendorId=vendor, messageId=message_id, data=data)
        # -- firmware and diagnostics --
        case commands.UpdateFirmware():
            return "UpdateFirmware", without_none(
                location=command.location,
                retrieveDate=format_timestamp(command.retrieve_at),
                retries=command.retries,
                retryInterval=command.retry_interval,
            )
        case commands.GetLog(log_type="DiagnosticsLog"):
            return "GetDiagnostics", without_none(
                location=command.location,
                startTime=optional_timestamp(command.oldest),
                stopTime=optional_timestamp(command.latest),
                retries=command.retries,
                retryInterval=command.retry_interval,
            )
        case commands.GetLog():  # the security log: only in 1.6's security extension
            return "GetLog", common.get_log(command)
        # -- smart charging --
        case commands.SetChargingProfile(connector_id=connector, profile=profile):
            payload = {"connectorId": connector, "csChargingProfiles": _profile(profile)}
            return "SetChargingProfile", payload
        case commands.ClearChargingProfile(
            profile_id=profile_id, connector_id=connector, purpose=purpose, stack_level=level
        ):
            return "ClearChargingProfile", without_none(
                id=profile_id,
                connectorId=connector,
                chargingProfilePurpose=purpose,
                stackLevel=level,
            )
        case commands.GetCompositeSchedule(connector_id=connector, duration_s=duration, unit=unit):
            return "GetCompositeSchedule", without_none(
                connectorId=connector, duration=duration, chargingRateUnit=unit
            )
        case commands.GetChargingProfiles():
            raise CommandNotSupported("OCPP 1.6 has no GetChargingProfiles")
        case commands.ReserveNow():
            return "ReserveNow", _reserve_now(command)
        case commands.CancelReservation(reservation_id=reservation_id):
            return "CancelReservation", {"reservationId": reservation_id}
        case commands.SendLocalList(version=version, full=full, entries=entries):
            return "SendLocalList", {
                "listVersion": version,
                "updateType": "Full" if full else "Differential",
                "localAuthorizationList": [_list_entry(entry) for entry in entries],
            }
        case commands.GetLocalListVersion():
            return "GetLocalListVersion", {}
        case commands.ReadSetting(key=key):
            return "GetConfiguration", {"key": [key]}
        case commands.ReadReservationSupport():
            return "GetConfiguration", {"key": [FEATURE_PROFILES]}


def _list_entry(entry: commands.ListEntry) -> Payload:
    if entry.status is None:
        return {"idTag": entry.tag}
    info = without_none(
        status=entry.status,
        expiryDate=format_timestamp(entry.expires_at) if entry.expires_at else None,
        parentIdTag=entry.group,
    )
    return {"idTag": entry.tag, "idTagInfo": info}


def status_of(command: commands.Command, answer: Payload) -> str | None:
    """The status word; for the commands that read a value, the value."""
    match command:
        case commands.GetLocalListVersion():
            return str(answer.get("listVersion"))
        case commands.ReadSetting(key=key):
            found = [k for k in answer.get("configurationKey", []) if k.get("key") == key]
            return found[0].get("value") if found else None
        case commands.ReadReservationSupport():
            return _takes_reservations(answer)
    return status(answer)


FEATURE_PROFILES = "SupportedFeatureProfiles"


def _takes_reservations(answer: Payload) -> str:
    """A 1.6 charger takes reservations when it lists the Reservation feature profile."""
    found = [k for k in answer.get("configurationKey", []) if k.get("key") == FEATURE_PROFILES]
    profiles = (found[0].get("value") or "") if found else ""
    return "true" if "Reservation" in {p.strip() for p in profiles.split(",")} else "false"


def _reserve_now(command: commands.ReserveNow) -> Payload:
    if command.connector_type is not None:
        raise CommandNotSupported("OCPP 1.6 reserves a connector by its number, not its type")
    return without_none(
        connectorId=command.connector_id,
        expiryDate=format_timestamp(command.expires_at),
        idTag=command.id_tag,
        parentIdTag=command.parent_id_tag,
        reservationId=command.reservation_id,
    )


def _profile(profile: commands.ChargingProfile) -> Payload:
    schedule = without_none(
        duration=profile.duration_s,
        startSchedule=optional_timestamp(profile.start_schedule),
        chargingRateUnit=profile.unit,
        chargingSchedulePeriod=common.schedule_periods(profile),
    )
    return without_none(
        chargingProfileId=profile.profile_id,
        transactionId=profile.transaction_id,
        stackLevel=profile.stack_level,
        chargingProfilePurpose=profile.purpose,
        chargingProfileKind=profile.kind,
        recurrencyKind=profile.recurrency,
        validFrom=optional_timestamp(profile.valid_from),
        validTo=optional_timestamp(profile.valid_to),
        chargingSchedule=schedule,
    )


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
    status_of=status_of,
    # OCPP-J 1.6 spells these two with its own typos; chargers match the exact strings.
    error_spelling={
        ErrorCode.FORMAT_VIOLATION: "FormationViolation",
        ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
    },
    always_logged=frozenset({"SecurityEventNotification"}),
    logged_by_handler=frozenset({"MeterValues"}),
)
