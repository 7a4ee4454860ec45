"""What each OCPP version a charger speaks offers beyond the messages every version shares.

The adapters are what speak the versions; the pages only ask what a charger can do, so a
version added later is one line here, not a search for its name across the pages.
"""

from __future__ import annotations

# Versions whose chargers describe themselves in a device model (components and
# variables, GetBaseReport and NotifyReport) instead of a list of configuration keys.
_DEVICE_MODEL = frozenset({"ocpp2.0.1", "ocpp2.1"})


def has_device_model(protocol: str | None) -> bool:
    """Whether a charger that connected with ``protocol`` (None: never) has a device model."""
    return protocol in _DEVICE_MODEL


# What TriggerMessage may ask for, per version (the OCA schemas' enumerations). A 2.x
# charger also takes 1.6's DiagnosticsStatusNotification: its adapter asks for the log's.
TRIGGERABLE_16 = (
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
)
TRIGGERABLE_201 = (
    "BootNotification",
    "LogStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "SignChargingStationCertificate",
    "SignV2GCertificate",
    "StatusNotification",
    "TransactionEvent",
    "SignCombinedCertificate",
    "PublishFirmwareStatusNotification",
    "DiagnosticsStatusNotification",
)
TRIGGERABLE = tuple(dict.fromkeys(TRIGGERABLE_16 + TRIGGERABLE_201))
