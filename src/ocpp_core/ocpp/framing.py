"""OCPP-J frames: CALL ``[2, id, action, payload]``, CALLRESULT ``[3, id, payload]``, CALLERROR.

Decoding never trusts the peer: every shape problem becomes a :class:`FrameError`
carrying the error code the specification prescribes, so the caller can answer
with a CALLERROR and keep the connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

UNKNOWN_ID = "-1"  # the id OCPP prescribes when a broken frame's id can't be read


class ErrorCode(StrEnum):
    """Version-neutral error codes; adapters spell some of them differently on the wire."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMAT_VIOLATION = "FormatViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


class FrameError(Exception):
    """A frame or payload we must answer with a CALLERROR."""

    def __init__(self, code: ErrorCode, description: str, unique_id: str = UNKNOWN_ID) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.unique_id = unique_id


@dataclass(slots=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallError:
    unique_id: str
    code: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)


Frame = Call | CallResult | CallError


def decode(raw: str | bytes) -> Frame:
    """Parse one websocket message into a frame, or raise :class:`FrameError`."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FrameError(ErrorCode.FORMAT_VIOLATION, "message is not valid JSON") from None
    if not isinstance(message, list) or len(message) < 3:
        raise FrameError(ErrorCode.PROTOCOL_ERROR, "message must be a JSON array of 3 to 5 items")
    unique_id = message[1]
    if not isinstance(unique_id, str) or not 0 < len(unique_id) <= 36:
        raise FrameError(ErrorCode.PROTOCOL_ERROR, "message id must be a string of 1-36 chars")
    return _frame(message, unique_id)


def _frame(message: list[Any], unique_id: str) -> Frame:
    kind = message[0]
    if kind == 2 and len(message) == 4:
        return Call(unique_id, _text(message[2], unique_id), _payload(message[3], unique_id))
    if kind == 3 and len(message) == 3:
        return CallResult(unique_id, _payload(message[2], unique_id))
    if kind == 4 and len(message) in (4, 5):
        details = message[4] if len(message) == 5 and isinstance(message[4], dict) else {}
        code = _text(message[2], unique_id)
        return CallError(unique_id, code, str(message[3]), details)
    raise FrameError(
        ErrorCode.PROTOCOL_ERROR, f"unknown message type {kind!r} or wrong item count", unique_id
    )


def _text(value: Any, unique_id: str) -> str:
    if not isinstance(value, str) or not value:
        raise FrameError(ErrorCode.PROTOCOL_ERROR, "action must be a non-empty string", unique_id)
    return value


def _payload(value: Any, unique_id: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FrameError(ErrorCode.FORMAT_VIOLATION, "payload must be a JSON object", unique_id)
    return value


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([2, unique_id, action, payload]).decode()


def encode_result(unique_id: str, payload: dict[str, Any]) -> str:
    return orjson.dumps([3, unique_id, payload]).decode()


def encode_error(unique_id: str, code: str, description: str) -> str:
    return orjson.dumps([4, unique_id, code, description[:255], {}]).decode()
