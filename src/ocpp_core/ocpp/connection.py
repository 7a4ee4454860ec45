"""One live charger websocket: sending CALLs and matching their answers.

OCPP-J allows one outstanding CALL per direction, so outgoing calls queue behind
a lock; some chargers drop a second CALL sent before the first was answered.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ocpp_core.domain.command_errors import ChargerOffline, ChargerRejectedCall, CommandTimeout
from ocpp_core.ocpp.framing import CallError, CallResult, FrameError, encode_call
from ocpp_core.ocpp.schemas import SchemaSet, check

Sender = Callable[[str], Awaitable[None]]
Closer = Callable[[int], Awaitable[None]]


class Connection:
    """The server's handle on one charger's socket, whatever the protocol version."""

    def __init__(
        self,
        charge_point_id: str,
        protocol: str,
        schemas: SchemaSet,
        send: Sender,
        close: Closer,
        token: str = "",
    ) -> None:
        self.charge_point_id = charge_point_id
        # Names this connection in the presence records (database and cluster), so that
        # the close of a replaced socket, or an order to drop one, touches only its own.
        self.token = token
        self.protocol = protocol
        self._schemas = schemas
        self._send = send
        self._close = close
        self._call_lock = asyncio.Lock()
        self._pending: dict[str, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self.closed = False

    async def send(self, text: str) -> None:
        """Send a frame; :class:`ChargerOffline` once this side has closed the socket."""
        if self.closed:
            raise ChargerOffline(self.charge_point_id)
        try:
            await self._send(text)
        except RuntimeError:  # the ASGI server refuses to send after a close
            if self.closed:
                raise ChargerOffline(self.charge_point_id) from None
            raise

    async def close(self, code: int = 1000) -> None:
        """Close the socket (once); frames still queued from the charger go unanswered."""
        if self.closed:
            return
        self.closed = True
        await self._close(code)

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        timeout: float,
        on_valid: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Send a CALL and return the charger's validated answer.

        ``on_valid`` runs once the payload passed its schema, so a command refused
        here is never counted or logged as sent.
        """
        request_schema = self._schemas.request(action)
        if request_schema is not None:
            check(request_schema, payload, "-")
        if on_valid is not None:
            on_valid()
        async with self._call_lock:
            unique_id = str(uuid.uuid4())
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending[unique_id] = (action, future)
            try:
                await self.send(encode_call(unique_id, action, payload))
                async with asyncio.timeout(timeout):
                    return await future
            except TimeoutError:
                raise CommandTimeout(f"{action} to {self.charge_point_id} timed out") from None
            finally:
                self._pending.pop(unique_id, None)

    def resolve(self, frame: CallResult | CallError) -> bool:
        """Hand an answer to the waiting caller; False if nobody waits for it."""
        entry = self._pending.get(frame.unique_id)
        if entry is None or entry[1].done():
            return False
        action, future = entry
        if isinstance(frame, CallError):
            future.set_exception(ChargerRejectedCall(frame.code, frame.description, frame.details))
            return True
        response_schema = self._schemas.response(action)
        try:
            if response_schema is not None:
                check(response_schema, frame.payload, frame.unique_id)
        except FrameError as error:
            refusal = ChargerRejectedCall(error.code, error.description, answer=frame.payload)
            future.set_exception(refusal)
        else:
            future.set_result(frame.payload)
        return True

    def abandon(self) -> None:
        """Fail the calls still waiting when the socket goes away."""
        for _action, future in self._pending.values():
            if not future.done():
                future.set_exception(CommandTimeout("connection closed"))
