"""OCPP 2.0.1 mapping: the ``ocpp`` library's v201 ChargePoint in the charger role.

Each connector of the behaviour is an EVSE with one plug. The behaviour numbers
transactions with integers; a 2.0.1 charger names them itself, so the number is
drawn at random and its decimal string is the ``transactionId`` — the mapping
needs no state and survives reconnects. Event numbers (``seqNo``) are counted
per transaction for the life of the process.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

from ocpp.v201 import ChargePoint, call, call_result
from websockets.asyncio.client import ClientConnection

from ocpp_core.ocpp.v201 import CONFIGURATION_KEYS

from .behaviour import ChargerBehaviour
from .config import ConfigChange, ConfigEntry
from .model import (
    AvailabilityOutcome,
    BootResult,
    Connector,
    ConnectorStatus,
    FinishedTransaction,
    FirmwareStep,
    MeterSample,
    Registration,
    Reservation,
    ReserveOutcome,
    SampleContext,
    StartResult,
    StopReason,
    Trigger,
    UploadStep,
)
from .profiles import CHARGER_MAX, Installed
from .wire import (
    MODEL,
    VENDOR,
    WIRE_LOGGER,
    LinkBase,
    after_call,
    on_call,
    parse_time,
    periods_of,
    time_of,
    timestamp,
)

_PLUG_STATUS = {
    ConnectorStatus.AVAILABLE: "Available",
    ConnectorStatus.RESERVED: "Reserved",
    ConnectorStatus.UNAVAILABLE: "Unavailable",
}
_CHARGING_STATE = {
    ConnectorStatus.PREPARING: "EVConnected",
    ConnectorStatus.CHARGING: "Charging",
    ConnectorStatus.SUSPENDED_EV: "SuspendedEV",
}
_STOPPED = {
    StopReason.LOCAL: ("StopAuthorized", "Local"),
    StopReason.REMOTE: ("RemoteStop", "Remote"),
    StopReason.EV_DISCONNECTED: ("EVCommunicationLost", "EVDisconnected"),
    StopReason.SOFT_RESET: ("ResetCommand", "Reboot"),
    StopReason.HARD_RESET: ("ResetCommand", "ImmediateReset"),
    StopReason.UNLOCK_COMMAND: ("UnlockCommand", "Other"),
}
_TRIGGERS = {
    "BootNotification": Trigger.BOOT,
    "Heartbeat": Trigger.HEARTBEAT,
    "StatusNotification": Trigger.STATUS,
    "MeterValues": Trigger.METER_VALUES,
    "FirmwareStatusNotification": Trigger.FIRMWARE_STATUS,
    "LogStatusNotification": Trigger.UPLOAD_STATUS,
}
_KEYS = {(v.component, v.variable): key for key, v in CONFIGURATION_KEYS.items()}
# 2.0.1 variables with no 1.6 key: the station's own make-up, which nobody changes.
# The reservation controller is there and on, as 1.6 lists the Reservation profile.
_STATION: dict[tuple[str, str], ConfigEntry] = {
    ("ReservationCtrlr", "Available"): ConfigEntry("true", readonly=True),
    ("ReservationCtrlr", "Enabled"): ConfigEntry("true", readonly=True),
}
_TAG_TYPE = "ISO14443"  # an RFID card, the kind a driver presents
_SET_STATUS = {
    ConfigChange.ACCEPTED: "Accepted",
    ConfigChange.REJECTED: "Rejected",
    ConfigChange.NOT_SUPPORTED: "NotSupportedAttributeType",
}


def _meter_value(sample: MeterSample, context: SampleContext) -> dict[str, Any]:
    def value(measurand: str, number: float, unit: str, **extra: str) -> dict[str, Any]:
        return {
            "measurand": measurand,
            "value": round(number, 3),
            "unit_of_measure": {"unit": unit},
            "context": context.value,
            **extra,
        }

    values = [
        value("Energy.Active.Import.Register", sample.energy_wh / 1000, "kWh"),
        value("Power.Active.Import", sample.power_w, "W"),
        *(value("Current.Import", sample.current_a, "A", phase=p) for p in ("L1", "L2", "L3")),
    ]
    if sample.soc is not None:
        values.append(value("SoC", sample.soc, "Percent", location="EV"))
    return {"timestamp": timestamp(sample.timestamp), "sampled_value": values}


def _token(id_tag: str) -> dict[str, str]:
    return {"id_token": id_tag, "type": _TAG_TYPE}


class V201Link(ChargePoint, LinkBase):  # type: ignore[misc]  # the ocpp package is untyped
    """One OCPP 2.0.1 connection of a virtual charger."""

    _sequences: ClassVar[dict[int, Iterator[int]]] = {}

    def __init__(
        self, charger: ChargerBehaviour, connection: ClientConnection, response_timeout: float
    ) -> None:
        super().__init__(charger.id, connection, response_timeout, logger=WIRE_LOGGER)
        self._setup(charger)
        self._remote_start_ids: dict[int, int] = {}

    def _next_seq_no(self, transaction_id: int) -> int:
        return next(self._sequences.setdefault(transaction_id, itertools.count()))

    async def _event(
        self, kind: str, transaction_id: int, trigger: str, **fields: Any
    ) -> call_result.TransactionEvent:
        info = {"transaction_id": str(transaction_id), **fields.pop("info", {})}
        return await self._request(
            call.TransactionEvent(
                event_type=kind,
                timestamp=self._now(),
                trigger_reason=trigger,
                seq_no=self._next_seq_no(transaction_id),
                transaction_info=info,
                **fields,
            )
        )

    # -- charger -> central system ---------------------------------------

    async def boot(self) -> BootResult:
        settings = self._charger.settings
        station = {
            "vendor_name": VENDOR,
            "model": MODEL,
            "serial_number": settings.serial_number,
            "firmware_version": settings.firmware_version,
        }
        result = await self._request(call.BootNotification(station, "PowerUp"))
        return BootResult(Registration(result.status), int(result.interval))

    async def heartbeat(self) -> None:
        await self._request(call.Heartbeat())

    async def status(self, connector_id: int, status: ConnectorStatus) -> None:
        if connector_id == 0:
            return  # 2.0.1 reports the station's availability per EVSE only
        plug = _PLUG_STATUS.get(status, "Occupied")
        await self._request(call.StatusNotification(self._now(), plug, connector_id, 1))
        transaction = self._charger.connector(connector_id).transaction
        if transaction is not None and status in _CHARGING_STATE:
            await self._event(
                "Updated",
                transaction.transaction_id,
                "ChargingStateChanged",
                info={"charging_state": _CHARGING_STATE[status]},
            )

    async def authorize(self, id_tag: str) -> bool:
        result = await self._request(call.Authorize(_token(id_tag)))
        return bool(result.id_token_info["status"] == "Accepted")

    async def start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, reservation_id: int | None
    ) -> StartResult:
        transaction_id = secrets.randbelow(2**31 - 1) + 1
        remote_start_id = self._remote_start_ids.pop(connector_id, None)
        begin = {
            "measurand": "Energy.Active.Import.Register",
            "value": meter_start,
            "unit_of_measure": {"unit": "Wh"},
            "context": "Transaction.Begin",
        }
        result = await self._event(
            "Started",
            transaction_id,
            "Authorized" if remote_start_id is None else "RemoteStart",
            evse={"id": connector_id, "connector_id": 1},
            id_token=_token(id_tag),
            meter_value=[{"timestamp": self._now(), "sampled_value": [begin]}],
            info={"charging_state": "Charging", "remote_start_id": remote_start_id},
            reservation_id=reservation_id,
        )
        accepted = result.id_token_info is not None and result.id_token_info["status"] == "Accepted"
        return StartResult(transaction_id, accepted)

    async def meter_values(
        self,
        connector_id: int,
        transaction_id: int | None,
        sample: MeterSample,
        context: SampleContext,
    ) -> None:
        reading = [_meter_value(sample, context)]
        if transaction_id is None:
            await self._request(call.MeterValues(evse_id=connector_id, meter_value=reading))
            return
        trigger = "Trigger" if context is SampleContext.TRIGGER else "MeterValuePeriodic"
        await self._event("Updated", transaction_id, trigger, meter_value=reading)

    async def stop_transaction(self, finished: FinishedTransaction) -> None:
        tx, final = finished.transaction, finished.final
        trigger, reason = _STOPPED[finished.reason]
        await self._event(
            "Ended",
            tx.transaction_id,
            trigger,
            meter_value=[_meter_value(final, SampleContext.TRANSACTION_END)],
            info={"stopped_reason": reason},
        )
        self._sequences.pop(tx.transaction_id, None)

    async def reservation_expired(self, reservation_id: int) -> None:
        await self._request(call.ReservationStatusUpdate(reservation_id, "Expired"))

    # -- central system -> charger ---------------------------------------

    @on_call("RequestStartTransaction")
    def on_request_start(
        self,
        id_token: dict[str, Any],
        remote_start_id: int,
        call_unique_id: str,
        evse_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        tag = str(id_token["id_token"])
        connector = self._charger.claim_remote_start(evse_id, tag)
        if connector is None:
            return call_result.RequestStartTransaction(status="Rejected")
        if charging_profile is not None:  # the transaction's own profile, from its start
            self._charger.charging_profiles.install(
                self._installed(connector.connector_id, charging_profile)
            )
        self._remote_start_ids[connector.connector_id] = remote_start_id
        self._defer(call_unique_id, lambda: self._remote_start(connector, tag))
        return call_result.RequestStartTransaction(status="Accepted")

    async def _remote_start(self, connector: Connector, tag: str) -> None:
        """A start that gave up waiting for the car leaves its id to no later session."""
        try:
            await self._charger.remote_start(connector, tag)
        finally:
            self._remote_start_ids.pop(connector.connector_id, None)

    @after_call("RequestStartTransaction")
    def after_request_start(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("RequestStopTransaction")
    def on_request_stop(self, transaction_id: str, call_unique_id: str, **_: Any) -> Any:
        ours = int(transaction_id) if transaction_id.isdigit() else None
        connector = None if ours is None else self._charger.claim_remote_stop(ours)
        if connector is None:
            return call_result.RequestStopTransaction(status="Rejected")
        self._defer(call_unique_id, lambda: self._charger.remote_stop(connector))
        return call_result.RequestStopTransaction(status="Accepted")

    @after_call("RequestStopTransaction")
    def after_request_stop(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("Reset")
    def on_reset(self, type: str, call_unique_id: str, evse_id: int | None = None, **_: Any) -> Any:
        if evse_id is not None:
            return call_result.Reset(status="Rejected")  # the simulator resets whole
        self._defer(call_unique_id, lambda: self._charger.reset(hard=type == "Immediate"))
        return call_result.Reset(status="Accepted")

    @after_call("Reset")
    def after_reset(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("ChangeAvailability")
    def on_change_availability(
        self,
        operational_status: str,
        call_unique_id: str,
        evse: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        connector_id = 0 if evse is None else int(evse["id"])
        outcome = self._charger.availability_outcome(connector_id)
        if outcome is not AvailabilityOutcome.REJECTED:
            operative = operational_status == "Operative"
            self._defer(
                call_unique_id,
                lambda: self._charger.change_availability(connector_id, operative),
            )
        return call_result.ChangeAvailability(status=outcome.value)

    @after_call("ChangeAvailability")
    def after_change_availability(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("TriggerMessage")
    def on_trigger_message(
        self,
        requested_message: str,
        call_unique_id: str,
        evse: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        what = _TRIGGERS.get(requested_message)
        if what is None:
            return call_result.TriggerMessage(status="NotImplemented")
        connector_id = None if evse is None else int(evse["id"])
        if not self._valid_connector(connector_id):
            return call_result.TriggerMessage(status="Rejected")
        self._defer(call_unique_id, lambda: self._charger.trigger(what, connector_id))
        return call_result.TriggerMessage(status="Accepted")

    @after_call("TriggerMessage")
    def after_trigger_message(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("UnlockConnector")
    def on_unlock_connector(
        self, evse_id: int, connector_id: int, call_unique_id: str, **_: Any
    ) -> Any:
        if connector_id != 1 or not self._valid_connector(evse_id, allow_zero=False):
            return call_result.UnlockConnector(status="UnknownConnector")
        self._defer(
            call_unique_id, lambda: self._charger.unplug(evse_id, StopReason.UNLOCK_COMMAND)
        )
        return call_result.UnlockConnector(status="Unlocked")

    @after_call("UnlockConnector")
    def after_unlock_connector(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        return call_result.GetVariables([self._get(data) for data in get_variable_data])

    def _variables(self) -> dict[tuple[str, str], ConfigEntry]:
        """Every variable the station has: its configuration keys in 2.0.1 names, and its own."""
        known, _unknown = self._charger.config.lookup(CONFIGURATION_KEYS)
        named = {
            (CONFIGURATION_KEYS[key].component, CONFIGURATION_KEYS[key].variable): entry
            for key, entry in known.items()
        }
        return named | _STATION

    def _get(self, data: dict[str, Any]) -> dict[str, Any]:
        entry = self._variables().get((data["component"]["name"], data["variable"]["name"]))
        if entry is None:
            return {"attribute_status": "UnknownVariable", **_named(data)}
        return {"attribute_status": "Accepted", "attribute_value": entry.value, **_named(data)}

    @on_call("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        return call_result.SetVariables([self._set(data) for data in set_variable_data])

    def _set(self, data: dict[str, Any]) -> dict[str, Any]:
        named = (data["component"]["name"], data["variable"]["name"])
        if named in _STATION:
            return {"attribute_status": "Rejected", **_named(data)}
        key = _KEYS.get(named)
        if key is None:
            return {"attribute_status": "UnknownVariable", **_named(data)}
        outcome = self._charger.config.change(key, str(data["attribute_value"]))
        return {"attribute_status": _SET_STATUS[outcome], **_named(data)}

    @on_call("GetBaseReport")
    def on_get_base_report(self, request_id: int, call_unique_id: str, **_: Any) -> Any:
        self._defer(call_unique_id, lambda: self._report(request_id))
        return call_result.GetBaseReport(status="Accepted")

    @after_call("GetBaseReport")
    def after_get_base_report(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    async def _report(self, request_id: int) -> None:
        """The variables this charger has, in one part."""
        entries = [
            {
                "component": {"name": component},
                "variable": {"name": variable},
                "variable_attribute": [
                    {
                        "value": entry.value,
                        "mutability": "ReadOnly" if entry.readonly else "ReadWrite",
                    }
                ],
            }
            for (component, variable), entry in self._variables().items()
        ]
        await self._request(call.NotifyReport(request_id, self._now(), 0, entries or None))

    @on_call("SetChargingProfile")
    def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> Any:
        if not self._valid_connector(evse_id):
            return call_result.SetChargingProfile(status="Rejected")
        installed = self._charger.charging_profiles.install(
            self._installed(evse_id, charging_profile)
        )
        return call_result.SetChargingProfile(status="Accepted" if installed else "Rejected")

    def _installed(self, evse_id: int, profile: dict[str, Any]) -> Installed:
        schedule = profile["charging_schedule"][0]
        return Installed(
            profile_id=int(profile["id"]),
            connector_id=evse_id,
            purpose=_purpose(profile["charging_profile_purpose"]),
            stack_level=int(profile["stack_level"]),
            unit=schedule["charging_rate_unit"],
            start=time_of(schedule.get("start_schedule")),
            periods=periods_of(schedule["charging_schedule_period"]),
            received=self._charger.clock.now(),
            raw=profile,
        )

    @on_call("ClearChargingProfile")
    def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        criteria = charging_profile_criteria or {}
        purpose = criteria.get("charging_profile_purpose")
        found = self._charger.charging_profiles.clear(
            charging_profile_id,
            criteria.get("evse_id"),
            None if purpose is None else _purpose(purpose),
            criteria.get("stack_level"),
        )
        return call_result.ClearChargingProfile(status="Accepted" if found else "Unknown")

    @on_call("GetCompositeSchedule")
    def on_get_composite_schedule(
        self, evse_id: int, duration: int, charging_rate_unit: str = "A", **_: Any
    ) -> Any:
        if not self._valid_connector(evse_id):
            return call_result.GetCompositeSchedule(status="Rejected")
        now = self._charger.clock.now()
        periods = self._charger.charging_profiles.composite(
            evse_id, duration, charging_rate_unit, now
        )
        if not periods:
            return call_result.GetCompositeSchedule(status="Rejected")
        schedule = {
            "evse_id": evse_id,
            "duration": duration,
            "schedule_start": timestamp(now),
            "charging_rate_unit": charging_rate_unit,
            "charging_schedule_period": [
                {"start_period": start, "limit": limit} for start, limit in periods
            ],
        }
        return call_result.GetCompositeSchedule(status="Accepted", schedule=schedule)

    @on_call("GetChargingProfiles")
    def on_get_charging_profiles(
        self,
        request_id: int,
        charging_profile: dict[str, Any],
        call_unique_id: str,
        evse_id: int | None = None,
        **_: Any,
    ) -> Any:
        purpose = charging_profile.get("charging_profile_purpose")
        found = self._charger.charging_profiles.matching(
            evse_id,
            None if purpose is None else _purpose(purpose),
            charging_profile.get("stack_level"),
            list(charging_profile.get("charging_profile_id") or []),
        )
        if not found:
            return call_result.GetChargingProfiles(status="NoProfiles")
        self._defer(call_unique_id, lambda: self._report_profiles(request_id, found))
        return call_result.GetChargingProfiles(status="Accepted")

    @after_call("GetChargingProfiles")
    def after_get_charging_profiles(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    async def _report_profiles(self, request_id: int, found: list[Installed]) -> None:
        """One report per EVSE, as the specification has it; the last one says so."""
        evses = sorted({profile.connector_id for profile in found})
        for position, evse in enumerate(evses):
            await self._request(
                call.ReportChargingProfiles(
                    request_id=request_id,
                    charging_limit_source="CSO",
                    evse_id=evse,
                    charging_profile=[p.raw for p in found if p.connector_id == evse],
                    tbc=position < len(evses) - 1,
                )
            )

    @on_call("ClearCache")
    def on_clear_cache(self, **_: Any) -> Any:
        return call_result.ClearCache(status="Accepted")

    @on_call("ReserveNow")
    def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, Any],
        call_unique_id: str,
        evse_id: int | None = None,
        group_id_token: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        parent = None if group_id_token is None else str(group_id_token["id_token"])
        tag = str(id_token["id_token"])
        reservation = Reservation(id, tag, parent, parse_time(expiry_date_time))
        # Every plug of the simulator's EVSEs is of one type: a type alone picks no EVSE.
        outcome = self._charger.reserve(evse_id or 0, reservation)
        if outcome is ReserveOutcome.ACCEPTED and evse_id is not None:
            self._defer(call_unique_id, lambda: self._charger.hold(evse_id))
        return call_result.ReserveNow(status=outcome.value)

    @after_call("ReserveNow")
    def after_reserve_now(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, call_unique_id: str, **_: Any) -> Any:
        connector = self._charger.cancel_reservation(reservation_id)
        if connector is None:
            return call_result.CancelReservation(status="Rejected")
        self._defer(call_unique_id, lambda: self._charger.release(connector))
        return call_result.CancelReservation(status="Accepted")

    @after_call("CancelReservation")
    def after_cancel_reservation(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")

    # -- firmware and logs -----------------------------------------------------

    async def firmware_status(self, step: FirmwareStep, request_id: int | None) -> None:
        await self._request(call.FirmwareStatusNotification(step.value, request_id=request_id))

    async def upload_status(self, step: UploadStep, request_id: int | None) -> None:
        status = "UploadFailure" if step is UploadStep.FAILED else step.value
        await self._request(call.LogStatusNotification(status, request_id=request_id))

    @on_call("UpdateFirmware")
    def on_update_firmware(
        self, request_id: int, firmware: dict[str, Any], call_unique_id: str, **_: Any
    ) -> Any:
        maintenance = self._charger.maintenance
        if not maintenance.claim_firmware(request_id):
            return call_result.UpdateFirmware(status="Rejected")
        location = firmware["location"]
        at = datetime.fromisoformat(firmware["retrieve_date_time"])
        self._defer(call_unique_id, lambda: maintenance.update_firmware(location, at))
        return call_result.UpdateFirmware(status="Accepted")

    @after_call("UpdateFirmware")
    def after_update_firmware(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("GetLog")
    def on_get_log(
        self, request_id: int, log: dict[str, Any], call_unique_id: str, **_: Any
    ) -> Any:
        maintenance = self._charger.maintenance
        if not maintenance.claim_upload(request_id):
            return call_result.GetLog(status="Rejected")
        content = self._charger.diagnostics()
        location = log["remote_location"]
        self._defer(call_unique_id, lambda: maintenance.upload_log(location, content, as_form=True))
        return call_result.GetLog(status="Accepted", filename=maintenance.log_name())

    @after_call("GetLog")
    def after_get_log(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call("SendLocalList")
    def on_send_local_list(
        self,
        version_number: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        changes = {
            entry["id_token"]["id_token"]: entry.get("id_token_info", {}).get("status")
            for entry in local_authorization_list or []
        }
        return call_result.SendLocalList(
            status=self._charger.update_local_list(
                version_number, full=update_type == "Full", changes=changes
            ).value
        )

    @on_call("GetLocalListVersion")
    def on_get_local_list_version(self, **_: Any) -> Any:
        return call_result.GetLocalListVersion(version_number=self._charger.local_list.version)


def _purpose(purpose: str) -> str:
    """The profiles are kept in 1.6's words, which name the charger's own maximum so."""
    return CHARGER_MAX if purpose == "ChargingStationMaxProfile" else purpose


def _named(data: dict[str, Any]) -> dict[str, Any]:
    return {"component": data["component"], "variable": data["variable"]}
