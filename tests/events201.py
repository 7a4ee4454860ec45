"""OCPP 2.0.1 messages a charger sends during a session, spelled once for every test."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp.v201 import call

from builders import timestamp
from chargers import TestCharger201


def energy(wh: int, at: datetime, context: str = "Sample.Periodic") -> dict[str, Any]:
    """One meter value in kWh with a multiplier, as many 2.0.1 meters report it."""
    return {
        "timestamp": timestamp(at),
        "sampled_value": [
            {
                "value": wh / 1000,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit_of_measure": {"unit": "kWh", "multiplier": 0},
            }
        ],
    }


async def transaction_event(
    cp: TestCharger201,
    kind: str,
    uid: str,
    seq_no: int,
    at: datetime,
    *,
    trigger: str,
    evse: int | None = None,
    tag: str | None = None,
    meter: list[dict[str, Any]] | None = None,
    offline: bool | None = None,
    **info: Any,
) -> Any:
    return await cp.call(
        call.TransactionEvent(
            event_type=kind,
            timestamp=timestamp(at),
            trigger_reason=trigger,
            seq_no=seq_no,
            transaction_info={"transaction_id": uid, **info},
            evse=None if evse is None else {"id": evse, "connector_id": 1},
            id_token=None if tag is None else {"id_token": tag, "type": "ISO14443"},
            meter_value=meter,
            offline=offline,
        )
    )


async def status(cp: TestCharger201, evse: int, connector: int, state: str, at: datetime) -> None:
    await cp.call(call.StatusNotification(timestamp(at), state, evse, connector))
