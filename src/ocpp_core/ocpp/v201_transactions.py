"""OCPP 2.0.1 TransactionEvent: one message for a transaction's start, updates and end.

This reads the event into the domain's words (see :mod:`ocpp_core.domain.transaction_events`,
which records it) and answers for its idToken.
"""

from __future__ import annotations

from collections.abc import Mapping

from ocpp_core.clock import format_timestamp
from ocpp_core.domain import meter, transaction_events
from ocpp_core.domain.authorization import Authorization
from ocpp_core.domain.charging import Readings
from ocpp_core.domain.connector_status import ConnectorStatus
from ocpp_core.domain.meter import InvalidSample, Read
from ocpp_core.domain.transaction_events import EventType, MissingPosition, TransactionEvent
from ocpp_core.ocpp import common
from ocpp_core.ocpp.adapter import ChargerContext
from ocpp_core.ocpp.common import Payload, timestamp
from ocpp_core.ocpp.framing import ErrorCode, FrameError

_NO_UNIT: Mapping[str, object] = {}
# The domain's connector status words; 2.0.1 splits them into the plug's status
# and the transaction's charging state.
CHARGING_STATES = {
    "Charging": ConnectorStatus.CHARGING,
    "SuspendedEV": ConnectorStatus.SUSPENDED_EV,
    "SuspendedEVSE": ConnectorStatus.SUSPENDED_EVSE,
    "EVConnected": ConnectorStatus.PREPARING,
}


def id_token_info(auth: Authorization) -> Payload:
    info: Payload = {"status": auth.status.value}
    if auth.expires_at is not None:
        info["cacheExpiryDateTime"] = format_timestamp(auth.expires_at)
    if auth.group is not None:
        info["groupIdToken"] = {"idToken": auth.group, "type": "Central"}
    return info


def readings_of(meter_values: list[Payload]) -> Readings:
    return common.decode_readings(meter_values, read_sample)


def read_sample(raw: Payload) -> Read:
    """A 2.0.1 SampledValue; its value is always numeric, even when also signed."""
    get = raw.get
    unit_of_measure = get("unitOfMeasure", _NO_UNIT)
    if not isinstance(unit_of_measure, Mapping):
        raise InvalidSample(f"unitOfMeasure {unit_of_measure!r} is not an object")
    multiplier = unit_of_measure.get("multiplier", 0)
    if type(multiplier) is not int:
        raise InvalidSample(f"multiplier {multiplier!r} is not an integer")
    return meter.sample(
        get("value"),
        multiplier,
        get("measurand"),
        unit_of_measure.get("unit"),
        get("phase"),
        get("context"),
        get("location"),
    )


async def transaction_event(ctx: ChargerContext, p: Payload) -> Payload:
    readings = readings_of(p.get("meterValue", []))  # a bad sample refuses the whole event
    info = p["transactionInfo"]
    event_type = EventType(p["eventType"])
    event = TransactionEvent(
        uid=info["transactionId"],
        type=event_type,
        seq_no=p["seqNo"],
        at=timestamp(p["timestamp"]),
        position=p["evse"]["id"] if "evse" in p else None,
        tag=p["idToken"]["idToken"] if "idToken" in p else None,
        remote_start_id=info.get("remoteStartId"),
        readings=readings,
        stopped_reason=info.get("stoppedReason", "Local"),
        status=_charging_status(info.get("chargingState"), event_type),
        reservation_id=p.get("reservationId"),
    )
    try:
        auth = await transaction_events.handle(ctx.charging, event)
    except MissingPosition as error:
        raise FrameError(ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, str(error)) from None
    return {"idTokenInfo": id_token_info(auth)} if "idToken" in p else {}


def _charging_status(state: str | None, event_type: EventType) -> str | None:
    if state is None or state == "Idle":
        return None
    if event_type is EventType.ENDED:
        return ConnectorStatus.FINISHING  # the transaction is over and the car still plugged in
    return CHARGING_STATES[state]
