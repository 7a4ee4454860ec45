"""What nodes say to each other over Redis pub/sub: JSON, one message per publish.

A node's request channel carries two kinds of message: a CALL to send to a
charger whose socket it holds (already spelled by the caller in the charger's
protocol, see :mod:`.router`), and the order to drop a socket a newer
connection on another node replaced. The answer to a CALL goes to the reply
channel the request names: the charger's answer, or the error the caller
raises as if the call had been local (the same :class:`CommandError` classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ocpp_core.domain.command_errors import (
    ChargerOffline,
    ChargerRejectedCall,
    CommandError,
    CommandNotSupported,
    CommandTimeout,
)
from ocpp_core.ocpp.framing import ErrorCode, FrameError


@dataclass(frozen=True, slots=True)
class CallRequest:
    request_id: str
    reply_to: str
    deadline: float  # wall-clock seconds (time.time()) after which the caller no longer waits
    charge_point_id: str
    protocol: str  # the protocol the CALL is spelled in
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DropRequest:
    """Close the socket of this connection: the charger reconnected to another node."""

    charge_point_id: str
    token: str


Request = CallRequest | DropRequest


@dataclass(frozen=True, slots=True)
class Reply:
    request_id: str
    answer: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def encode_request(request: Request) -> bytes:
    if isinstance(request, DropRequest):
        return orjson.dumps(
            {"kind": "drop", "charger": request.charge_point_id, "token": request.token}
        )
    return orjson.dumps(
        {
            "kind": "call",
            "id": request.request_id,
            "reply": request.reply_to,
            "deadline": request.deadline,
            "charger": request.charge_point_id,
            "protocol": request.protocol,
            "action": request.action,
            "payload": request.payload,
        }
    )


def decode_request(raw: bytes | str) -> Request:
    """A request from another node; ``ValueError`` (or ``KeyError``) for anything else."""
    message = orjson.loads(raw)
    if message["kind"] == "drop":
        return DropRequest(str(message["charger"]), str(message["token"]))
    if message["kind"] != "call":
        raise ValueError(f"unknown request kind {message['kind']!r}")
    return CallRequest(
        request_id=str(message["id"]),
        reply_to=str(message["reply"]),
        deadline=float(message["deadline"]),
        charge_point_id=str(message["charger"]),
        protocol=str(message["protocol"]),
        action=str(message["action"]),
        payload=dict(message["payload"]),
    )


def encode_reply(reply: Reply) -> bytes:
    body: dict[str, Any] = {"id": reply.request_id}
    if reply.error is not None:
        body["error"] = reply.error
    else:
        body["answer"] = reply.answer
    return orjson.dumps(body)


def decode_reply(raw: bytes | str) -> Reply:
    message = orjson.loads(raw)
    return Reply(str(message["id"]), message.get("answer"), message.get("error"))


def describe_error(error: CommandError | FrameError) -> dict[str, Any]:
    """An error raised on the node holding the socket, as the caller's node rebuilds it."""
    if isinstance(error, ChargerRejectedCall):
        return {
            "type": "ChargerRejectedCall",
            "code": error.code,
            "description": error.description,
            "details": error.details,
            "answer": error.answer,
        }
    if isinstance(error, FrameError):
        return {"type": "FrameError", "code": str(error.code), "description": error.description}
    return {"type": type(error).__name__, "message": str(error)}


_PLAIN: dict[str, type[CommandError]] = {
    cls.__name__: cls for cls in (ChargerOffline, CommandTimeout, CommandNotSupported)
}


def rebuild_error(error: dict[str, Any]) -> CommandError | FrameError:
    """The exception :func:`describe_error` described; a plain CommandError if unknown."""
    kind = error.get("type")
    if kind == "ChargerRejectedCall":
        return ChargerRejectedCall(
            str(error["code"]), str(error["description"]), error.get("details"), error.get("answer")
        )
    if kind == "FrameError":
        return FrameError(ErrorCode(error["code"]), str(error["description"]))
    return _PLAIN.get(str(kind), CommandError)(str(error.get("message", kind)))
