"""OCPP 1.6-J mapping: the ``ocpp`` library's ChargePoint in the charger role."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection

from .behaviour import ChargerBehaviour
from .config import ConfigEntry
from .model import (
    AvailabilityOutcome,
    BootResult,
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
from .profiles import Installed
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


def _sampled_values(sample: MeterSample, context: SampleContext) -> list[dict[str, str]]:
    values = [
        {
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
            "value": f"{sample.energy_wh:.0f}",
        },
        {"measurand": "Power.Active.Import", "unit": "W", "value": f"{sample.power_w:.0f}"},
    ]
    values += [
        {
            "measurand": "Current.Import",
            "unit": "A",
            "phase": phase,
            "value": f"{sample.current_a:.1f}",
        }
        for phase in ("L1", "L2", "L3")
    ]
    if sample.soc is not None:
        values.append(
            {"measurand": "SoC", "unit": "Percent", "location": "EV", "value": f"{sample.soc:.0f}"}
        )
    return [{**value, "context": context.value} for value in values]


def _meter_value(sample: MeterSample, context: SampleContext) -> dict[str, Any]:
    return {
        "timestamp": timestamp(sample.timestamp),
        "sampled_value": _sampled_values(sample, context),
    }


def _key_value(key: str, entry: ConfigEntry) -> dict[str, Any]:
    return {"key": key, "readonly": entry.readonly, "value": entry.value}


class V16Link(ChargePoint, LinkBase):  # type: ignore[misc]  # the ocpp package is untyped
    """One OCPP 1.6 connection of a virtual charger."""

    def __init__(
        self, charger: ChargerBehaviour, connection: ClientConnection, response_timeout: float
    ) -> None:
        super().__init__(charger.id, connection, response_timeout, logger=WIRE_LOGGER)
        self._setup(charger)

    # -- charger -> central system ---------------------------------------

    async def boot(self) -> BootResult:
        settings = self._charger.settings
        result = await self._request(
            call.BootNotification(
                charge_point_vendor=VENDOR,
                charge_point_model=MODEL,
                charge_point_serial_number=settings.serial_number,
                firmware_version=settings.firmware_version,
            )
        )
        return BootResult(Registration(result.status), int(result.interval))

    async def heartbeat(self) -> None:
        await self._request(call.Heartbeat())

    async def status(self, connector_id: int, status: ConnectorStatus) -> None:
        # Stamped, so a sped-up charger's statuses keep pace with its transactions.
        await self._request(
            call.StatusNotification(
                connector_id=connector_id,
                error_code="NoError",
                status=status.value,
                timestamp=self._now(),
            )
        )

    async def authorize(self, id_tag: str) -> bool:
        result = await self._request(call.Authorize(id_tag=id_tag))
        return bool(result.id_tag_info["status"] == "Accepted")

    async def start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, reservation_id: int | None
    ) -> StartResult:
        result = await self._request(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=meter_start,
                timestamp=self._now(),
                reservation_id=reservation_id,
            )
        )
        accepted = result.id_tag_info["status"] == "Accepted"
        return StartResult(int(result.transaction_id), accepted)

    async def meter_values(
        self,
        connector_id: int,
        transaction_id: int | None,
        sample: MeterSample,
        context: SampleContext,
    ) -> None:
        await self._request(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=[_meter_value(sample, context)],
            )
        )

    async def stop_transaction(self, finished: FinishedTransaction) -> None:
        tx, final = finished.transaction, finished.final
        await self._request(
            call.StopTransaction(
                transaction_id=tx.transaction_id,
                id_tag=tx.id_tag,
                meter_stop=round(final.energy_wh),
                timestamp=timestamp(final.timestamp),
                reason=finished.reason.value,
                transaction_data=[_meter_value(final, SampleContext.TRANSACTION_END)],
            )
        )

    async def reservation_expired(self, reservation_id: int) -> None:
        """1.6 has no message for it: the connector's status says it is free again."""

    # -- central system -> charger ---------------------------------------

    @on_call(Action.remote_start_transaction)
    def on_remote_start(
        self,
        id_tag: str,
        call_unique_id: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        connector = self._charger.claim_remote_start(connector_id, id_tag)
        if connector is None:
            return call_result.RemoteStartTransaction(status="Rejected")
        if charging_profile is not None:  # the transaction's own profile, from its start
            self._charger.charging_profiles.install(
                self._installed(connector.connector_id, charging_profile)
            )
        self._defer(call_unique_id, lambda: self._charger.remote_start(connector, id_tag))
        return call_result.RemoteStartTransaction(status="Accepted")

    @after_call(Action.remote_start_transaction)
    def after_remote_start(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int, call_unique_id: str, **_: Any) -> Any:
        connector = self._charger.claim_remote_stop(transaction_id)
        if connector is None:
            return call_result.RemoteStopTransaction(status="Rejected")
        self._defer(call_unique_id, lambda: self._charger.remote_stop(connector))
        return call_result.RemoteStopTransaction(status="Accepted")

    @after_call(Action.remote_stop_transaction)
    def after_remote_stop(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.reset)
    def on_reset(self, type: str, call_unique_id: str, **_: Any) -> Any:
        self._defer(call_unique_id, lambda: self._charger.reset(hard=type == "Hard"))
        return call_result.Reset(status="Accepted")

    @after_call(Action.reset)
    def after_reset(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.change_availability)
    def on_change_availability(
        self, connector_id: int, type: str, call_unique_id: str, **_: Any
    ) -> Any:
        outcome = self._charger.availability_outcome(connector_id)
        if outcome is not AvailabilityOutcome.REJECTED:
            operative = type == "Operative"
            self._defer(
                call_unique_id,
                lambda: self._charger.change_availability(connector_id, operative),
            )
        return call_result.ChangeAvailability(status=outcome.value)

    @after_call(Action.change_availability)
    def after_change_availability(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.trigger_message)
    def on_trigger_message(
        self,
        requested_message: str,
        call_unique_id: str,
        connector_id: int | None = None,
        **_: Any,
    ) -> Any:
        if requested_message not in set(Trigger):
            return call_result.TriggerMessage(status="NotImplemented")
        if not self._valid_connector(connector_id):
            return call_result.TriggerMessage(status="Rejected")
        what = Trigger(requested_message)
        self._defer(call_unique_id, lambda: self._charger.trigger(what, connector_id))
        return call_result.TriggerMessage(status="Accepted")

    @after_call(Action.trigger_message)
    def after_trigger_message(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, call_unique_id: str, **_: Any) -> Any:
        if not self._valid_connector(connector_id, allow_zero=False):
            return call_result.UnlockConnector(status="NotSupported")
        self._defer(
            call_unique_id, lambda: self._charger.unplug(connector_id, StopReason.UNLOCK_COMMAND)
        )
        return call_result.UnlockConnector(status="Unlocked")

    @after_call(Action.unlock_connector)
    def after_unlock_connector(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        known, unknown = self._charger.config.lookup(key)
        return call_result.GetConfiguration(
            configuration_key=[_key_value(k, entry) for k, entry in known.items()],
            unknown_key=unknown or None,
        )

    @on_call(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        return call_result.ChangeConfiguration(status=self._charger.config.change(key, value).value)

    @on_call(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> Any:
        if not self._valid_connector(connector_id):
            return call_result.SetChargingProfile(status="Rejected")
        installed = self._charger.charging_profiles.install(
            self._installed(connector_id, cs_charging_profiles)
        )
        return call_result.SetChargingProfile(status="Accepted" if installed else "Rejected")

    def _installed(self, connector_id: int, profile: dict[str, Any]) -> Installed:
        schedule = profile["charging_schedule"]
        return Installed(
            profile_id=int(profile["charging_profile_id"]),
            connector_id=connector_id,
            purpose=profile["charging_profile_purpose"],
            stack_level=int(profile["stack_level"]),
            unit=schedule["charging_rate_unit"],
            start=time_of(schedule.get("start_schedule")),
            periods=periods_of(schedule["charging_schedule_period"]),
            received=self._charger.clock.now(),
            raw=profile,
        )

    @on_call(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ) -> Any:
        found = self._charger.charging_profiles.clear(
            id, connector_id, charging_profile_purpose, stack_level
        )
        return call_result.ClearChargingProfile(status="Accepted" if found else "Unknown")

    @on_call(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str = "A", **_: Any
    ) -> Any:
        if not self._valid_connector(connector_id):
            return call_result.GetCompositeSchedule(status="Rejected")
        now = self._charger.clock.now()
        periods = self._charger.charging_profiles.composite(
            connector_id, duration, charging_rate_unit, now
        )
        if not periods:
            return call_result.GetCompositeSchedule(status="Rejected")
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=timestamp(now),
            charging_schedule={
                "duration": duration,
                "start_schedule": timestamp(now),
                "charging_rate_unit": charging_rate_unit,
                "charging_schedule_period": [
                    {"start_period": start, "limit": limit} for start, limit in periods
                ],
            },
        )

    @on_call(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> Any:
        return call_result.ClearCache(status="Accepted")

    @on_call(Action.reserve_now)
    def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        call_unique_id: str,
        parent_id_tag: str | None = None,
        **_: Any,
    ) -> Any:
        reservation = Reservation(reservation_id, id_tag, parent_id_tag, parse_time(expiry_date))
        outcome = self._charger.reserve(connector_id, reservation)
        if outcome is ReserveOutcome.ACCEPTED:
            self._defer(call_unique_id, lambda: self._charger.hold(connector_id))
        return call_result.ReserveNow(status=outcome.value)

    @after_call(Action.reserve_now)
    def after_reserve_now(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, call_unique_id: str, **_: Any) -> Any:
        connector = self._charger.cancel_reservation(reservation_id)
        if connector is None:
            return call_result.CancelReservation(status="Rejected")
        self._defer(call_unique_id, lambda: self._charger.release(connector))
        return call_result.CancelReservation(status="Accepted")

    @after_call(Action.cancel_reservation)
    def after_cancel_reservation(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")

    # -- firmware and diagnostics --------------------------------------------

    async def firmware_status(self, step: FirmwareStep, request_id: int | None) -> None:
        if step is not FirmwareStep.DOWNLOAD_SCHEDULED:  # 1.6 has no word for it
            await self._request(call.FirmwareStatusNotification(status=step.value))

    async def upload_status(self, step: UploadStep, request_id: int | None) -> None:
        await self._request(call.DiagnosticsStatusNotification(status=step.value))

    @on_call(Action.update_firmware)
    def on_update_firmware(
        self, location: str, retrieve_date: str, call_unique_id: str, **_: Any
    ) -> Any:
        maintenance = self._charger.maintenance
        if maintenance.claim_firmware(None):  # 1.6 can't refuse: a busy charger ignores it
            at = datetime.fromisoformat(retrieve_date)
            self._defer(call_unique_id, lambda: maintenance.update_firmware(location, at))
        return call_result.UpdateFirmware()

    @after_call(Action.update_firmware)
    def after_update_firmware(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, call_unique_id: str, **_: Any) -> Any:
        maintenance = self._charger.maintenance
        if not maintenance.claim_upload(None):
            return call_result.GetDiagnostics()  # no file: one upload at a time
        content = self._charger.diagnostics()
        self._defer(
            call_unique_id, lambda: maintenance.upload_log(location, content, as_form=False)
        )
        return call_result.GetDiagnostics(file_name=maintenance.log_name())

    @after_call(Action.get_diagnostics)
    def after_get_diagnostics(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @on_call(Action.send_local_list)
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        changes = {
            entry["id_tag"]: entry.get("id_tag_info", {}).get("status")
            for entry in local_authorization_list or []
        }
        return call_result.SendLocalList(
            status=self._charger.update_local_list(
                list_version, full=update_type == "Full", changes=changes
            ).value
        )

    @on_call(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> Any:
        return call_result.GetLocalListVersion(list_version=self._charger.local_list.version)
