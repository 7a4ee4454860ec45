"""What both baselines share: the command line, the file limit and a plain websockets listener."""

from __future__ import annotations

import argparse
import asyncio
import resource
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

Handler = Callable[[ServerConnection], Awaitable[None]]


async def _serve(handler: Handler, host: str, port: int) -> None:
    async with serve(
        handler,
        host,
        port,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        ping_interval=None,
        backlog=4096,
    ):
        await asyncio.Future()


def main(
    handler: Handler,
    description: str | None,
    run: Callable[[Coroutine[Any, Any, None]], None],
) -> None:
    """Listen on ``--port`` with every file the process may open (one per charger)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    run(_serve(handler, args.host, args.port))
