"""Virtual OCPP charge points: one charger and a fleet (``ocpp-core simulate`` runs one)."""

from ocpp_core.simulators.protocols import SUPPORTED_PROTOCOLS

from .charger import VirtualCharger
from .fleet import Fleet, run_fleet
from .model import ConnectorStatus, StopReason
from .settings import ChargerSettings, FleetSettings

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
