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


# Local authorization lists and the authorization settings (issue 14, local lists).


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One tag of a local list; ``status`` None removes the tag from the list."""

    tag: str
    status: str | None
    expires_at: datetime | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class SendLocalList:
    version: int
    full: bool  # a full list replaces the charger's; a differential one changes it
    entries: tuple[ListEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class GetLocalListVersion:
    """Answered with the version as the result's status (-1: the charger has no lists)."""


@dataclass(frozen=True, slots=True)
class ReadSetting:
    """One setting, named by its 1.6 configuration key; the value is the result's status."""

    key: str


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
    | SendLocalList
    | GetLocalListVersion
    | ReadSetting
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
