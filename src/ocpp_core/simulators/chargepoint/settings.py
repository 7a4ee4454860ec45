"""Settings for one virtual charger and for a fleet of them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from urllib.parse import quote

from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from ocpp_core.simulators.protocols import SUPPORTED_PROTOCOLS


@dataclass(frozen=True, kw_only=True)
class ChargerOptions:
    """Behaviour shared by every charger of a fleet.

    Intervals are real seconds. ``speed`` runs the charger's clock faster: its EV,
    its meter and every timestamp it sends together, so the energy per timestamped
    hour stays ``power_w`` and a central system's plausibility check believes it.

    ``plug_in_after`` is the simulated driver: after a remote start that finds no car,
    the car is plugged in that many seconds later; ``None`` leaves the plugging to the
    caller (``plug_in``), who may be too late for the charger's ``ConnectionTimeOut``.
    """

    protocol: str = "ocpp1.6"
    connectors: int = 2
    password: str | None = field(default=None, repr=False)
    power_w: float = 11_000.0
    meter_interval: float = 10.0
    speed: float = 1.0
    unplug_after: float = 2.0
    auto_start: str | None = None
    plug_in_after: float | None = None
    battery_wh: float = 60_000.0
    initial_soc: float = 20.0
    firmware_version: str = "1.0.0-sim"
    response_timeout: float = 30.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0

    def __post_init__(self) -> None:
        if self.protocol not in SUPPORTED_PROTOCOLS:
            raise ValueError(f"unsupported protocol {self.protocol!r}")
        if self.connectors < 1:
            raise ValueError("a charger needs at least one connector")
        positive = ("power_w", "meter_interval", "speed", "battery_wh", "response_timeout")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.plug_in_after is not None and self.plug_in_after < 0:
            raise ValueError("plug_in_after must not be negative")
        if not 0 <= self.initial_soc < 100:
            raise ValueError("initial_soc must be in [0, 100)")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise ValueError("need 0 < backoff_initial <= backoff_max")


@dataclass(frozen=True, kw_only=True)
class ChargerSettings(ChargerOptions):
    """Everything one virtual charger needs to connect and behave."""

    url: str
    charger_id: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.charger_id or ":" in self.charger_id:
            raise ValueError("charger_id must be non-empty and free of ':' (Basic auth user)")
        try:
            parse_uri(self.endpoint)
        except InvalidURI as exc:  # fail at start-up, not in the reconnect loop
            raise ValueError(str(exc)) from exc

    @property
    def endpoint(self) -> str:
        """The OCPP-J convention: the charger identity is the last path segment."""
        return f"{self.url.rstrip('/')}/{quote(self.charger_id, safe='')}"

    @property
    def serial_number(self) -> str:
        """Stable per id so a server can recognise the same box after a reboot."""
        return f"SN-{self.charger_id}"[:25]


@dataclass(frozen=True, kw_only=True)
class FleetSettings(ChargerOptions):
    """A fleet of alike chargers named ``{id_prefix}{i:04d}`` from 1.

    With ``protocol_mix`` the chargers take its protocols in turn instead of
    ``protocol``: a mixed fleet, as operators run them.
    """

    url: str
    count: int = 1
    id_prefix: str = "SIM-"
    duration: float | None = None
    stagger: float = 0.01
    protocol_mix: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.count < 1:
            raise ValueError("count must be at least 1")
        if self.duration is not None and self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.stagger < 0:
            raise ValueError("stagger must not be negative")
        for protocol in self.protocol_mix:
            if protocol not in SUPPORTED_PROTOCOLS:
                raise ValueError(f"unsupported protocol {protocol!r}")
        self.charger_settings(self.count)  # the url and id prefix must suit every charger

    def charger_settings(self, index: int) -> ChargerSettings:
        """Settings of the charger numbered ``index`` (1-based)."""
        shared = {f.name: getattr(self, f.name) for f in fields(ChargerOptions)}
        if self.protocol_mix:
            shared["protocol"] = self.protocol_mix[(index - 1) % len(self.protocol_mix)]
        return ChargerSettings(url=self.url, charger_id=f"{self.id_prefix}{index:04d}", **shared)
