"""OCPP 2.0.1 adapter: 2.0.1 payloads in, domain calls, 2.0.1 payloads out.

The domain's charging position is the 2.0.1 EVSE (what a transaction runs on and
a driver pays for); the plugs of an EVSE are kept beside it. Transactions carry
the charger's own string id as their ``uid``. OCPP 2.1 is served by the same
handlers against its own schemas: the messages handled here kept their shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.clock import format_timestamp, utc_now
from ocpp_core.config import OcppSettings
from ocpp_core.db.models import Transaction
from ocpp_core.domain import chargepoints, commands, connectors, reports, transactions
from ocpp_core.domain.authorization import Authorization, AuthStatus
from ocpp_core.domain.meter import sample_from_v201
from ocpp_core.ocpp import common
from ocpp_core.ocpp.adapter import ChargerContext, Handler, ProtocolAdapter
from ocpp_core.ocpp.common import Payload, timestamp, without_none
from ocpp_core.ocpp.errors import CommandNotSupported
from ocpp_core.ocpp.framing import ErrorCode, FrameError
from ocpp_core.ocpp.schemas import SchemaSet

logger = logging.getLogger(__name__)

# The domain's connector status words; 2.0.1 splits them into the plug's status
# and the transaction's charging state.
_CHARGING_STATES = {
    "Charging": "Charging",
    "SuspendedEV": "SuspendedEV",
    "SuspendedEVSE": "SuspendedEVSE",
    "EVConnected": "Preparing",
}
# An EVSE is as busy as its busiest plug.
_PLUG_STATUS_ORDER = ("Occupied", "Faulted", "Reserved", "Unavailable", "Available")
_PLUG_STATUSES = {"Occupied": "Preparing", "Faulted": "Faulted", "Reserved": "Reserved"}
_IN_SESSION = frozenset({*_CHARGING_STATES.values(), "Finishing"})

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
}


def _id_token_info(auth: Authorization) -> Payload:
    info: Payload = {"status": auth.status.value}
    if auth.expires_at is not None:
        info["cacheExpiryDateTime"] = format_timestamp(auth.expires_at)
    if auth.group is not None:
        info["groupIdToken"] = {"idToken": auth.group, "type": "Central"}
    return info


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
    return {"idTokenInfo": _id_token_info(await common.authorize(ctx, p["idToken"]["idToken"]))}


async def status_notification(ctx: ChargerContext, p: Payload) -> Payload:
    evse_id = p["evseId"]
    if evse_id == 0:
        return {}  # the whole station; kept in the message log
    at = timestamp(p["timestamp"])
    async with ctx.runtime.db.session() as session:
        plugs = await connectors.record_plug_status(
            session,
            ctx.charge_point_id,
            evse_id,
            p["connectorId"],
            status=p["connectorStatus"],
            at=at,
        )
        current = await connectors.find(session, ctx.charge_point_id, evse_id)
    status = _evse_status(plugs, current.status if current is not None else None)
    await common.record_status(ctx, evse_id, status, None, at)
    return {}


def _evse_status(plugs: list[str], current: str | None) -> str:
    """The EVSE's status in domain words; an occupied EVSE keeps its finer charging state."""
    busiest = min(plugs, key=_PLUG_STATUS_ORDER.index)
    if busiest == "Occupied" and current in _IN_SESSION:
        return current
    return _PLUG_STATUSES.get(busiest, busiest)


async def meter_values(ctx: ChargerContext, p: Payload) -> Payload:
    evse_id = p["evseId"]
    if evse_id == 0:
        return {}  # the station's main meter: no EVSE to show it on
    await common.store_readings(ctx, evse_id, None, _readings(p["meterValue"]))
    return {}


def _readings(meter_values: list[Payload]) -> common.Readings:
    return common.decode_readings(meter_values, sample_from_v201)


async def transaction_event(ctx: ChargerContext, p: Payload) -> Payload:
    readings = _readings(p.get("meterValue", []))
    uid = p["transactionInfo"]["transactionId"]
    async with ctx.runtime.db.session() as session:
        row = await transactions.find_by_uid(session, ctx.charge_point_id, uid)
        if row is None:
            if p["eventType"] != "Started":
                return _unknown_transaction(p)
            row = await _start(ctx, session, p, uid, readings)
            identified = row.start_tag != transactions.NOT_IDENTIFIED
            step = _Step(row, _recorded(row), identified=identified)
        else:
            step = await _continue(ctx, session, row, p, readings)
    status = _charging_status(p["transactionInfo"].get("chargingState"), p["eventType"])
    if status is not None:
        await common.record_status(ctx, row.connector_id, status, None, timestamp(p["timestamp"]))
    await _publish(ctx, step)
    return {"idTokenInfo": _id_token_info(step.auth)} if "idToken" in p else {}


@dataclass(frozen=True, slots=True)
class _Step:
    """What one TransactionEvent did, for the events published once it is committed."""

    row: Transaction
    auth: Authorization  # the answer for the event's idToken
    identified: bool = False  # the transaction got its tag now: it starts for the payments
    at_limit: dict[int, int] = field(default_factory=dict)
    stopped: bool = False


def _recorded(row: Transaction) -> Authorization:
    return Authorization(AuthStatus(row.start_result))


def _unknown_transaction(p: Payload) -> Payload:
    if p["eventType"] == "Ended":
        return {}  # a replayed end of a transaction we closed or never knew: nothing to do
    raise FrameError(
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        f"transaction {p['transactionInfo']['transactionId']!r} was never started",
    )


async def _start(
    ctx: ChargerContext, session: AsyncSession, p: Payload, uid: str, readings: common.Readings
) -> Transaction:
    evse = p.get("evse")
    if evse is None:
        raise FrameError(
            ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, "a started transaction needs its evse"
        )
    tag = p["idToken"]["idToken"] if "idToken" in p else None
    info = p["transactionInfo"]
    begin = transactions.TransactionStart(
        charge_point_id=ctx.charge_point_id,
        connector_id=evse["id"],
        tag=tag or transactions.NOT_IDENTIFIED,
        started_at=timestamp(p["timestamp"]),
        # Without one, the transaction's first register (an Updated event's) stands in.
        meter_start_wh=next(iter(common.registers(readings)), None),
        uid=uid,
        seq_no=p["seqNo"],
        remote_start_id=info.get("remoteStartId"),
    )
    result = (await common.authorize_start(ctx, session, tag)).status.value if tag else "Accepted"
    row = await transactions.start(session, begin, result=result)
    await common.apply_readings(ctx, session, row.connector_id, row.id, readings)
    return row


async def _continue(
    ctx: ChargerContext,
    session: AsyncSession,
    row: Transaction,
    p: Payload,
    readings: common.Readings,
) -> _Step:
    skipped = transactions.note_sequence(row, p["seqNo"])
    if skipped:
        logger.warning(
            "%s: transaction %s skipped %d event(s) before seqNo %d",
            ctx.charge_point_id,
            row.uid,
            skipped,
            p["seqNo"],
        )
    info = p["transactionInfo"]
    if row.remote_start_id is None:
        row.remote_start_id = info.get("remoteStartId")
    identified = False
    if "idToken" in p and row.start_tag == transactions.NOT_IDENTIFIED:
        tag = p["idToken"]["idToken"]
        auth = await common.authorize_start(ctx, session, tag)
        transactions.identify(row, tag=tag, result=auth.status.value)
        identified = True
    if p["eventType"] != "Ended" or row.stop_at is not None:
        at_limit = await common.apply_readings(ctx, session, row.connector_id, row.id, readings)
        return _Step(row, _recorded(row), identified, at_limit)
    end = transactions.TransactionStop(
        charge_point_id=ctx.charge_point_id,
        transaction_id=row.id,
        tag=p["idToken"]["idToken"] if "idToken" in p else None,
        stopped_at=timestamp(p["timestamp"]),
        meter_stop_wh=next(reversed(common.registers(readings)), None),
        reason=info.get("stoppedReason", "Local"),
    )
    auth = await common.finish_transaction(ctx, session, row, end, readings)
    return _Step(row, auth, identified, stopped=True)


def _charging_status(state: str | None, event_type: str) -> str | None:
    if state is None or state == "Idle":
        return None
    if event_type == "Ended":
        return "Finishing"  # the transaction is over and the car still plugged in
    return _CHARGING_STATES[state]


async def _publish(ctx: ChargerContext, step: _Step) -> None:
    row = step.row
    if step.identified:
        await common.publish_started(ctx, row, row.start_result == AuthStatus.ACCEPTED.value)
    await common.publish_limits(ctx, row.connector_id, step.at_limit)
    if step.stopped:
        await common.publish_stopped(ctx, row)


async def notify_report(ctx: ChargerContext, p: Payload) -> Payload:
    part = reports.ReportPart(
        charge_point_id=ctx.charge_point_id,
        request_id=p["requestId"],
        seq_no=p["seqNo"],
        generated_at=timestamp(p["generatedAt"]),
        more_follows=p.get("tbc", False),
        data=json.dumps(p.get("reportData", [])),
    )
    async with ctx.runtime.db.session() as session:
        await reports.store(session, part, now=ctx.runtime.clock())
    return {}


async def ev_charging_needs(ctx: ChargerContext, p: Payload) -> Payload:
    # No smart charging here, so no schedule will follow; Rejected tells the charger so.
    return {"status": "Rejected"}


def encode(command: commands.Command, settings: OcppSettings) -> tuple[str, Payload]:
    match command:
        case commands.Reset(hard=hard, connector_id=evse):
            return "Reset", without_none(type="Immediate" if hard else "OnIdle", evseId=evse)
        case commands.UnlockConnector(connector_id=evse, plug_id=plug):
            return "UnlockConnector", {"evseId": evse, "connectorId": plug}
        case commands.SetChargingLimit():
            return "SetChargingProfile", _charging_limit(command)
        case commands.ClearChargingLimit(connector_id=evse):
            return "ClearChargingProfile", {"chargingProfileId": common.limit_profile_id(evse)}
        case commands.RemoteStart(connector_id=evse, id_tag=tag, remote_start_id=request_id):
            token = {"idToken": tag, "type": settings.id_token_type}
            payload = without_none(idToken=token, remoteStartId=request_id, evseId=evse)
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


def _charging_limit(command: commands.SetChargingLimit) -> Payload:
    profile_id = common.limit_profile_id(command.connector_id)
    return {
        "evseId": command.connector_id,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {
                    "id": profile_id,
                    "startSchedule": format_timestamp(utc_now()),
                    "chargingRateUnit": command.unit,
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": float(command.limit)}],
                }
            ],
        },
    }


HANDLERS: dict[str, Handler] = {
    "BootNotification": boot_notification,
    "Heartbeat": common.heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "TransactionEvent": transaction_event,
    "MeterValues": meter_values,
    "NotifyReport": notify_report,
    "NotifyEvent": common.acknowledge,
    "SecurityEventNotification": common.acknowledge,
    "FirmwareStatusNotification": common.progress("firmware"),
    "LogStatusNotification": common.progress("diagnostics"),
    "NotifyChargingLimit": common.acknowledge,
    "ClearedChargingLimit": common.acknowledge,
    "NotifyEVChargingNeeds": ev_charging_needs,
    "ReservationStatusUpdate": common.acknowledge,
    "DataTransfer": common.data_transfer,
    "SignCertificate": common.sign_certificate,
}

ADAPTER = ProtocolAdapter(
    subprotocol="ocpp2.0.1",
    schemas=SchemaSet("v201", request_suffix="Request"),
    handlers=HANDLERS,
    encode=encode,
    always_logged=frozenset({"SecurityEventNotification"}),
)

ADAPTER_21 = replace(ADAPTER, subprotocol="ocpp2.1", schemas=SchemaSet("v21", "Request"))
