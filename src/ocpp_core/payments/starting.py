"""Starting a paid (or free) session once it is authorized.

With plug-first (the default) nothing is sent until the connector reports
``Preparing``: some chargers accept a remote start with no cable and then time
out. A charger that holds the connector for the session with its own
reservation (see :mod:`.holding`) gets the start at once: it waits for the
cable itself. A remote start that times out, or finds the charger offline, is tried
again by the sweep until the start deadline; a rejection ends the reservation
and releases the hold.

Whoever starts it, the browser's return, the webhook, the plug or the sweep, on
any node, first claims the start in the database (under the row's lock, in the
unit of work that authorizes it or in one of its own) and only then sends it:
the others find the claim until the charger's answer is recorded, so one
RemoteStart goes out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import PaymentReservation
from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.commands import RemoteStart, new_request_id
from ocpp_core.domain.connector_status import ConnectorStatus
from ocpp_core.ocpp.router import execute
from ocpp_core.payments import holding, money, reservations
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.holding import Reserve
from ocpp_core.payments.states import START_PENDING, Status, move, status_of


@dataclass(frozen=True, slots=True)
class StartOutcome:
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class Claimed:
    """A start this caller claimed in the database: it alone sends the RemoteStart."""

    charge_point_id: str
    command: RemoteStart


ALREADY_REQUESTED = "AlreadyRequested"
_ENDED = frozenset({Status.START_REJECTED.value, Status.START_TIMEOUT.value})


async def try_start(ctx: PaymentContext, reservation_id: str) -> StartOutcome:
    async with ctx.lock(reservation_id):
        return await carry_out(ctx, reservation_id, await _prepare(ctx, reservation_id))


async def carry_out(
    ctx: PaymentContext, reservation_id: str, prepared: StartOutcome | Claimed | Reserve
) -> StartOutcome:
    """Send a claimed start and record the answer; give back the hold of a start that ended.

    A start waiting for the plug reserves the connector first: held, it is claimed again
    and goes at once.
    """
    if isinstance(prepared, Reserve):
        prepared = await _reserved(ctx, reservation_id, prepared)
    if isinstance(prepared, Claimed):
        result = await _send(ctx, prepared.charge_point_id, prepared.command)
        prepared = await _record(ctx, reservation_id, result)
    if prepared.status in _ENDED:
        # The hold goes back now, not at the next sweep (perform claims it itself).
        ctx.spawn(money.perform(ctx, reservation_id), f"release-{reservation_id}")
        ctx.spawn(holding.release(ctx, reservation_id), f"unreserve-{reservation_id}")
    return prepared


async def _reserved(
    ctx: PaymentContext, reservation_id: str, step: Reserve
) -> StartOutcome | Claimed:
    """The start once the charger was asked to hold the connector: claimed if it holds it.

    If it holds none, a car plugged in at another connector while it was asked was
    passed over then (a hold might have been coming); it may be this session's now. Of
    two or more plugged in, which is the driver's is not guessed.
    """
    if await holding.reserve(ctx, reservation_id, step):
        prepared = await _prepare(ctx, reservation_id)
        if not isinstance(prepared, Reserve):
            return prepared
    else:
        async with ctx.runtime.db.reading() as session:
            plugged = await reservations.plugged_connectors(session, step.charge_point_id)
        if len(plugged) == 1:
            await plugged_in(ctx, step.charge_point_id, plugged[0])
    return StartOutcome(Status.AUTHORIZED.value, "AwaitingPlug")


async def plugged_in(ctx: PaymentContext, charge_point_id: str, connector_id: int) -> None:
    """Start the reservation waiting on this connector, or the only one waiting at the station."""
    async with ctx.runtime.db.session() as session:
        chosen = await _waiting_for(session, charge_point_id, connector_id)
    if chosen is not None:
        ctx.spawn(try_start(ctx, chosen), f"start-{chosen}")


async def _waiting_for(
    session: AsyncSession, charge_point_id: str, connector_id: int
) -> str | None:
    """The reservation the car plugged in here is for, moved here if it waited elsewhere.

    It moves only where no hold of the charger keeps its own connector for it (see
    :func:`.holding.no_hold_coming`).
    """
    waiting = list(await reservations.awaiting_plug(session, charge_point_id))
    here = [row for row in waiting if row.connector_id == connector_id]
    chosen = here[0] if here else (waiting[0] if len(waiting) == 1 else None)
    if chosen is None:
        return None
    if chosen.connector_id != connector_id:
        if await reservations.busy_reason(session, charge_point_id, connector_id):
            return None
        if not await holding.may_follow_the_car(session, chosen.id):
            return None
        logger.info(
            "reservation %s moves to connector %s, where the car is", chosen.id, connector_id
        )
        chosen.connector_id = connector_id
    return chosen.id


async def _prepare(ctx: PaymentContext, reservation_id: str) -> StartOutcome | Claimed | Reserve:
    async with (
        ctx.runtime.db.session() as session,
        reservations.at_connector(session, reservation_id) as found,
    ):
        if found is None:
            return StartOutcome("NotFound", "NotFound")
        return claim(ctx, found)


def in_flight(ctx: PaymentContext, row: PaymentReservation) -> bool:
    """A node claimed this reservation's start and has not recorded the charger's answer."""
    sent = row.remote_start_sent_at
    if sent is None or row.remote_start_result is not None:
        return False
    return ctx.now() - sent < ctx.claim_lease()


def claim(ctx: PaymentContext, found: reservations.AtConnector) -> StartOutcome | Claimed | Reserve:
    """Claim the start of the locked, authorized row; or why it does not start now.

    The claim commits with the caller's unit of work before the RemoteStart is
    sent, and another caller, on any node, finds it in flight until the
    charger's answer is recorded: a start goes out once. A start that would wait
    for the plug may reserve the connector first (see :mod:`.holding`).
    """
    now = ctx.now()
    row = found.row
    status = status_of(row)
    if status is not Status.AUTHORIZED or in_flight(ctx, row):
        reason = "AlreadyAdvanced" if status not in START_PENDING else ALREADY_REQUESTED
        return StartOutcome(status.value, reason)
    if row.start_deadline_at is not None and row.start_deadline_at <= now:
        move(row, Status.START_TIMEOUT)
        money.fail(row, "StartTimeout", "no charging started before the deadline", now)
        return StartOutcome(row.status, "StartTimeout")
    held = holding.holds_connector(found)
    # Under the session's own reservation the connector says Reserved, and is free for it.
    connector_status = found.connector_status
    if holding.reserved_for(found) and connector_status == ConnectorStatus.RESERVED:
        connector_status = None
    if busy := reservations.busy_of(connector_status, running=found.running):
        return StartOutcome("ConnectorBusy", busy)
    plug_first = ctx.settings.require_plug_before_start and not held
    if plug_first and found.connector_status != ConnectorStatus.PREPARING:
        row.awaiting_plug = True
        row.updated_at = now
        return holding.next_step(found, now, ctx.claim_lease()) or StartOutcome(
            row.status, "AwaitingPlug"
        )
    # Under its reservation the charger waits for the cable: the driver is still to plug in.
    row.awaiting_plug = held and found.connector_status != ConnectorStatus.PREPARING
    row.remote_start_sent_at = now
    row.remote_start_result = None
    row.updated_at = now
    if row.remote_start_id is None:  # kept across retries: a late answer still links
        row.remote_start_id = new_request_id()
    command = RemoteStart(row.connector_id, row.ocpp_id_tag, row.remote_start_id)
    return Claimed(row.charge_point_id, command)


async def _send(ctx: PaymentContext, charge_point_id: str, command: RemoteStart) -> str:
    """The start's result as the reservation keeps it (``remote_start_result``)."""
    return _start_result(await execute(ctx.runtime.router, charge_point_id, command))


def _start_result(result: CommandResult) -> str:
    if result.outcome is Outcome.ANSWERED:
        return result.status or "Rejected"
    if result.outcome is Outcome.REFUSED:
        return f"Error:{result.error}"
    return _UNSENT[result.outcome]


# A start that never reached the charger, as the reservation keeps it (retried later).
_UNSENT = {Outcome.OFFLINE: "Offline", Outcome.UNREACHABLE: "Offline", Outcome.TIMEOUT: "Timeout"}


async def _record(ctx: PaymentContext, reservation_id: str, result: str) -> StartOutcome:
    now = ctx.now()
    async with (
        ctx.runtime.db.session() as session,
        reservations.editing(session, reservation_id) as row,
    ):
        assert row is not None
        row.remote_start_result = result
        row.updated_at = now
        if status_of(row) is not Status.AUTHORIZED:
            return StartOutcome(row.status, "AlreadyAdvanced")  # linked while we waited
        if result == "Accepted":
            move(row, Status.START_REQUESTED)
            return StartOutcome(row.status, "Accepted")
        if result in ("Timeout", "Offline"):
            logger.info(
                "reservation %s: remote start %s; retried until the deadline", row.id, result
            )
            return StartOutcome("Timeout" if result == "Timeout" else "ChargerOffline", result)
        move(row, Status.START_REJECTED)
        money.fail(row, "RemoteStartRejected", f"the charger answered {result}", now)
        return StartOutcome(row.status, result)
