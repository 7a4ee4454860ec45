"""What the protocol adapters share: the handlers and steps that read the same in every version.

Each version's module decodes its own payload shapes and calls these; anything
here is spelled in domain terms, never in one version's field names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.clock import format_timestamp, parse_timestamp
from ocpp_core.db.models import Transaction
from ocpp_core.domain import (
    authorization,
    chargepoints,
    commands,
    connectors,
    events,
    meter_batches,
    metering,
    transactions,
)
from ocpp_core.domain.authorization import Authorization
from ocpp_core.domain.meter import InvalidSample, MeterReading, Read, summary
from ocpp_core.ocpp.adapter import ChargerContext, Handler
from ocpp_core.ocpp.framing import ErrorCode, FrameError
from ocpp_core.ocpp.journal import incoming

Payload = dict[str, Any]
Readings = list[tuple[datetime, MeterReading]]


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


def limit_profile_id(connector_id: int) -> int:
    # One id per connector: a charger replaces a profile with the same id on *any* connector.
    return commands.CHARGING_LIMIT_PROFILE_ID + connector_id


async def boot(ctx: ChargerContext, info: chargepoints.BootInfo) -> Payload:
    now = ctx.runtime.clock()
    await ctx.runtime.db.group_execute(
        chargepoints.BOOT,
        chargepoints.boot_parameters(ctx.charge_point_id, info, protocol=ctx.protocol, now=now),
    )
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
        async with ctx.runtime.db.session() as session:
            await chargepoints.record_firmware_status(
                session, ctx.charge_point_id, status=p["status"], kind=kind, now=ctx.runtime.clock()
            )
        return {}

    return record


async def authorize(ctx: ChargerContext, tag: str) -> Authorization:
    # No ConcurrentTx here: a tag is also authorized to *stop* its running transaction.
    async with ctx.runtime.db.session() as session:
        return await authorization.authorize(session, tag, now=ctx.runtime.clock())


async def authorize_start(ctx: ChargerContext, session: AsyncSession, tag: str) -> Authorization:
    return await authorization.authorize(
        session,
        tag,
        now=ctx.runtime.clock(),
        deny_concurrent=ctx.runtime.settings.ocpp.deny_concurrent_tx,
    )


async def record_start_reading(
    ctx: ChargerContext, session: AsyncSession, begin: transactions.TransactionStart
) -> None:
    await connectors.record_reading(
        session,
        ctx.charge_point_id,
        begin.connector_id,
        MeterReading(begin.meter_start_wh, None, None, None, "Transaction.Begin"),
        at=begin.started_at,
    )


async def publish_started(ctx: ChargerContext, row: Transaction, accepted: bool) -> None:
    await ctx.runtime.events.publish(
        events.TransactionStarted(
            ctx.charge_point_id,
            row.connector_id,
            row.id,
            row.start_tag,
            row.start_at,
            accepted,
            row.remote_start_id,
        )
    )


async def apply_readings(
    ctx: ChargerContext,
    session: AsyncSession,
    connector_id: int,
    transaction_id: int | None,
    readings: Readings,
) -> dict[int, int]:
    """Apply each reading; the energy of each open transaction that reached its limit."""
    at_limit: dict[int, int] = {}
    for sampled_at, reading in readings:
        applied = await metering.apply_reading(
            session,
            metering.ReadingAt(
                ctx.charge_point_id, connector_id, transaction_id, reading, sampled_at
            ),
            max_power_w=ctx.runtime.settings.ocpp.max_charger_power_w,
            now=ctx.runtime.clock(),
        )
        if applied.transaction_id is not None and applied.limit_reached_wh is not None:
            at_limit[applied.transaction_id] = applied.limit_reached_wh
    return at_limit


async def store_readings(
    ctx: ChargerContext,
    connector_id: int,
    transaction_id: int | None,
    readings: Readings,
    *,
    call: Payload,
) -> None:
    """A MeterValues message: applied together with other chargers' (they come often).

    Its answer is empty in every version and known before anything is stored, so its
    message-log row goes into the same transaction as its readings (the adapter
    lists it in ``logged_by_handler``): one commit answers it, not two in a row.
    """
    now = ctx.runtime.clock()
    log_row = ctx.runtime.message_log.row(
        incoming(ctx.charge_point_id, "MeterValues", call, {}, at=now)
    )
    message = meter_batches.MeterMessage(
        ctx.charge_point_id,
        connector_id,
        transaction_id,
        readings,
        max_power_w=ctx.runtime.settings.ocpp.max_charger_power_w,
        received_at=now,
        log_row=log_row,
    )
    at_limit = await ctx.runtime.db.group_batch(meter_batches.apply_messages, message)
    await publish_limits(ctx, connector_id, at_limit)


async def publish_limits(ctx: ChargerContext, connector_id: int, at_limit: dict[int, int]) -> None:
    for transaction_id, energy_wh in at_limit.items():
        await ctx.runtime.events.publish(
            events.EnergyLimitReached(ctx.charge_point_id, connector_id, transaction_id, energy_wh)
        )


async def finish_transaction(
    ctx: ChargerContext,
    session: AsyncSession,
    row: Transaction,
    end: transactions.TransactionStop,
    readings: Readings,
) -> Authorization:
    """Apply the readings sent with the stop, then close the transaction.

    It closes even when the stop tag is refused: the charger has stopped either way.
    """
    await apply_readings(ctx, session, row.connector_id, row.id, readings)
    auth = await authorization.authorize_stop(
        session, start_tag=row.start_tag, stop_tag=end.tag, now=ctx.runtime.clock()
    )
    transactions.stop(
        row,
        end,
        max_power_w=ctx.runtime.settings.ocpp.max_charger_power_w,
        lowest_jump_wh=await transactions.lowest_jump(session, row.id),
    )
    return auth


async def publish_stopped(ctx: ChargerContext, row: Transaction) -> None:
    assert row.stop_at is not None
    assert row.stop_reason is not None
    await ctx.runtime.events.publish(
        events.TransactionStopped(
            ctx.charge_point_id, row.connector_id, row.id, row.stop_at, row.stop_reason
        )
    )


async def record_status(
    ctx: ChargerContext, connector_id: int, status: str, error_code: str | None, at: datetime
) -> None:
    await ctx.runtime.db.group_commit(
        partial(
            connectors.record_status,
            charge_point_id=ctx.charge_point_id,
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            at=at,
        )
    )
    await ctx.runtime.events.publish(
        events.ConnectorStatusChanged(ctx.charge_point_id, connector_id, status, at)
    )


def registers(readings: Iterable[tuple[datetime, MeterReading]]) -> list[int]:
    """The energy registers among the readings, in the order sent."""
    return [reading.energy_wh for _, reading in readings if reading.energy_wh is not None]
