"""A tiny OCPP 1.6 central system (the ``ocpp`` library's own, in the server role)
plus helpers, shared by the simulator tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocpp_core.simulators.chargepoint import ChargerSettings, VirtualCharger

CHARGER_ID = "SIM-0001"
REFUSED_TAG = "BLOCKED"
WAIT_S = 5.0

_Handler = TypeVar("_Handler", bound=Callable[..., Any])
_T = TypeVar("_T")


def _on(action: str) -> Callable[[_Handler], _Handler]:
    return cast(Callable[[_Handler], _Handler], on(action))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def within(awaitable: Awaitable[_T], seconds: float = WAIT_S) -> _T:
    async with asyncio.timeout(seconds):
        return await awaitable


class CentralSystem:
    """Records every charger message and lets the test await what it expects."""

    def __init__(self) -> None:
        self.url = ""
        self.messages: list[tuple[str, str, dict[str, Any]]] = []
        self.sessions: dict[str, CentralSystemSession] = {}
        self.authorization: dict[str, str | None] = {}
        self._changed = asyncio.Event()
        self._next_transaction_id = 100
        self.heartbeat_interval = 123
        self.boot_replies: list[str] = []  # consumed first, then "Accepted"

    def record(self, charger_id: str, action: str, payload: dict[str, Any]) -> None:
        self.messages.append((charger_id, action, payload))
        self._changed.set()
        self._changed = asyncio.Event()

    def allocate_transaction_id(self) -> int:
        self._next_transaction_id += 1
        return self._next_transaction_id

    def of(self, action: str, charger_id: str = CHARGER_ID) -> list[dict[str, Any]]:
        return [p for c, a, p in self.messages if a == action and c == charger_id]

    def statuses(self, connector_id: int, charger_id: str = CHARGER_ID) -> list[str]:
        notes = self.of("StatusNotification", charger_id)
        return [n["status"] for n in notes if n["connector_id"] == connector_id]

    async def wait_for(self, predicate: Callable[[], bool], seconds: float = WAIT_S) -> None:
        async with asyncio.timeout(seconds):
            while not predicate():
                await self._changed.wait()

    async def wait_for_count(self, action: str, count: int) -> None:
        await self.wait_for(lambda: len(self.of(action)) >= count)

    async def send(self, payload: Any, charger_id: str = CHARGER_ID) -> Any:
        return await self.sessions[charger_id].call(payload)

    async def drop(self, charger_id: str) -> None:
        await self.sessions[charger_id].connection.close()

    async def handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        charger_id = connection.request.path.rsplit("/", 1)[-1]
        self.authorization[charger_id] = connection.request.headers.get("Authorization")
        session = CentralSystemSession(charger_id, connection, self)
        self.sessions[charger_id] = session
        with contextlib.suppress(ConnectionClosed):
            await session.start()


class CentralSystemSession(ChargePoint):  # type: ignore[misc]
    def __init__(self, charger_id: str, connection: ServerConnection, cs: CentralSystem) -> None:
        super().__init__(charger_id, connection)
        self.connection = connection
        self.cs = cs

    @_on(Action.boot_notification)
    def on_boot(self, **payload: Any) -> Any:
        self.cs.record(self.id, "BootNotification", payload)
        status = self.cs.boot_replies.pop(0) if self.cs.boot_replies else "Accepted"
        interval = 1 if status != "Accepted" else self.cs.heartbeat_interval
        return call_result.BootNotification(current_time=_now(), interval=interval, status=status)

    @_on(Action.heartbeat)
    def on_heartbeat(self, **payload: Any) -> Any:
        self.cs.record(self.id, "Heartbeat", payload)
        return call_result.Heartbeat(current_time=_now())

    @_on(Action.status_notification)
    def on_status(self, **payload: Any) -> Any:
        self.cs.record(self.id, "StatusNotification", payload)
        return call_result.StatusNotification()

    @_on(Action.authorize)
    def on_authorize(self, id_tag: str, **payload: Any) -> Any:
        self.cs.record(self.id, "Authorize", {"id_tag": id_tag, **payload})
        return call_result.Authorize(id_tag_info={"status": _tag_status(id_tag)})

    @_on(Action.start_transaction)
    def on_start(self, id_tag: str, **payload: Any) -> Any:
        self.cs.record(self.id, "StartTransaction", {"id_tag": id_tag, **payload})
        return call_result.StartTransaction(
            transaction_id=self.cs.allocate_transaction_id(),
            id_tag_info={"status": _tag_status(id_tag)},
        )

    @_on(Action.stop_transaction)
    def on_stop(self, **payload: Any) -> Any:
        self.cs.record(self.id, "StopTransaction", payload)
        return call_result.StopTransaction()

    @_on(Action.meter_values)
    def on_meter_values(self, **payload: Any) -> Any:
        self.cs.record(self.id, "MeterValues", payload)
        return call_result.MeterValues()

    @_on(Action.firmware_status_notification)
    def on_firmware_status(self, **payload: Any) -> Any:
        self.cs.record(self.id, "FirmwareStatusNotification", payload)
        return call_result.FirmwareStatusNotification()

    @_on(Action.diagnostics_status_notification)
    def on_diagnostics_status(self, **payload: Any) -> Any:
        self.cs.record(self.id, "DiagnosticsStatusNotification", payload)
        return call_result.DiagnosticsStatusNotification()


def _tag_status(id_tag: str) -> str:
    return "Blocked" if id_tag == REFUSED_TAG else "Accepted"


@contextlib.asynccontextmanager
async def running_central_system() -> AsyncIterator[CentralSystem]:
    """Served on a free port of 127.0.0.1; closing it closes every charger socket."""
    cs = CentralSystem()
    async with serve(cs.handle, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        cs.url = f"ws://127.0.0.1:{port}/OCPP"
        yield cs


def settings_for(cs: CentralSystem, **overrides: Any) -> ChargerSettings:
    fast: dict[str, Any] = {
        "url": cs.url,
        "charger_id": CHARGER_ID,
        "meter_interval": 0.05,
        "speed": 3600.0,
        "unplug_after": 0.1,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
    }
    return ChargerSettings(**(fast | overrides))


@contextlib.asynccontextmanager
async def booted_charger(cs: CentralSystem, **overrides: Any) -> AsyncIterator[VirtualCharger]:
    async with VirtualCharger(settings_for(cs, **overrides)) as charger:
        await within(charger.booted.wait())
        yield charger


async def start_remotely(
    cs: CentralSystem, charger: VirtualCharger, connector_id: int, id_tag: str = "TAG-1"
) -> int:
    """Plug the car in, remote start and wait until the server has seen the session's
    first meter values; with the car there, the charger starts at once."""
    assert await charger.plug_in(connector_id)
    result = await cs.send(call.RemoteStartTransaction(id_tag=id_tag, connector_id=connector_id))
    assert result.status == "Accepted"
    await cs.wait_for_count("MeterValues", 1)
    return int(cs.of("MeterValues")[-1]["transaction_id"])


def energies(cs: CentralSystem) -> list[float]:
    return [
        float(value["value"])
        for message in cs.of("MeterValues")
        for value in message["meter_value"][0]["sampled_value"]
        if value["measurand"] == "Energy.Active.Import.Register"
    ]
