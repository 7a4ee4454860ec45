"""OCPP 2.0.1 adapter: 2.0.1 payloads in, domain calls, 2.0.1 payloads out.

The domain's charging position is the 2.0.1 EVSE (what a transaction runs on and
a driver pays for); the plugs of an EVSE are kept beside it. Transactions carry
the charger's own string id as their ``uid`` (see :mod:`.v201_transactions`).
OCPP 2.1 is served by the same handlers against its own schemas: the messages
handled here kept their shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ocpp_core.clock import format_timestamp
from ocpp_core.config import OcppSettings
from ocpp_core.domain import chargepoints, charging_notices, commands, reports
from ocpp_core.domain.authorization import Authorization, AuthStatus
from ocpp_core.domain.charging_notices import NoticeKind
from ocpp_core.domain.command_errors import CommandNotSupported
from ocpp_core.domain.connector_status import ConnectorStatus
from ocpp_core.domain.protocols import TRIGGERABLE_201
from ocpp_core.domain.reservations import CHARGER_ENDINGS
from ocpp_core.ocpp import common, v201_transactions
from ocpp_core.ocpp.adapter import ChargerContext, Handler, ProtocolAdapter, status
from ocpp_core.ocpp.common import Payload, optional_timestamp, timestamp, without_none
from ocpp_core.ocpp.schemas import SchemaSet
from ocpp_core.ocpp.v201_transactions import CHARGING_STATES, id_token_info, readings_of

# An EVSE is as busy as its busiest plug.
_PLUG_STATUS_ORDER = (
    ConnectorStatus.OCCUPIED,
    ConnectorStatus.FAULTED,
    ConnectorStatus.RESERVED,
    ConnectorStatus.UNAVAILABLE,
    ConnectorStatus.AVAILABLE,
)
# An occupied plug is a car plugged in (Preparing) until the transaction says more.
_PLUG_STATUSES: dict[str, str] = {ConnectorStatus.OCCUPIED: ConnectorStatus.PREPARING}
_FINER = frozenset({*CHARGING_STATES.values(), ConnectorStatus.FINISHING})

# 1.6 configuration keys and the 2.0.1 variables that took their place.
CONFIGURATION_KEYS: Mapping[str, commands.Variable] = {
    "HeartbeatInterval": commands.Variable("OCPPCommCtrlr", "HeartbeatInterval"),
    "WebSocketPingInterval": commands.Variable("OCPPCommCtrlr", "WebSocketPingInterval"),
    "ResetRetries": commands.Variable("OCPPCommCtrlr", "ResetRetries"),
    "MeterValueSampleInterval": commands.Variable("SampledDataCtrlr", "TxUpdatedInterval"),
    "MeterValuesSampledData": commands.Variable("SampledDataCtrlr", "TxUpdatedMeasurands"),
    "StopTxnSampledData": commands.Variable("SampledDataCtrlr", "TxEndedMeasurands"),
    "ClockAlignedDataInterval": commands.Variable("AlignedDataCtrlr", "Interval"),
    "MeterValuesAlignedData": commands.Variable("AlignedDataCtrlr", "Measurands"),
    "ConnectionTimeOut": commands.Variable("TxCtrlr", "EVConnectionTimeOut"),
    "StopTransactionOnEVSideDisconnect": commands.Variable("TxCtrlr", "StopTxOnEVSideDisconnect"),
    "StopTransactionOnInvalidId": commands.Variable("TxCtrlr", "StopTxOnInvalidId"),
    "LocalAuthorizeOffline": commands.Variable("AuthCtrlr", "LocalAuthorizeOffline"),
    "LocalPreAuthorize": commands.Variable("AuthCtrlr", "LocalPreAuthorize"),
    "AuthorizeRemoteTxRequests": commands.Variable("AuthCtrlr", "AuthorizeRemoteStart"),
    "AuthorizationCacheEnabled": commands.Variable("AuthCacheCtrlr", "Enabled"),
    "LocalAuthListEnabled": commands.Variable("LocalAuthListCtrlr", "Enabled"),
    "LocalAuthListMaxLength": commands.Variable("LocalAuthListCtrlr", "Entries"),
    "SendLocalListMaxLength": commands.Variable("LocalAuthListCtrlr", "ItemsPerMessage"),
}


async def boot_notification(ctx: ChargerContext, p: Payload) -> Payload:
    station = p["chargingStation"]
    modem = station.get("modem", {})
    info = chargepoints.BootInfo(
        vendor=station["vendorName"],
        model=station["model"],
        serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"),
        iccid=modem.get("iccid"),
        imsi=modem.get("imsi"),
    )
    return await common.boot(ctx, info)


async def authorize(ctx: ChargerContext, p: Payload) -> Payload:
    return {"idTokenInfo": id_token_info(await ctx.charging.authorize(p["idToken"]["idToken"]))}


async def status_notification(ctx: ChargerContext, p: Payload) -> Payload:
    evse_id = p["evseId"]
    if evse_id == 0:
        return {}  # the whole station; kept in the message log
    at = timestamp(p["timestamp"])
    charging = ctx.charging
    plugs, current = await charging.record_plug_status(
        evse_id, p["connectorId"], p["connectorStatus"], at
    )
    await charging.record_status(evse_id, _evse_status(plugs, current), None, at)
    return {}


def _evse_status(plugs: list[str], current: str | None) -> str:
    """The EVSE's status in domain words; an occupied EVSE keeps its finer charging state."""
    busiest = min(plugs, key=_PLUG_STATUS_ORDER.index)
    if busiest == ConnectorStatus.OCCUPIED and current in _FINER:
        return current
    return _PLUG_STATUSES.get(busiest, busiest)


async def meter_values(ctx: ChargerContext, p: Payload) -> Payload:
    evse_id = p["evseId"]
    # EVSE 0 is the station's main meter: no EVSE to show it on, only the log.
    readings = readings_of(p["meterValue"]) if evse_id != 0 else []
    return await common.store_readings(ctx, evse_id, None, readings, call=p)


async def notify_report(ctx: ChargerContext, p: Payload) -> Payload:
    part = reports.ReportPart(
        charge_point_id=ctx.charge_point_id,
        request_id=p["requestId"],
        seq_no=p["seqNo"],
        generated_at=timestamp(p["generatedAt"]),
        more_follows=p.get("tbc", False),
        entries=p.get("reportData", []),
    )
    await ctx.charging.store_report(part)
    return {}


async def report_charging_profiles(ctx: ChargerContext, p: Payload) -> Payload:
    notice = charging_notices.Notice(
        NoticeKind.PROFILES, p["evseId"], p["chargingLimitSource"], p, p["requestId"]
    )
    await ctx.charging.store_notice(notice)
    return {}


async def notify_charging_limit(ctx: ChargerContext, p: Payload) -> Payload:
    source = p["chargingLimit"]["chargingLimitSource"]
    await ctx.charging.store_notice(
        charging_notices.Notice(NoticeKind.LIMIT, p.get("evseId"), source, p)
    )
    return {}


async def cleared_charging_limit(ctx: ChargerContext, p: Payload) -> Payload:
    notice = charging_notices.Notice(
        NoticeKind.LIMIT_CLEARED, p.get("evseId"), p["chargingLimitSource"], p
    )
    await ctx.charging.store_notice(notice)
    return {}


async def ev_charging_needs(ctx: ChargerContext, p: Payload) -> Payload:
    await ctx.charging.store_notice(
        charging_notices.Notice(NoticeKind.EV_NEEDS, p["evseId"], None, p)
    )
    # Kept for the operator; no schedule is computed from it, and Rejected tells the
    # charger not to wait for one (an operator's TxProfile is welcome all the same).
    return {"status": "Rejected"}


def encode(command: commands.Command, settings: OcppSettings) -> tuple[str, Payload]:
    match command:
        case commands.Reset(hard=hard, connector_id=evse):
            return "Reset", without_none(type="Immediate" if hard else "OnIdle", evseId=evse)
        case commands.UnlockConnector(connector_id=evse, plug_id=plug):
            return "UnlockConnector", {"evseId": evse, "connectorId": plug}
        case commands.RemoteStart(
            connector_id=evse, id_tag=tag, remote_start_id=request_id, profile=profile
        ):
            token = {"idToken": tag, "type": settings.id_token_type}
            payload = without_none(
                idToken=token,
                remoteStartId=request_id,
                evseId=evse,
                chargingProfile=None if profile is None else _profile(profile),
            )
            return "RequestStartTransaction", payload
        case commands.RemoteStop(transaction_id=transaction_id, uid=uid):
            return "RequestStopTransaction", {"transactionId": uid or str(transaction_id)}
        case commands.GetVariables(variables=variables):
            return "GetVariables", {"getVariableData": [_variable(v) for v in variables]}
        case commands.SetVariables(variable=variable, value=value):
            data = {"attributeValue": value, **_variable(variable)}
            return "SetVariables", {"setVariableData": [data]}
        case commands.GetConfiguration(keys=()):
            raise CommandNotSupported("2.0.1 has no list of all keys; use GetBaseReport")
        case commands.GetConfiguration(keys=keys):
            return encode(commands.GetVariables(tuple(_variable_of(key) for key in keys)), settings)
        case commands.ChangeConfiguration(key=key, value=value):
            return encode(commands.SetVariables(_variable_of(key), value), settings)
        case commands.GetBaseReport(request_id=request_id, report=report):
            return "GetBaseReport", {"requestId": request_id, "reportBase": report}
        case commands.TriggerMessage(message=message) if message not in TRIGGERABLE_201:
            raise common.not_triggerable("2.0.1", message, TRIGGERABLE_201)
        case commands.TriggerMessage(message=message, connector_id=evse):
            return "TriggerMessage", _trigger(message, evse)
        case commands.ChangeAvailability(connector_id=evse, operative=operative):
            status = "Operative" if operative else "Inoperative"
            return "ChangeAvailability", without_none(
                operationalStatus=status, evse={"id": evse} if evse else None
            )
        case commands.ClearCache():
            return "ClearCache", {}
        case commands.DataTransfer(vendor_id=vendor, message_id=message_id, data=data):
            return "DataTransfer", without_none(vendorId=vendor, messageId=message_id, data=data)
        # -- firmware and diagnostics --
        case commands.UpdateFirmware():
            firmware = {
                "location": command.location,
                "retrieveDateTime": format_timestamp(command.retrieve_at),
            }
            return "UpdateFirmware", without_none(
                requestId=command.request_id,
                firmware=firmware,
                retries=command.retries,
                retryInterval=command.retry_interval,
            )
        case commands.GetLog():
            return "GetLog", common.get_log(command)
        # -- smart charging --
        case commands.SetChargingProfile(connector_id=evse, profile=profile):
            return "SetChargingProfile", {"evseId": evse, "chargingProfile": _profile(profile)}
        case commands.ClearChargingProfile(
            profile_id=profile_id, connector_id=evse, purpose=purpose, stack_level=level
        ):
            criteria = without_none(
                evseId=evse, chargingProfilePurpose=_purpose(purpose), stackLevel=level
            )
            return "ClearChargingProfile", without_none(
                chargingProfileId=profile_id, chargingProfileCriteria=criteria or None
            )
        case commands.GetCompositeSchedule(connector_id=evse, duration_s=duration, unit=unit):
            return "GetCompositeSchedule", without_none(
                evseId=evse, duration=duration, chargingRateUnit=unit
            )
        case commands.GetChargingProfiles(
            request_id=request_id, evse_id=evse, purpose=purpose, stack_level=level, profile_ids=ids
        ):
            criterion = without_none(
                chargingProfilePurpose=_purpose(purpose),
                stackLevel=level,
                chargingProfileId=list(ids) or None,
            )
            return "GetChargingProfiles", without_none(
                requestId=request_id, evseId=evse, chargingProfile=criterion
            )
        # -- reservations --
        case commands.ReserveNow():
            return "ReserveNow", _reserve_now(command, settings)
        case commands.CancelReservation(reservation_id=reservation_id):
            return "CancelReservation", {"reservationId": reservation_id}
        # -- local lists and authorization settings --
        case commands.SendLocalList(version=version, full=full, entries=entries):
            # An empty full list clears the charger's; 2.0.1 then leaves the list out.
            items = [_list_entry(entry, settings) for entry in entries] or None
            update = "Full" if full else "Differential"
            payload = without_none(
                versionNumber=version, updateType=update, localAuthorizationList=items
            )
            return "SendLocalList", payload
        case commands.GetLocalListVersion():
            return "GetLocalListVersion", {}
        case commands.ReadSetting(key=key):
            return encode(commands.GetVariables((_variable_of(key),)), settings)
        case commands.ReadReservationSupport():
            return encode(commands.GetVariables(RESERVATION_SUPPORT), settings)


def _purpose(purpose: commands.ProfilePurpose | None) -> str | None:
    """2.0.1 names the charger's own maximum after the station."""
    if purpose == "ChargePointMaxProfile":
        return "ChargingStationMaxProfile"
    return purpose


def _profile(profile: commands.ChargingProfile) -> Payload:
    schedule = without_none(
        id=profile.profile_id,  # one schedule per profile: its id is free to reuse
        startSchedule=optional_timestamp(profile.start_schedule),
        duration=profile.duration_s,
        chargingRateUnit=profile.unit,
        chargingSchedulePeriod=common.schedule_periods(profile),
    )
    return without_none(
        id=profile.profile_id,
        stackLevel=profile.stack_level,
        chargingProfilePurpose=_purpose(profile.purpose),
        chargingProfileKind=profile.kind,
        recurrencyKind=profile.recurrency,
        validFrom=optional_timestamp(profile.valid_from),
        validTo=optional_timestamp(profile.valid_to),
        transactionId=profile.transaction_uid,
        chargingSchedule=[schedule],
    )


def _reserve_now(command: commands.ReserveNow, settings: OcppSettings) -> Payload:
    parent = command.parent_id_tag
    return without_none(
        id=command.reservation_id,
        expiryDateTime=format_timestamp(command.expires_at),
        connectorType=command.connector_type,
        idToken={"idToken": command.id_tag, "type": settings.id_token_type},
        evseId=command.connector_id or None,  # none: any EVSE
        groupIdToken=None if parent is None else {"idToken": parent, "type": "Central"},
    )


async def reservation_status_update(ctx: ChargerContext, p: Payload) -> Payload:
    ending = CHARGER_ENDINGS[p["reservationUpdateStatus"]]
    await ctx.charging.end_reservation(p["reservationId"], ending)
    return {}


def _list_entry(entry: commands.ListEntry, settings: OcppSettings) -> Payload:
    token = {"idToken": entry.tag, "type": settings.id_token_type}
    if entry.status is None:
        return {"idToken": token}
    auth = Authorization(AuthStatus(entry.status), entry.expires_at, entry.group)
    return {"idToken": token, "idTokenInfo": id_token_info(auth)}


def _variable(variable: commands.Variable) -> Payload:
    evse = (
        None
        if variable.evse_id is None
        else without_none(id=variable.evse_id, connectorId=variable.connector_id)
    )
    return {
        "component": without_none(name=variable.component, evse=evse, instance=variable.instance),
        "variable": {"name": variable.variable},
    }


def _variable_of(key: str) -> commands.Variable:
    variable = CONFIGURATION_KEYS.get(key)
    if variable is None:
        raise CommandNotSupported(
            f"configuration key {key!r} names no 2.0.1 variable; use GetVariables or GetBaseReport"
        )
    return variable


def _trigger(message: str, evse: int | None) -> Payload:
    # 2.0.1 renamed the diagnostics upload to a log upload.
    requested = "LogStatusNotification" if message == "DiagnosticsStatusNotification" else message
    if evse is None:
        return {"requestedMessage": requested}
    # A status is per plug in 2.0.1: ask for the first plug of the EVSE.
    target = {"id": evse, "connectorId": 1} if requested == "StatusNotification" else {"id": evse}
    return {"requestedMessage": requested, "evse": target}


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": common.heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "TransactionEvent": v201_transactions.transaction_event,
    "MeterValues": meter_values,
    "NotifyReport": notify_report,
    "NotifyEvent": common.acknowledge,
    "SecurityEventNotification": common.acknowledge,
    "FirmwareStatusNotification": common.progress("firmware"),
    "LogStatusNotification": common.progress("diagnostics"),
    "NotifyChargingLimit": notify_charging_limit,
    "ClearedChargingLimit": cleared_charging_limit,
    "ReportChargingProfiles": report_charging_profiles,
    # A local controller's firmware publishing: kept in the message log (what a trigger asks).
    "PublishFirmwareStatusNotification": common.acknowledge,
    "NotifyEVChargingNeeds": ev_charging_needs,
    "ReservationStatusUpdate": reservation_status_update,
    "DataTransfer": common.data_transfer,
    "SignCertificate": common.sign_certificate,
}


def status_of(command: commands.Command, answer: Payload) -> str | None:
    """A variable's write is answered per variable; every other command with one status.

    The commands that read a value (a list's version, a setting) answer with the value.
    """
    if isinstance(command, commands.SetVariables | commands.ChangeConfiguration):
        results = answer.get("setVariableResult") or [{}]
        return status(results[0], "attributeStatus")
    if isinstance(command, commands.GetLocalListVersion):
        return str(answer.get("versionNumber"))
    if isinstance(command, commands.ReadSetting):
        read = (answer.get("getVariableResult") or [{}])[0]
        return status(read, "attributeValue") if read.get("attributeStatus") == "Accepted" else None
    if isinstance(command, commands.ReadReservationSupport):
        return _takes_reservations(answer)
    return status(answer)


# Whether the station has a reservation controller (Available) and uses it (Enabled).
RESERVATION_SUPPORT = (
    commands.Variable("ReservationCtrlr", "Available"),
    commands.Variable("ReservationCtrlr", "Enabled"),
)


def _takes_reservations(answer: Payload) -> str:
    """A 2.0.1 station takes reservations when its controller is enabled and not said absent.

    Available is optional in the device model: a station that knows only Enabled has one.
    """
    read = {
        result.get("variable", {}).get("name"): str(result.get("attributeValue", "")).lower()
        for result in answer.get("getVariableResult", [])
        if result.get("attributeStatus") == "Accepted"
    }
    takes = read.get("Enabled") == "true" and read.get("Available", "true") == "true"
    return "true" if takes else "false"


ADAPTER = ProtocolAdapter(
    subprotocol="ocpp2.0.1",
    schemas=SchemaSet("v201", request_suffix="Request"),
    handlers=HANDLERS,
    encode=encode,
    status_of=status_of,
    always_logged=frozenset({"SecurityEventNotification"}),
    logged_by_handler=frozenset({"MeterValues"}),
)

ADAPTER_21 = replace(ADAPTER, subprotocol="ocpp2.1", schemas=SchemaSet("v21", "Request"))
