"""What the server can ask a charger to do, independent of the OCPP version.

The protocol adapters turn these into version-specific CALLs; everything above
the command router speaks only in these terms, and they are plain data so a
router can carry them to the node that holds the charger's socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Reset:
    hard: bool


@dataclass(frozen=True, slots=True)
class UnlockConnector:
    connector_id: int


@dataclass(frozen=True, slots=True)
class SetChargingLimit:
    connector_id: int
    limit: int
    unit: Literal["A", "W"]


@dataclass(frozen=True, slots=True)
class ClearChargingLimit:
    connector_id: int


@dataclass(frozen=True, slots=True)
class RemoteStart:
    connector_id: int | None
    id_tag: str


@dataclass(frozen=True, slots=True)
class RemoteStop:
    transaction_id: int


@dataclass(frozen=True, slots=True)
class GetConfiguration:
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeConfiguration:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    message: str
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class ChangeAvailability:
    connector_id: int
    operative: bool


@dataclass(frozen=True, slots=True)
class ClearCache:
    pass


@dataclass(frozen=True, slots=True)
class DataTransfer:
    vendor_id: str
    message_id: str | None = None
    data: str | None = None


Command = (
    Reset
    | UnlockConnector
    | SetChargingLimit
    | ClearChargingLimit
    | RemoteStart
    | RemoteStop
    | GetConfiguration
    | ChangeConfiguration
    | TriggerMessage
    | ChangeAvailability
    | ClearCache
    | DataTransfer
)

# The charging profile ocpp-core owns on every connector: set and cleared by id,
# so it never touches profiles an operator installed by other means.
CHARGING_LIMIT_PROFILE_ID = 100
