"""Starting a paid (or free) session once it is authorized.

With plug-first (the default) nothing is sent until the connector reports
``Preparing``: some chargers accept a remote start with no cable and then time
out. A remote start that times out, or finds the charger offline, is tried
again by the sweep until the start deadline; a rejection ends the reservation
and releases the hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocpp_core.domain.commands import RemoteStart, new_request_id
from ocpp_core.ocpp.errors import ChargerOffline, ChargerRejectedCall, CommandTimeout
from ocpp_core.payments import money, reservations
from ocpp_core.payments.context import PaymentContext, logger
from ocpp_core.payments.states import Status, move, status_of


@dataclass(frozen=True, slots=True)
class StartOutcome:
    status: str
    reason: str


ALREADY_REQUESTED = "AlreadyRequested"
_ENDED = frozenset({Status.START_REJECTED.value, Status.START_TIMEOUT.value})


async def try_start(ctx: PaymentContext, reservation_id: str) -> StartOutcome:
    async with ctx.lock(reservation_id):
        outcome = await _attempt(ctx, reservation_id)
    if outcome.status in _ENDED:
        # The hold goes back now, not at the next sweep (perform takes the lock itself).
        ctx.spawn(money.perform(ctx, reservation_id), f"release-{reservation_id}")
    return outcome


async def _attempt(ctx: PaymentContext, reservation_id: str) -> StartOutcome:
    prepared = await _prepare(ctx, reservation_id)
    if isinstance(prepared, StartOutcome):
        return prepared
    charge_point_id, command = prepared
    result = await _send(ctx, charge_point_id, command)
    return await _record(ctx, reservation_id, result)


async def _prepare(
    ctx: PaymentContext, reservation_id: str
) -> StartOutcome | tuple[str, RemoteStart]:
    now = ctx.now()
    async with ctx.runtime.db.session() as session:
        found = await reservations.get_at_connector(session, reservation_id)
        if found is None:
            return StartOutcome("NotFound", "NotFound")
        row, connector_status, running = found
        status = status_of(row)
        if status is not Status.AUTHORIZED:
            reason = ALREADY_REQUESTED if status is Status.START_REQUESTED else "AlreadyAdvanced"
            return StartOutcome(status.value, reason)
        if row.start_deadline_at is not None and row.start_deadline_at <= now:
            move(row, Status.START_TIMEOUT)
            money.fail(row, "StartTimeout", "no charging started before the deadline", now)
            return StartOutcome(row.status, "StartTimeout")
        if busy := reservations.busy_of(connector_status, running=running):
            return StartOutcome("ConnectorBusy", busy)
        if ctx.settings.require_plug_before_start and connector_status != "Preparing":
            row.awaiting_plug = True
            row.updated_at = now
            return StartOutcome(row.status, "AwaitingPlug")
        row.awaiting_plug = False
        row.remote_start_sent_at = now
        row.updated_at = now
        if row.remote_start_id is None:  # kept across retries: a late answer still links
            row.remote_start_id = new_request_id()
        command = RemoteStart(row.connector_id, row.ocpp_id_tag, row.remote_start_id)
        return row.charge_point_id, command


async def _send(ctx: PaymentContext, charge_point_id: str, command: RemoteStart) -> str:
    try:
        answer = await ctx.runtime.router.send(charge_point_id, command)
    except ChargerOffline:
        return "Offline"
    except CommandTimeout:
        return "Timeout"
    except ChargerRejectedCall as error:
        return f"Error:{error.code}"
    return str(answer.get("status", "Rejected"))


async def _record(ctx: PaymentContext, reservation_id: str, result: str) -> StartOutcome:
    now = ctx.now()
    async with ctx.runtime.db.session() as session:
        row = await reservations.get(session, reservation_id)
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
