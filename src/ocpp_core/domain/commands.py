"""What the server can ask a charger to do, independent of the OCPP version.

The protocol adapters turn these into version-specific CALLs; everything above
the command router speaks only in these terms, and they are plain data so a
router can carry them to the node that holds the charger's socket.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True, slots=True)
class Reset:
    hard: bool
    connector_id: int | None = None  # one charging position; only chargers with EVSEs can


@dataclass(frozen=True, slots=True)
class UnlockConnector:
    connector_id: int
    plug_id: int = 1  # which plug of the position (a 2.0.1 EVSE may have several)


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
    # Chargers that number remote starts echo it in the transaction, which links it
    # unambiguously; unique per remote start (see :func:`new_request_id`).
    remote_start_id: int = 0


@dataclass(frozen=True, slots=True)
class RemoteStop:
    transaction_id: int
    uid: str | None = None  # the charger's own transaction id, where it has one


@dataclass(frozen=True, slots=True)
class GetConfiguration:
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeConfiguration:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Variable:
    """A device-model variable: a component (optionally of one EVSE/plug) and its name."""

    component: str
    variable: str
    evse_id: int | None = None
    connector_id: int | None = None
    instance: str | None = None


@dataclass(frozen=True, slots=True)
class GetVariables:
    variables: tuple[Variable, ...]


@dataclass(frozen=True, slots=True)
class SetVariables:
    variable: Variable
    value: str


@dataclass(frozen=True, slots=True)
class GetBaseReport:
    request_id: int
    report: Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"]


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


# -- reservations (see domain.reservations) --------------------------------------


@dataclass(frozen=True, slots=True)
class ReserveNow:
    reservation_id: int
    expires_at: datetime
    id_tag: str
    connector_id: int  # the connector (2.x: the EVSE); 0 for any of the charger's
    connector_type: str | None = None  # 2.x only: a plug of this type
    parent_id_tag: str | None = None


@dataclass(frozen=True, slots=True)
class CancelReservation:
    reservation_id: int


Command = (
    Reset
    | UnlockConnector
    | SetChargingLimit
    | ClearChargingLimit
    | RemoteStart
    | RemoteStop
    | GetConfiguration
    | ChangeConfiguration
    | GetVariables
    | SetVariables
    | GetBaseReport
    | TriggerMessage
    | ChangeAvailability
    | ClearCache
    | DataTransfer
    | ReserveNow
    | CancelReservation
)

# The charging profile ocpp-core owns on every connector: set and cleared by id,
# so it never touches profiles an operator installed by other means.
CHARGING_LIMIT_PROFILE_ID = 100


def new_request_id() -> int:
    """A positive 31-bit id for a request the charger will refer back to.

    Random rather than counted, so that every server node (and every restart) can
    draw one without coordination; where it must be unique, a database constraint
    on the stored id turns the rare collision into an error instead of a mix-up.
    """
    return secrets.randbelow(2**31 - 1) + 1
