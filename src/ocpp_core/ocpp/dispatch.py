"""Handling one incoming websocket message: decode, validate, route, answer.

Every failure becomes the CALLERROR the specification prescribes and the
connection stays up; a bug in a handler is an InternalError, logged with its
traceback, never a dropped socket.

A message is answered with success only once what it says is stored. While the
database can't be reached, it gets an InternalError instead (the database's
health logs that, once): a charger resends a transaction message that got an
error, and the handlers take the resent one as a replay. A Heartbeat has
nothing to store and is answered all the same, so the charger keeps its clock
and doesn't take the central system for gone.
"""

from __future__ import annotations

import logging
from typing import Any

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.ocpp.adapter import ChargerContext, ProtocolAdapter
from ocpp_core.ocpp.connection import Connection
from ocpp_core.ocpp.framing import (
    Call,
    ErrorCode,
    FrameError,
    decode,
    encode_error,
    encode_result,
)
from ocpp_core.ocpp.journal import error_answer, incoming
from ocpp_core.ocpp.schemas import check

logger = logging.getLogger(__name__)

_UNKNOWN_ACTION = "(unknown)"
_NOTHING_TO_STORE = frozenset({"Heartbeat"})


async def handle_message(
    ctx: ChargerContext, adapter: ProtocolAdapter, connection: Connection, raw: str | bytes
) -> None:
    if isinstance(raw, bytes):
        error = FrameError(ErrorCode.FORMAT_VIOLATION, "OCPP-J messages are text frames")
        await _reply_error(ctx, adapter, connection, error, action="?", payload=None)
        return
    try:
        frame = decode(raw)
    except FrameError as error:
        await _reply_error(ctx, adapter, connection, error, action="?", payload={"raw": raw[:2000]})
        return
    if isinstance(frame, Call):
        await _handle_call(ctx, adapter, connection, frame)
    elif not connection.resolve(frame):
        logger.info(
            "%s: answer to an unknown or expired call %s", ctx.charge_point_id, frame.unique_id
        )


async def _handle_call(
    ctx: ChargerContext, adapter: ProtocolAdapter, connection: Connection, call: Call
) -> None:
    known = adapter.schemas.knows(call.action)
    ctx.runtime.metrics.received(call.action if known else _UNKNOWN_ACTION)
    try:
        response = await _respond(ctx, adapter, call)
    except FrameError as error:
        await _reply_error(
            ctx, adapter, connection, error, action=call.action, payload=call.payload
        )
        return
    except DatabaseUnavailable:
        await _reply_unavailable(ctx, adapter, connection, call)
        return
    if call.action in adapter.logged_by_handler:  # with what it stored, in one transaction
        await connection.send(encode_result(call.unique_id, response))
        return
    logged = await _log(ctx, adapter, call.action, call.payload, response)
    if not logged and call.action not in _NOTHING_TO_STORE:
        await _reply_unavailable(ctx, adapter, connection, call)
        return
    await connection.send(encode_result(call.unique_id, response))


async def _respond(ctx: ChargerContext, adapter: ProtocolAdapter, call: Call) -> dict[str, Any]:
    handler = adapter.handlers.get(call.action)
    if handler is None:
        code = (
            ErrorCode.NOT_SUPPORTED
            if adapter.schemas.knows(call.action)
            else (ErrorCode.NOT_IMPLEMENTED)
        )
        raise FrameError(code, f"action {call.action!r} is not handled here", call.unique_id)
    request_schema = adapter.schemas.request(call.action)
    if request_schema is not None:
        check(request_schema, call.payload, call.unique_id)
    try:
        response = await handler(ctx, call.payload)
        response_schema = adapter.schemas.response(call.action)
        if response_schema is not None:
            check(response_schema, response, call.unique_id)
    except FrameError as error:
        error.unique_id = call.unique_id
        raise
    except DatabaseUnavailable:
        raise
    except Exception:
        logger.exception("%s: handling %s failed", ctx.charge_point_id, call.action)
        raise FrameError(
            ErrorCode.INTERNAL_ERROR, "the central system failed to process it", call.unique_id
        ) from None
    return response


async def _reply_error(
    ctx: ChargerContext,
    adapter: ProtocolAdapter,
    connection: Connection,
    error: FrameError,
    *,
    action: str,
    payload: dict[str, Any] | None,
) -> None:
    code = adapter.wire_code(error.code)
    ctx.runtime.metrics.errors.labels(code).inc()
    logger.warning("%s: %s rejected with %s: %s", ctx.charge_point_id, action, code, error)
    await _log(ctx, adapter, action, payload, error_answer(error.description), code)
    await connection.send(encode_error(error.unique_id, code, error.description))


async def _reply_unavailable(
    ctx: ChargerContext, adapter: ProtocolAdapter, connection: Connection, call: Call
) -> None:
    """No log line and no log row: the database's health reports the outage, once."""
    code = adapter.wire_code(ErrorCode.INTERNAL_ERROR)
    ctx.runtime.metrics.errors.labels(code).inc()
    description = "the central system can't store this now; send it again later"
    await connection.send(encode_error(call.unique_id, code, description))


async def _log(
    ctx: ChargerContext,
    adapter: ProtocolAdapter,
    action: str,
    payload: dict[str, Any] | None,
    answer: dict[str, Any],
    error_code: str | None = None,
) -> bool:
    """Keep the call and our answer in the log; the answer waits until it is written.

    False if the database could not be reached to write it.
    """
    log = ctx.runtime.message_log
    always = error_code is not None or action in adapter.always_logged
    if not log.wants(action, always=always):
        return True
    entry = incoming(
        ctx.charge_point_id, action, payload, answer, at=ctx.runtime.clock(), error_code=error_code
    )
    written = log.record(entry, always=always)
    return written is None or await written
