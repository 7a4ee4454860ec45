"""The words a connector's status is told in, and what each means to a driver or an operator.

OCPP 1.6 reports them as they are; the 2.x adapter composes them from the plug's status
and the transaction's charging state (see ``ocpp/v201.py``). Whoever reads a status takes
its meaning from the sets here, so the driver's page, the payments and the operators'
dashboard agree on what is free, in use or out of order.
"""

from __future__ import annotations

from enum import StrEnum


class ConnectorStatus(StrEnum):
    AVAILABLE = "Available"
    PREPARING = "Preparing"  # a car plugged in, no session yet (maybe the paying driver's)
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"  # the session is over, the car still plugged in
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"
    OCCUPIED = "Occupied"  # 2.x: a plug in use, no finer state known


# A session delivering energy, or paused by the car or the charger.
CHARGING = frozenset(
    {ConnectorStatus.CHARGING, ConnectorStatus.SUSPENDED_EV, ConnectorStatus.SUSPENDED_EVSE}
)
# A session runs or has just ended there: nobody else can plug in.
IN_USE = CHARGING | {ConnectorStatus.FINISHING, ConnectorStatus.OCCUPIED}
# A driver may start there: it is free, or the car plugged in may be their own.
STARTABLE = frozenset({ConnectorStatus.AVAILABLE, ConnectorStatus.PREPARING})
OUT_OF_ORDER = frozenset({ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE})
