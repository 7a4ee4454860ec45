"""Baseline: a raw ``websockets`` server answering every OCPP CALL with a canned result.

No validation, no persistence, no routing: uvloop + orjson + the websocket, the
fastest a Python central system could be on this machine. ocpp-core's figures
are reported as a share of this one's, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import time
from typing import Any

import orjson
import uvloop
from websockets.asyncio.server import ServerConnection, serve

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


async def _serve(host: str, port: int) -> None:
    async with serve(
        _answer,
        host,
        port,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        ping_interval=None,
        backlog=4096,
    ):
        await asyncio.Future()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
