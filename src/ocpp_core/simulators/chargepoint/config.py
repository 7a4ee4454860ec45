"""In-memory configuration keys of a virtual charger (OCPP 1.6 style key/value)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from .profiles import MAX_INSTALLED, MAX_STACK_LEVEL
from .settings import ChargerSettings


class ConfigChange(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"


# Everything the simulator handles, as a 1.6 charger lists it; a central system reads it
# to know, say, that a connector can be held with ReserveNow.
FEATURE_PROFILES = ",".join(
    (
        "Core",
        "FirmwareManagement",
        "LocalAuthListManagement",
        "Reservation",
        "SmartCharging",
        "RemoteTrigger",
    )
)


def _is_count(value: str) -> bool:
    return value.isdigit()


def _is_bool(value: str) -> bool:
    return value.lower() in {"true", "false"}


@dataclass
class ConfigEntry:
    value: str
    readonly: bool = False
    valid: Callable[[str], bool] = _is_count


def _number(value: float) -> str:
    """Settings may hold fractional seconds for fast tests; show ints as ints."""
    return f"{value:g}"


class ConfigStore:
    """Keys a central system commonly reads or tunes; values take effect live
    because the charger reads them at each use rather than caching them."""

    def __init__(self, entries: dict[str, ConfigEntry]) -> None:
        self._entries = entries

    @classmethod
    def defaults(cls, settings: ChargerSettings) -> ConfigStore:
        measurands = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC"
        return cls(
            {
                "HeartbeatInterval": ConfigEntry("300"),
                "MeterValueSampleInterval": ConfigEntry(_number(settings.meter_interval)),
                "ConnectionTimeOut": ConfigEntry("60"),
                "NumberOfConnectors": ConfigEntry(str(settings.connectors), readonly=True),
                "AuthorizeRemoteTxRequests": ConfigEntry("false", valid=_is_bool),
                "LocalPreAuthorize": ConfigEntry("false", valid=_is_bool),
                "StopTransactionOnEVSideDisconnect": ConfigEntry("true", readonly=True),
                "MeterValuesSampledData": ConfigEntry(measurands, readonly=True),
                "SupportedFeatureProfiles": ConfigEntry(FEATURE_PROFILES, readonly=True),
                "GetConfigurationMaxKeys": ConfigEntry("50", readonly=True),
                "ChargeProfileMaxStackLevel": ConfigEntry(str(MAX_STACK_LEVEL), readonly=True),
                "ChargingScheduleAllowedChargingRateUnit": ConfigEntry(
                    "Current,Power", readonly=True
                ),
                "MaxChargingProfilesInstalled": ConfigEntry(str(MAX_INSTALLED), readonly=True),
                "AuthorizationCacheEnabled": ConfigEntry("true", valid=_is_bool),
                "LocalAuthListEnabled": ConfigEntry("true", valid=_is_bool),
                "LocalAuthListMaxLength": ConfigEntry("100", readonly=True),
                "SendLocalListMaxLength": ConfigEntry("20", readonly=True),
            }
        )

    def lookup(self, keys: Iterable[str] | None) -> tuple[dict[str, ConfigEntry], list[str]]:
        """Known entries and unknown key names; ``None`` asks for everything."""
        if keys is None:
            return dict(self._entries), []
        keys = list(keys)
        known = {key: self._entries[key] for key in keys if key in self._entries}
        return known, [key for key in keys if key not in self._entries]

    def change(self, key: str, value: str) -> ConfigChange:
        entry = self._entries.get(key)
        if entry is None:
            return ConfigChange.NOT_SUPPORTED
        if entry.readonly or not entry.valid(value):
            return ConfigChange.REJECTED
        entry.value = value
        return ConfigChange.ACCEPTED

    def assign(self, key: str, value: float) -> None:
        """Internal writes (e.g. the boot interval) bypass the read-only guard."""
        self._entries[key].value = _number(value)

    def number(self, key: str) -> float:
        return float(self._entries[key].value)

    def flag(self, key: str) -> bool:
        return self._entries[key].value.lower() == "true"
