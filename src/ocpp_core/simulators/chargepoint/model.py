"""Protocol-neutral state of a virtual charger: connectors, sessions and meters.

Enum values use the OCPP 1.6 spelling because that is the first mapping; other
protocol versions translate them at their edge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

PHASES = 3
PHASE_VOLTAGE_V = 230.0


class ConnectorStatus(StrEnum):
    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"


class StopReason(StrEnum):
    LOCAL = "Local"
    REMOTE = "Remote"
    EV_DISCONNECTED = "EVDisconnected"
    SOFT_RESET = "SoftReset"
    HARD_RESET = "HardReset"
    UNLOCK_COMMAND = "UnlockCommand"


class SampleContext(StrEnum):
    PERIODIC = "Sample.Periodic"
    TRIGGER = "Trigger"
    TRANSACTION_END = "Transaction.End"


class Registration(StrEnum):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class Trigger(StrEnum):
    BOOT = "BootNotification"
    HEARTBEAT = "Heartbeat"
    STATUS = "StatusNotification"
    METER_VALUES = "MeterValues"
    FIRMWARE_STATUS = "FirmwareStatusNotification"
    UPLOAD_STATUS = "DiagnosticsStatusNotification"  # 2.0.1: LogStatusNotification


class FirmwareStep(StrEnum):
    """A firmware update's steps; DownloadScheduled is 2.0.1's alone (1.6 says nothing)."""

    IDLE = "Idle"
    DOWNLOAD_SCHEDULED = "DownloadScheduled"
    DOWNLOADING = "Downloading"
    DOWNLOADED = "Downloaded"
    DOWNLOAD_FAILED = "DownloadFailed"
    INSTALLING = "Installing"
    INSTALLED = "Installed"


class UploadStep(StrEnum):
    IDLE = "Idle"
    UPLOADING = "Uploading"
    UPLOADED = "Uploaded"
    FAILED = "UploadFailed"


class ReserveOutcome(StrEnum):
    ACCEPTED = "Accepted"
    OCCUPIED = "Occupied"
    REJECTED = "Rejected"
    UNAVAILABLE = "Unavailable"


@dataclass(frozen=True)
class Reservation:
    """A connector held for one tag (or a tag of its parent) until ``expires_at``."""

    reservation_id: int
    id_tag: str
    parent_id_tag: str | None
    expires_at: datetime


class AvailabilityOutcome(StrEnum):
    ACCEPTED = "Accepted"
    SCHEDULED = "Scheduled"
    REJECTED = "Rejected"


IDLE = frozenset({ConnectorStatus.AVAILABLE, ConnectorStatus.UNAVAILABLE})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SimClock:
    """The charger's own clock, running ``speed`` simulated seconds per real second.

    Everything the charger stamps (statuses, meter values, starts and stops) and its
    meter read this one clock, so a sped-up charger's timestamps advance as fast as its
    energy: an 11 kW charger still meters 11 kW per timestamped hour, which a central
    system can believe, however fast a demo runs. At speed 1 it is the real clock.
    """

    speed: float = 1.0
    real: Callable[[], float] = time.monotonic  # real seconds, any origin
    started_at: datetime = field(default_factory=utc_now)
    _real_start: float = field(init=False)

    def __post_init__(self) -> None:
        self._real_start = self.real()

    def seconds(self) -> float:
        """Simulated seconds since the clock started."""
        return (self.real() - self._real_start) * self.speed

    def at(self, seconds: float) -> datetime:
        """The wall-clock time ``seconds`` simulated seconds after the start."""
        return self.started_at + timedelta(seconds=seconds)

    def now(self) -> datetime:
        return self.at(self.seconds())


@dataclass(frozen=True)
class BootResult:
    status: Registration
    interval: int


@dataclass(frozen=True)
class StartResult:
    transaction_id: int
    accepted: bool


@dataclass(frozen=True)
class MeterSample:
    timestamp: datetime
    energy_wh: float
    power_w: float
    current_a: float
    soc: float | None


@dataclass
class Transaction:
    transaction_id: int
    id_tag: str
    meter_start: int
    stopping: bool = False


@dataclass(frozen=True)
class FinishedTransaction:
    """A stop kept until the server has acknowledged it, so outages lose no session."""

    connector_id: int
    transaction: Transaction
    final: MeterSample
    reason: StopReason


@dataclass
class Meter:
    """Energy register fed by an EV that draws full power until its battery is full.

    Times are the charger's simulated seconds (see :class:`SimClock`).
    """

    max_power_w: float
    battery_wh: float
    register_wh: float = 0.0
    soc: float | None = None
    _last: float | None = field(default=None, repr=False)

    @property
    def power_w(self) -> float:
        if self.soc is None or self.soc >= 100.0:
            return 0.0
        return self.max_power_w

    def connect_ev(self, soc: float, now: float) -> None:
        self.soc, self._last = soc, now

    def disconnect_ev(self, now: float) -> None:
        self.advance(now)
        self.soc, self._last = None, None

    def advance(self, now: float) -> None:
        if self._last is None or self.soc is None:
            return
        wanted_wh = self.power_w * (now - self._last) / 3600.0
        room_wh = (100.0 - self.soc) / 100.0 * self.battery_wh
        if wanted_wh >= room_wh:
            self.register_wh += room_wh
            self.soc = 100.0
        else:
            self.register_wh += wanted_wh
            self.soc += wanted_wh / self.battery_wh * 100.0
        self._last = now

    def sample(self, clock: SimClock) -> MeterSample:
        now = clock.seconds()
        self.advance(now)
        power = self.power_w
        return MeterSample(
            timestamp=clock.at(now),
            energy_wh=self.register_wh,
            power_w=power,
            current_a=power / (PHASES * PHASE_VOLTAGE_V),
            soc=self.soc,
        )


@dataclass
class Connector:
    """One outlet; ``starting`` holds it while a start is in flight so a
    second remote start cannot grab it in between."""

    connector_id: int
    meter: Meter
    status: ConnectorStatus = ConnectorStatus.AVAILABLE
    operative: bool = True
    starting: bool = False
    transaction: Transaction | None = None
    reservation: Reservation | None = None

    @property
    def meter_wh(self) -> int:
        return round(self.meter.register_wh)

    def open_transaction(self, transaction: Transaction, soc: float, now: float) -> None:
        self.transaction = transaction
        self.meter.connect_ev(soc, now)

    def close_transaction(self, clock: SimClock) -> tuple[Transaction, MeterSample] | None:
        """Detach the running session (if any) together with its final reading."""
        transaction = self.transaction
        if transaction is None:
            return None
        final = self.meter.sample(clock)
        self.meter.disconnect_ev(clock.seconds())
        self.transaction = None
        return transaction, final
