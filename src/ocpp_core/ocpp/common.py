"""What the protocol adapters share: the payload readings and answers that are the same in
every version.

Each version's module decodes its own payload shapes and calls the domain's charging
service (:mod:`ocpp_core.domain.charging`); anything here is about payloads, never
about what a message does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ocpp_core.clock import format_timestamp, parse_timestamp
from ocpp_core.domain import chargepoints, commands
from ocpp_core.domain.charging import Readings
from ocpp_core.domain.meter import InvalidSample, Read, summary
from ocpp_core.ocpp.adapter import ChargerContext, Handler
from ocpp_core.ocpp.framing import ErrorCode, FrameError
from ocpp_core.ocpp.journal import incoming

Payload = dict[str, Any]


def timestamp(value: str) -> datetime:
    """Read a timestamp the schema's date-time pattern let through, e.g. a leap second."""
    try:
        return parse_timestamp(value.upper())  # RFC 3339 allows a lower-case t and z
    except (ValueError, OverflowError):
        raise FrameError(
            ErrorCode.TYPE_CONSTRAINT_VIOLATION, f"timestamp {value!r} is not a valid date-time"
        ) from None


def decode_readings(
    meter_values: list[Payload], decode: Callable[[Payload], Read | None]
) -> Readings:
    """Decode every sample first, so a bad one rejects the message before anything is stored.

    ``decode`` is the version's reading of one sampledValue (1.6 and 2.0.1 differ).
    """
    try:
        return [
            (
                timestamp(mv["timestamp"]),
                summary(r for raw in mv["sampledValue"] if (r := decode(raw))),
            )
            for mv in meter_values
        ]
    except InvalidSample as error:
        raise FrameError(ErrorCode.TYPE_CONSTRAINT_VIOLATION, f"sampledValue: {error}") from None


def without_none(**fields: Any) -> Payload:
    return {key: value for key, value in fields.items() if value is not None}


def optional_timestamp(at: datetime | None) -> str | None:
    return None if at is None else format_timestamp(at)


def decimal_limit(period: commands.SchedulePeriod) -> float:
    """A period's limit as the schemas' decimal: tenths, so one decimal place is exact."""
    return period.limit_tenths / 10


def schedule_periods(profile: commands.ChargingProfile) -> list[Payload]:
    """A schedule's periods, which both versions spell alike."""
    return [
        without_none(startPeriod=p.start_s, limit=decimal_limit(p), numberPhases=p.phases)
        for p in profile.periods
    ]


async def boot(ctx: ChargerContext, info: chargepoints.BootInfo) -> Payload:
    now = await ctx.charging.boot(info, protocol=ctx.protocol)
    return {
        "status": "Accepted",
        "currentTime": format_timestamp(now),
        "interval": ctx.runtime.settings.ocpp.heartbeat_interval,
    }


async def heartbeat(ctx: ChargerContext, p: Payload) -> Payload:
    """Only the time: the endpoint notes every message as a sign of life (see ``Presence``)."""
    return {"currentTime": format_timestamp(ctx.runtime.clock())}


async def data_transfer(ctx: ChargerContext, p: Payload) -> Payload:
    known = p["vendorId"] in ctx.runtime.settings.ocpp.data_transfer_vendors
    return {"status": "Accepted" if known else "UnknownVendorId"}


async def acknowledge(ctx: ChargerContext, p: Payload) -> Payload:
    """Messages whose content the message log keeps; the answer is empty."""
    return {}


async def sign_certificate(ctx: ChargerContext, p: Payload) -> Payload:
    # ocpp-core does not run a certificate authority; saying so lets the charger stop asking.
    return {"status": "Rejected"}


def progress(kind: str) -> Handler:
    """Firmware or log/diagnostics upload progress, shown beside the charger."""

    async def record(ctx: ChargerContext, p: Payload) -> Payload:
        await ctx.charging.record_progress(kind, p["status"], p.get("requestId"))
        return {}

    return record


async def store_readings(
    ctx: ChargerContext,
    connector_id: int,
    transaction_id: int | None,
    readings: Readings,
    *,
    call: Payload,
) -> Payload:
    """A MeterValues message, its log row written with its readings (see ``Charging``)."""
    entry = incoming(ctx.charge_point_id, "MeterValues", call, {}, at=ctx.runtime.clock())
    await ctx.charging.store_readings(connector_id, transaction_id, readings, log_entry=entry)
    return {}  # as the log row says


def get_log(command: commands.GetLog) -> Payload:
    """2.0.1's GetLog, which 1.6's security extension spells the same."""
    log = without_none(
        remoteLocation=command.location,
        oldestTimestamp=optional_timestamp(command.oldest),
        latestTimestamp=optional_timestamp(command.latest),
    )
    return without_none(
        logType=command.log_type,
        requestId=command.request_id,
        log=log,
        retries=command.retries,
        retryInterval=command.retry_interval,
    )


def not_triggerable(version: str, message: str, allowed: tuple[str, ...]) -> FrameError:
    """Refused before sending: the version has no such message to trigger."""
    return FrameError(
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        f"OCPP {version} can't trigger {message}; it can trigger {', '.join(allowed)}",
    )
