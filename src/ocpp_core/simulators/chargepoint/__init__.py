"""Virtual OCPP charge points: one charger, a fleet, and the ``simulate`` command."""

from .charger import VirtualCharger
from .fleet import Fleet, run_fleet
from .model import ConnectorStatus, StopReason
from .settings import SUPPORTED_PROTOCOLS, ChargerSettings, FleetSettings

__all__ = [
    "SUPPORTED_PROTOCOLS",
    "ChargerSettings",
    "ConnectorStatus",
    "Fleet",
    "FleetSettings",
    "StopReason",
    "VirtualCharger",
    "run_fleet",
]
