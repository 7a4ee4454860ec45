"""OCPP 1.6-J mapping: the ``ocpp`` library's ChargePoint in the charger role.

Handlers only translate; decisions live in the behaviour. Anything a handler
must send afterwards runs as a follow-up once the reply is on the wire, because
calling out from inside a handler would block the receive loop it runs on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar, cast

from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .behaviour import ChargerBehaviour
from .config import ConfigEntry
from .link import LinkError
from .model import (
    AvailabilityOutcome,
    BootResult,
    ConnectorStatus,
    FinishedTransaction,
    MeterSample,
    Registration,
    SampleContext,
    StartResult,
    StopReason,
    Trigger,
    utc_now,
)

VENDOR = "ocpp-core"
MODEL = "Simulator"
WIRE_LOGGER = logging.getLogger("ocpp_core.simulator.ocpp")

_Handler = TypeVar("_Handler", bound=Callable[..., Any])
FollowUp = Callable[[], Coroutine[Any, Any, None]]


def _on(action: str) -> Callable[[_Handler], _Handler]:
    return cast(Callable[[_Handler], _Handler], on(action))


def _after(action: str) -> Callable[[_Handler], _Handler]:
    return cast(Callable[[_Handler], _Handler], after(action))


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        "timestamp": _timestamp(sample.timestamp),
        "sampled_value": _sampled_values(sample, context),
    }


def _key_value(key: str, entry: ConfigEntry) -> dict[str, Any]:
    return {"key": key, "readonly": entry.readonly, "value": entry.value}


class V16Link(ChargePoint):  # type: ignore[misc]  # the ocpp package is untyped
    """One OCPP 1.6 connection of a virtual charger."""

    def __init__(
        self, charger: ChargerBehaviour, connection: ClientConnection, response_timeout: float
    ) -> None:
        super().__init__(charger.id, connection, response_timeout, logger=WIRE_LOGGER)
        self._charger = charger
        self._closed = asyncio.Event()
        self._follow_ups: dict[str, FollowUp] = {}

    # -- connection --------------------------------------------------------

    async def serve(self) -> None:
        try:
            await self.start()
        except ConnectionClosed:
            pass
        finally:
            self._closed.set()

    async def close(self) -> None:
        await self._connection.close()

    async def _request(self, payload: Any) -> Any:
        """A CALL that gives up as soon as the connection is gone, not at the timeout."""
        if self._closed.is_set():
            raise LinkError("connection closed")
        request = asyncio.ensure_future(self.call(payload, suppress=False))
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait((request, closed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            request.cancel()
            closed.cancel()
        if not request.done() or request.cancelled():
            raise LinkError("connection closed")
        try:
            return request.result()
        except (OCPPError, TimeoutError, ConnectionClosed) as exc:
            raise LinkError(f"{type(payload).__name__}: {exc}") from exc

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
        await self._request(
            call.StatusNotification(
                connector_id=connector_id, error_code="NoError", status=status.value
            )
        )

    async def authorize(self, id_tag: str) -> bool:
        result = await self._request(call.Authorize(id_tag=id_tag))
        return bool(result.id_tag_info["status"] == "Accepted")

    async def start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int
    ) -> StartResult:
        result = await self._request(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=meter_start,
                timestamp=_timestamp(utc_now()),
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
                timestamp=_timestamp(final.timestamp),
                reason=finished.reason.value,
                transaction_data=[_meter_value(final, SampleContext.TRANSACTION_END)],
            )
        )

    # -- central system -> charger ---------------------------------------

    def _defer(self, unique_id: str, follow_up: FollowUp) -> None:
        self._follow_ups[unique_id] = follow_up

    def _run_follow_up(self, unique_id: str) -> None:
        follow_up = self._follow_ups.pop(unique_id, None)
        if follow_up is not None:
            self._charger.spawn(follow_up())

    def _valid_connector(self, connector_id: int | None, allow_zero: bool = True) -> bool:
        if connector_id is None:
            return True
        return connector_id in self._charger.connectors or (allow_zero and connector_id == 0)

    @_on(Action.remote_start_transaction)
    def on_remote_start(
        self, id_tag: str, call_unique_id: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        connector = self._charger.claim_remote_start(connector_id)
        if connector is None:
            return call_result.RemoteStartTransaction(status="Rejected")
        self._defer(call_unique_id, lambda: self._charger.remote_start(connector, id_tag))
        return call_result.RemoteStartTransaction(status="Accepted")

    @_after(Action.remote_start_transaction)
    def after_remote_start(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @_on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int, call_unique_id: str, **_: Any) -> Any:
        connector = self._charger.claim_remote_stop(transaction_id)
        if connector is None:
            return call_result.RemoteStopTransaction(status="Rejected")
        self._defer(call_unique_id, lambda: self._charger.remote_stop(connector))
        return call_result.RemoteStopTransaction(status="Accepted")

    @_after(Action.remote_stop_transaction)
    def after_remote_stop(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @_on(Action.reset)
    def on_reset(self, type: str, call_unique_id: str, **_: Any) -> Any:
        self._defer(call_unique_id, lambda: self._charger.reset(hard=type == "Hard"))
        return call_result.Reset(status="Accepted")

    @_after(Action.reset)
    def after_reset(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @_on(Action.change_availability)
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

    @_after(Action.change_availability)
    def after_change_availability(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @_on(Action.trigger_message)
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

    @_after(Action.trigger_message)
    def after_trigger_message(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @_on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, call_unique_id: str, **_: Any) -> Any:
        if not self._valid_connector(connector_id, allow_zero=False):
            return call_result.UnlockConnector(status="NotSupported")
        self._defer(
            call_unique_id, lambda: self._charger.unplug(connector_id, StopReason.UNLOCK_COMMAND)
        )
        return call_result.UnlockConnector(status="Unlocked")

    @_after(Action.unlock_connector)
    def after_unlock_connector(self, call_unique_id: str, **_: Any) -> None:
        self._run_follow_up(call_unique_id)

    @_on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        known, unknown = self._charger.config.lookup(key)
        return call_result.GetConfiguration(
            configuration_key=[_key_value(k, entry) for k, entry in known.items()],
            unknown_key=unknown or None,
        )

    @_on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        return call_result.ChangeConfiguration(status=self._charger.config.change(key, value).value)

    @_on(Action.set_charging_profile)
    def on_set_charging_profile(self, cs_charging_profiles: dict[str, Any], **_: Any) -> Any:
        self._charger.charging_profiles.add(int(cs_charging_profiles["charging_profile_id"]))
        return call_result.SetChargingProfile(status="Accepted")

    @_on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, id: int | None = None, **_: Any) -> Any:
        found = self._charger.clear_charging_profiles(id)
        return call_result.ClearChargingProfile(status="Accepted" if found else "Unknown")

    @_on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> Any:
        return call_result.ClearCache(status="Accepted")

    @_on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")
