"""``GET /health``: whether a load balancer should send this node chargers and calls.

No API key: load balancers probe without one. 200 when the database answers,
Redis too in cluster mode, and the node is accepting chargers (started, not
draining before it stops); 503 otherwise, with the part that failed named in
the body, or ``"status": "draining"``. The node's id (host name and process id
by default) and its charger count tell a scanner which machine it reached and
how busy it is: they are shown only with the API key, in the API's header.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from ocpp_core.runtime import Runtime
from ocpp_core.server.api_auth import API_KEY_HEADER, key_matches

# Seconds each part has to answer: load balancers give a whole check a few seconds.
CHECK_TIMEOUT = 2.0


async def health(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    checks: dict[str, Awaitable[None]] = {"database": _database(runtime)}
    if runtime.cluster is not None:
        checks["redis"] = runtime.cluster.ping()
    outcomes = await asyncio.gather(*(_outcome(check) for check in checks.values()))
    body: dict[str, Any] = dict(zip(checks, outcomes, strict=True))
    started = bool(getattr(request.app.state, "accepting", False))
    body["accepting"] = started and not runtime.draining
    healthy = body["accepting"] and all(outcome == "ok" for outcome in outcomes)
    if key_matches(
        request.headers.get(API_KEY_HEADER), runtime.settings.api_key.get_secret_value()
    ):
        if runtime.cluster is not None:
            body["node"] = runtime.cluster.node_id
        body["chargers"] = len(runtime.registry)  # sockets this node holds
    return JSONResponse(
        {"status": _status(healthy, runtime.draining), **body},
        status_code=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )


def _status(healthy: bool, draining: bool) -> str:
    if draining:
        return "draining"
    return "ok" if healthy else "unavailable"


async def _database(runtime: Runtime) -> None:
    async with runtime.db.reading() as session:
        await session.execute(text("SELECT 1"))


async def _outcome(check: Awaitable[None]) -> str:
    """``ok``, or what went wrong in a few words (never a statement or a secret)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await check
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:g} s"
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok"
