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
class RemoteStart:
    connector_id: int | None
    id_tag: str
    # Chargers that number remote starts echo it in the transaction, which links it
    # unambiguously; unique per remote start (see :func:`new_request_id`).
    remote_start_id: int = 0
    profile: ChargingProfile | None = None  # a TxProfile the started transaction runs under


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


# -- firmware and diagnostics (issue 14) --


@dataclass(frozen=True, slots=True)
class UpdateFirmware:
    request_id: int  # 2.0.1 echoes it in its FirmwareStatusNotifications
    location: str
    retrieve_at: datetime
    retries: int | None = None
    retry_interval: int | None = None  # seconds


LogType = Literal["DiagnosticsLog", "SecurityLog"]


@dataclass(frozen=True, slots=True)
class GetLog:
    """Upload a log to ``location``: 1.6's GetDiagnostics, 2.0.1's GetLog."""

    request_id: int
    location: str
    log_type: LogType = "DiagnosticsLog"
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None


# -- smart charging (issue 14) ------------------------------------------------------

# 2.0.1 calls the charger's own maximum ChargingStationMaxProfile; the adapters spell it.
ProfilePurpose = Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]
ProfileKind = Literal["Absolute", "Recurring", "Relative"]
RateUnit = Literal["A", "W"]


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    start_s: int  # seconds from the schedule's start
    # Tenths of an ampere or watt: OCPP 1.6 allows multiples of 0.1 only, so this is exact.
    limit_tenths: int
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    profile_id: int
    purpose: ProfilePurpose
    stack_level: int
    kind: ProfileKind
    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    recurrency: Literal["Daily", "Weekly"] | None = None
    start_schedule: datetime | None = None
    duration_s: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | None = None  # a TxProfile's transaction (ours)
    transaction_uid: str | None = None  # ... and the charger's own id for it, where it has one


@dataclass(frozen=True, slots=True)
class SetChargingProfile:
    connector_id: int  # 0: the whole charger
    profile: ChargingProfile


@dataclass(frozen=True, slots=True)
class ClearChargingProfile:
    """Every profile that matches all the criteria given (none given: every profile)."""

    profile_id: int | None = None
    connector_id: int | None = None
    purpose: ProfilePurpose | None = None
    stack_level: int | None = None


@dataclass(frozen=True, slots=True)
class GetCompositeSchedule:
    connector_id: int
    duration_s: int
    unit: RateUnit | None = None


@dataclass(frozen=True, slots=True)
class GetChargingProfiles:
    """2.0.1: the charger reports the profiles it holds, in ReportChargingProfiles."""

    request_id: int
    evse_id: int | None = None
    purpose: ProfilePurpose | None = None
    stack_level: int | None = None
    profile_ids: tuple[int, ...] = ()


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


@dataclass(frozen=True, slots=True)
class ReadReservationSupport:
    """Whether the charger takes ReserveNow; the result's status is "true" or "false"."""


Command = (
    Reset
    | UnlockConnector
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
    | UpdateFirmware
    | GetLog
    | SetChargingProfile
    | ClearChargingProfile
    | GetCompositeSchedule
    | GetChargingProfiles
    | ReserveNow
    | CancelReservation
    | SendLocalList
    | GetLocalListVersion
    | ReadSetting
    | ReadReservationSupport
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
