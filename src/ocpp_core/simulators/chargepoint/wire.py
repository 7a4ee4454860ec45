"""What every protocol link shares: the wire logger, timestamps, calls and follow-ups.

Handlers only translate; decisions live in the behaviour. Anything a handler
must send afterwards runs as a follow-up once the reply is on the wire, because
calling out from inside a handler would block the receive loop it runs on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar, cast

from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .behaviour import ChargerBehaviour
from .link import LinkError

VENDOR = "ocpp-core"
MODEL = "Simulator"
WIRE_LOGGER = logging.getLogger("ocpp_core.simulator.ocpp")

_Handler = TypeVar("_Handler", bound=Callable[..., Any])
FollowUp = Callable[[], Coroutine[Any, Any, None]]


def on_call(action: str) -> Callable[[_Handler], _Handler]:
    return cast(Callable[[_Handler], _Handler], on(action))


def after_call(action: str) -> Callable[[_Handler], _Handler]:
    return cast(Callable[[_Handler], _Handler], after(action))


def timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def time_of(text: str | None) -> datetime | None:
    """A time the central system may leave out."""
    return None if text is None else parse_time(text)


def periods_of(periods: list[dict[str, Any]]) -> tuple[tuple[int, float], ...]:
    """A schedule's periods, in order, as (start s, limit); both versions spell them alike."""
    return tuple(sorted((int(p["start_period"]), round(float(p["limit"]), 1)) for p in periods))


def parse_time(text: str) -> datetime:
    """A time the central system sent (RFC 3339, ``Z`` or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class LinkBase:
    """Mixed in after a version's ``ChargePoint``, whose ``start``, ``call`` and socket it uses."""

    _connection: ClientConnection
    start: Callable[[], Awaitable[None]]
    call: Callable[..., Awaitable[Any]]

    def _setup(self, charger: ChargerBehaviour) -> None:
        self._charger = charger
        self._closed = asyncio.Event()
        self._follow_ups: dict[str, FollowUp] = {}

    def _now(self) -> str:
        """The charger's own clock (sped up with it), as OCPP writes a time."""
        return timestamp(self._charger.clock.now())

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
