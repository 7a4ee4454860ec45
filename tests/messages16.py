"""OCPP 1.6 messages a charger sends during a session, spelled once for the raw chargers.

Each is a :class:`Message`, so a test can keep what a charger sent and compare it
with what the server stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from builders import NOW, timestamp


@dataclass(frozen=True)
class Message:
    action: str
    payload: dict[str, Any]


def boot_notification(charge_point_id: str) -> Message:
    return Message(
        "BootNotification", {"chargePointVendor": "ACME", "chargePointModel": charge_point_id}
    )


def heartbeat() -> Message:
    return Message("Heartbeat", {})


def status_notification(status: str, at: datetime, connector_id: int = 1) -> Message:
    return Message(
        "StatusNotification",
        {
            "connectorId": connector_id,
            "errorCode": "NoError",
            "status": status,
            "timestamp": timestamp(at),
        },
    )


def start_transaction(
    tag: str, meter_start_wh: int, at: datetime = NOW, connector_id: int = 1
) -> Message:
    return Message(
        "StartTransaction",
        {
            "connectorId": connector_id,
            "idTag": tag,
            "meterStart": meter_start_wh,
            "timestamp": timestamp(at),
        },
    )


def meter_values(
    transaction_id: int, register_wh: int, at: datetime, connector_id: int = 1
) -> Message:
    sample = {
        "value": str(register_wh),
        "context": "Sample.Periodic",
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
    }
    return Message(
        "MeterValues",
        {
            "connectorId": connector_id,
            "transactionId": transaction_id,
            "meterValue": [{"timestamp": timestamp(at), "sampledValue": [sample]}],
        },
    )


def stop_transaction(transaction_id: int, tag: str, register_wh: int, at: datetime) -> Message:
    return Message(
        "StopTransaction",
        {
            "transactionId": transaction_id,
            "idTag": tag,
            "meterStop": register_wh,
            "timestamp": timestamp(at),
            "reason": "EVDisconnected",
        },
    )


def register(message: Message) -> tuple[int, str]:
    """A MeterValues' energy register and when it was sampled."""
    [value] = message.payload["meterValue"]
    return int(value["sampledValue"][0]["value"]), value["timestamp"]
