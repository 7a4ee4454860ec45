"""Baseline: a bare central system written the way the ``ocpp`` library's examples write one.

The library's defaults: its ``ChargePoint`` per connection, ``jsonschema``
validation of every message (in a thread pool), the standard asyncio loop, no
persistence. This is what most Python central systems start from.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import ServerConnection

from bench.baselines import listen

_transactions = itertools.count(1)
_Handler = Callable[..., Awaitable[Any]]


def _on(action: str) -> Callable[[_Handler], _Handler]:
    """The library's routing decorator, typed (the ``ocpp`` package has no annotations)."""
    return cast(Callable[[_Handler], _Handler], on(action))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class CentralSystem(ChargePoint):  # type: ignore[misc]
    @_on(Action.boot_notification)
    async def on_boot(self, **_: Any) -> Any:
        return call_result.BootNotification(
            current_time=_now(), interval=300, status=RegistrationStatus.accepted
        )

    @_on(Action.heartbeat)
    async def on_heartbeat(self) -> Any:
        return call_result.Heartbeat(current_time=_now())

    @_on(Action.status_notification)
    async def on_status(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @_on(Action.start_transaction)
    async def on_start(self, **_: Any) -> Any:
        return call_result.StartTransaction(
            transaction_id=next(_transactions),
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @_on(Action.meter_values)
    async def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()


async def _connected(connection: ServerConnection) -> None:
    charger = CentralSystem(connection.request.path.rsplit("/", 1)[-1], connection)  # type: ignore[union-attr]
    try:
        await charger.start()
    except Exception:  # the charger went away
        return


def main() -> None:
    listen.main(_connected, __doc__, asyncio.run)


if __name__ == "__main__":
    main()
