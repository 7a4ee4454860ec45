"""Baseline: a raw ``websockets`` server answering every OCPP CALL with a canned result.

No validation, no persistence, no routing: uvloop + orjson + the websocket, the
fastest a Python central system could be on this machine. ocpp-core's figures
are reported as a share of this one's, measured in the same run.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import orjson
import uvloop
from websockets.asyncio.server import ServerConnection

from bench.baselines import listen

_transactions = itertools.count(1)


def _result(action: str) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": now, "interval": 300}
    if action == "Heartbeat":
        return {"currentTime": now}
    if action in ("StartTransaction", "Authorize", "StopTransaction"):
        answer: dict[str, Any] = {"idTagInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            answer["transactionId"] = next(_transactions)
        return answer
    return {}


async def _answer(connection: ServerConnection) -> None:
    async for message in connection:
        frame = orjson.loads(message)
        if frame[0] == 2:
            await connection.send(orjson.dumps([3, frame[1], _result(frame[2])]).decode())


def main() -> None:
    listen.main(_answer, __doc__, uvloop.run)


if __name__ == "__main__":
    main()
