"""Chargers for the tests: the ``ocpp`` library's own ChargePoint over a real websocket,
and a raw one that sends any frame by hand.

Every frame the server sends is checked against the OCA schema with the
library's ``jsonschema`` validators (not the server's compiled ones), and every
timestamp must carry the ``Z`` suffix.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from itertools import count
from pathlib import Path
from typing import Any, TypeVar, cast

import ocpp
from jsonschema import Draft4Validator
from ocpp import v16, v201
from ocpp.exceptions import OCPPError
from ocpp.messages import MessageType, get_validator
from ocpp.routing import on as untyped_on
from websockets.asyncio.client import ClientConnection

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def on(action: str) -> Callable[[_Handler], _Handler]:
    """The library's ``@on``, typed (the ``ocpp`` package has no annotations)."""
    return cast(Callable[[_Handler], _Handler], untyped_on(action))


_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_CALLERROR_CODES = {
    "1.6": {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    },
    "2.0.1": {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    },
}


class SchemaCheckedConnection:
    """Wraps the client socket; collects every schema problem in what the server sends."""

    def __init__(self, websocket: ClientConnection, version: str = "1.6") -> None:
        self.websocket = websocket
        self.version = version
        self.problems: list[str] = []
        self.received: list[list[Any]] = []
        self._our_calls: dict[str, str] = {}

    async def send(self, text: str) -> None:
        frame = json.loads(text)
        if frame[0] == MessageType.Call:
            self._our_calls[frame[1]] = frame[2]
        await self.websocket.send(text)

    async def recv(self) -> str:
        text = await self.websocket.recv()
        assert isinstance(text, str), "the server must send text frames"
        frame = json.loads(text)
        self.received.append(frame)
        self._check(frame)
        return text

    def _check(self, frame: list[Any]) -> None:
        kind = frame[0]
        if kind == MessageType.Call:
            self._validate(MessageType.Call, frame[2], frame[3])
        elif kind == MessageType.CallResult:
            action = self._our_calls.get(frame[1])
            if action is None:
                self.problems.append(f"result for a call we never sent: {frame}")
            else:
                self._validate(MessageType.CallResult, action, frame[2])
        elif kind == MessageType.CallError and frame[2] not in _CALLERROR_CODES[self.version]:
            self.problems.append(f"CALLERROR code not in OCPP {self.version}: {frame}")

    def _validate(self, kind: int, action: str, payload: dict[str, Any]) -> None:
        if self.version == "1.6" and (kind, action) in _DECIMAL_MESSAGES:
            exact = json.loads(json.dumps(payload), parse_float=Decimal)
            errors = list(_decimal_validator(kind, action).iter_errors(exact))
        else:
            errors = list(get_validator(kind, action, self.version).iter_errors(payload))
        self.problems.extend(f"{action}: {error.message}" for error in errors)
        self.problems.extend(f"{action}: {t} lacks Z" for t in _timestamps(payload))


# In 1.6, their charging rates carry ``multipleOf: 0.1``, which only decimals pass reliably.
# The library validates these with Decimal numbers and caches validators by action
# alone, so they get validators of their own here rather than sharing its cache.
_DECIMAL_MESSAGES = {
    (MessageType.Call, "SetChargingProfile"),
    (MessageType.Call, "RemoteStartTransaction"),
    (MessageType.CallResult, "GetCompositeSchedule"),
}


@cache
def _decimal_validator(kind: int, action: str) -> Draft4Validator:
    name = action + ("Response" if kind == MessageType.CallResult else "")
    path = Path(ocpp.__file__).parent / "v16" / "schemas" / f"{name}.json"
    return Draft4Validator(json.loads(path.read_text(), parse_float=Decimal))


def _timestamps(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [t for value in node.values() for t in _timestamps(value)]
    if isinstance(node, list):
        return [t for value in node for t in _timestamps(value)]
    if isinstance(node, str) and _TIMESTAMP.match(node) and not node.endswith("Z"):
        return [node]
    return []


class RawCharger:
    """A charger that speaks OCPP-J by hand; one CALL in flight at a time."""

    def __init__(
        self, websocket: ClientConnection, version: str = "1.6", *, answer_timeout: float = 10
    ) -> None:
        self.connection = SchemaCheckedConnection(websocket, version)
        self.answer_timeout = answer_timeout
        self._ids = count(1)

    @property
    def websocket(self) -> ClientConnection:
        return self.connection.websocket

    async def exchange(self, message: str | bytes) -> list[Any]:
        """Send anything, return the server's next frame."""
        await self.websocket.send(message)
        return await self._next_frame()

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """A CALL; the whole answer frame, a CALLRESULT's payload checked against the schema."""
        unique_id = f"m{next(self._ids)}"
        await self.connection.send(json.dumps([MessageType.Call, unique_id, action, payload]))
        frame = await self._next_frame()
        assert frame[1] == unique_id, frame
        assert self.connection.problems == []
        return frame

    async def result(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        frame = await self.call(action, payload)
        assert frame[0] == MessageType.CallResult, frame
        answer: dict[str, Any] = frame[2]
        return answer

    async def error_code(self, action: str, payload: dict[str, Any]) -> str:
        frame = await self.call(action, payload)
        assert frame[0] == MessageType.CallError, frame
        assert len(frame) == 5
        assert isinstance(frame[3], str)
        assert frame[4] == {}
        code: str = frame[2]
        return code

    async def still_up(self) -> None:
        """The connection survived: a Heartbeat gets its CALLRESULT."""
        answer = await self.result("Heartbeat", {})
        assert answer["currentTime"].endswith("Z")

    async def _next_frame(self) -> list[Any]:
        async with asyncio.timeout(self.answer_timeout):
            frame = json.loads(await self.connection.recv())
        assert isinstance(frame, list)
        return frame


@dataclass(frozen=True)
class Late:
    """An answer that comes only after ``seconds`` (past the server's command timeout)."""

    seconds: float


class _Recorder:
    """Records what the server asked and answers from ``answers`` or a default.

    The commands both versions spell alike are answered here, in the version's
    ``results`` classes.
    """

    results: Any  # the version's call_result module

    def _setup_recording(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, dict[str, Any] | OCPPError | Late] = {}
        self.received = asyncio.Queue[tuple[str, dict[str, Any]]]()

    def _record(self, action: str, default: dict[str, Any], request: dict[str, Any]) -> Any:
        self.requests.append((action, request))
        self.received.put_nowait((action, request))
        answer = self.answers.get(action, default)
        if isinstance(answer, OCPPError):  # answered with a CALLERROR, as a faulty charger does
            raise answer
        return answer

    def _answer(self, action: str, default: dict[str, Any], request: dict[str, Any]) -> Any:
        answer = self._record(action, default, request)
        if isinstance(answer, Late):
            return self._late(action, answer, default)
        return getattr(self.results, action)(**answer)

    async def _late(self, action: str, late: Late, default: dict[str, Any]) -> Any:
        await asyncio.sleep(
            late.seconds
        )  # holds this charger's messages meanwhile, as slow firmware does
        return getattr(self.results, action)(**default)

    @on("TriggerMessage")
    def on_trigger(self, **request: Any) -> Any:
        return self._answer("TriggerMessage", {"status": "Accepted"}, request)

    @on("ChangeAvailability")
    def on_change_availability(self, **request: Any) -> Any:
        return self._answer("ChangeAvailability", {"status": "Accepted"}, request)

    @on("ClearCache")
    def on_clear_cache(self, **request: Any) -> Any:
        return self._answer("ClearCache", {"status": "Accepted"}, request)

    @on("DataTransfer")
    def on_data_transfer(self, **request: Any) -> Any:
        return self._answer("DataTransfer", {"status": "Accepted", "data": "pong"}, request)

    # -- reservations: both versions spell these actions and their answers alike

    @on("ReserveNow")
    def on_reserve_now(self, **request: Any) -> Any:
        return self._answer("ReserveNow", {"status": "Accepted"}, request)

    @on("CancelReservation")
    def on_cancel_reservation(self, **request: Any) -> Any:
        return self._answer("CancelReservation", {"status": "Accepted"}, request)


class _LocalList:
    """A charger's local authorization list, kept as a real charger keeps it.

    A differential update must move the version forward (else VersionMismatch); a
    list longer than ``max_entries`` is refused (Failed).
    """

    list_version = 0
    max_entries = 1000

    def _setup_list(self) -> None:
        self.local_list: dict[str, dict[str, Any]] = {}

    def _update_list(self, version: int, update: str, entries: list[dict[str, Any]]) -> str:
        if update == "Differential" and version <= self.list_version:
            return "VersionMismatch"
        kept = {} if update == "Full" else dict(self.local_list)
        for entry in entries:
            tag = entry.get("id_tag") or entry["id_token"]["id_token"]
            info = entry.get("id_tag_info") or entry.get("id_token_info")
            if info is None:
                kept.pop(tag, None)
            else:
                kept[tag] = info
        if len(kept) > self.max_entries:
            return "Failed"
        self.local_list, self.list_version = kept, version
        return "Accepted"


class TestCharger(v16.ChargePoint, _Recorder, _LocalList):  # type: ignore[misc]
    """Answers server commands like an obliging 1.6 charger and records what it was asked."""

    __test__ = False  # not a pytest test class
    results = v16.call_result

    def __init__(self, charge_point_id: str, connection: SchemaCheckedConnection) -> None:
        super().__init__(charge_point_id, connection, response_timeout=10)
        self.connection = connection
        self._setup_recording()
        self._setup_list()

    @on("Reset")
    def on_reset(self, **request: Any) -> Any:
        return self._answer("Reset", {"status": "Accepted"}, request)

    @on("UnlockConnector")
    def on_unlock(self, **request: Any) -> Any:
        return self._answer("UnlockConnector", {"status": "Unlocked"}, request)

    @on("RemoteStartTransaction")
    def on_remote_start(self, **request: Any) -> Any:
        return self._answer("RemoteStartTransaction", {"status": "Accepted"}, request)

    @on("RemoteStopTransaction")
    def on_remote_stop(self, **request: Any) -> Any:
        return self._answer("RemoteStopTransaction", {"status": "Accepted"}, request)

    @on("SetChargingProfile")
    def on_set_profile(self, **request: Any) -> Any:
        return self._answer("SetChargingProfile", {"status": "Accepted"}, request)

    @on("ClearChargingProfile")
    def on_clear_profile(self, **request: Any) -> Any:
        return self._answer("ClearChargingProfile", {"status": "Accepted"}, request)

    @on("GetCompositeSchedule")
    def on_composite(self, **request: Any) -> Any:
        return self._answer("GetCompositeSchedule", {"status": "Rejected"}, request)

    @on("GetConfiguration")
    def on_get_configuration(self, **request: Any) -> Any:
        keys = [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        return self._answer("GetConfiguration", {"configuration_key": keys}, request)

    @on("ChangeConfiguration")
    def on_change_configuration(self, **request: Any) -> Any:
        return self._answer("ChangeConfiguration", {"status": "Accepted"}, request)

    # -- firmware and diagnostics --

    @on("UpdateFirmware")
    def on_update_firmware(self, **request: Any) -> Any:
        return self._answer("UpdateFirmware", {}, request)

    @on("GetDiagnostics")
    def on_get_diagnostics(self, **request: Any) -> Any:
        return self._answer("GetDiagnostics", {"file_name": "diagnostics.zip"}, request)

    @on("GetLog")
    def on_get_log(self, **request: Any) -> Any:
        return self._answer("GetLog", {"status": "Accepted", "filename": "security.log"}, request)

    @on("SendLocalList")
    def on_send_local_list(self, **request: Any) -> Any:
        entries = request.get("local_authorization_list", [])
        if "SendLocalList" in self.answers:
            return self._answer("SendLocalList", {}, request)
        status = self._update_list(request["list_version"], request["update_type"], entries)
        return self._answer("SendLocalList", {"status": status}, request)

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **request: Any) -> Any:
        default = {"list_version": self.list_version}
        return self._answer("GetLocalListVersion", default, request)


class TestCharger201(v201.ChargePoint, _Recorder, _LocalList):  # type: ignore[misc]
    """The same obliging charger, speaking OCPP 2.0.1."""

    __test__ = False
    results = v201.call_result

    def __init__(self, charge_point_id: str, connection: SchemaCheckedConnection) -> None:
        super().__init__(charge_point_id, connection, response_timeout=10)
        self.connection = connection
        self._setup_recording()
        self._setup_list()
        # The value each variable reads (component, variable); any other reads 300.
        self.variables: dict[tuple[str, str], str] = {}

    @on("Reset")
    def on_reset(self, **request: Any) -> Any:
        return self._answer("Reset", {"status": "Accepted"}, request)

    @on("UnlockConnector")
    def on_unlock(self, **request: Any) -> Any:
        return self._answer("UnlockConnector", {"status": "Unlocked"}, request)

    @on("RequestStartTransaction")
    def on_request_start(self, **request: Any) -> Any:
        return self._answer("RequestStartTransaction", {"status": "Accepted"}, request)

    @on("RequestStopTransaction")
    def on_request_stop(self, **request: Any) -> Any:
        return self._answer("RequestStopTransaction", {"status": "Accepted"}, request)

    @on("SetChargingProfile")
    def on_set_profile(self, **request: Any) -> Any:
        return self._answer("SetChargingProfile", {"status": "Accepted"}, request)

    @on("ClearChargingProfile")
    def on_clear_profile(self, **request: Any) -> Any:
        return self._answer("ClearChargingProfile", {"status": "Accepted"}, request)

    @on("GetCompositeSchedule")
    def on_composite(self, **request: Any) -> Any:
        return self._answer("GetCompositeSchedule", {"status": "Rejected"}, request)

    @on("GetChargingProfiles")
    def on_get_profiles(self, **request: Any) -> Any:
        return self._answer("GetChargingProfiles", {"status": "NoProfiles"}, request)

    @on("GetVariables")
    def on_get_variables(self, **request: Any) -> Any:
        results = [
            {
                "attribute_status": "Accepted",
                "attribute_value": self.variables.get(
                    (data["component"]["name"], data["variable"]["name"]), "300"
                ),
                "component": data["component"],
                "variable": data["variable"],
            }
            for data in request["get_variable_data"]
        ]
        return self._answer("GetVariables", {"get_variable_result": results}, request)

    @on("SetVariables")
    def on_set_variables(self, **request: Any) -> Any:
        results = [
            {
                "attribute_status": "Accepted",
                "component": data["component"],
                "variable": data["variable"],
            }
            for data in request["set_variable_data"]
        ]
        return self._answer("SetVariables", {"set_variable_result": results}, request)

    @on("GetBaseReport")
    def on_get_base_report(self, **request: Any) -> Any:
        return self._answer("GetBaseReport", {"status": "Accepted"}, request)

    # -- firmware and diagnostics --

    @on("UpdateFirmware")
    def on_update_firmware(self, **request: Any) -> Any:
        return self._answer("UpdateFirmware", {"status": "Accepted"}, request)

    @on("GetLog")
    def on_get_log(self, **request: Any) -> Any:
        return self._answer("GetLog", {"status": "Accepted", "filename": "log.txt"}, request)

    @on("SendLocalList")
    def on_send_local_list(self, **request: Any) -> Any:
        entries = request.get("local_authorization_list", [])
        if "SendLocalList" in self.answers:
            return self._answer("SendLocalList", {}, request)
        status = self._update_list(request["version_number"], request["update_type"], entries)
        return self._answer("SendLocalList", {"status": status}, request)

    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **request: Any) -> Any:
        default = {"version_number": self.list_version}
        return self._answer("GetLocalListVersion", default, request)
