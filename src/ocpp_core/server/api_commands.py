"""Commands to chargers: ``/API/{Command}/{chargePointId}/...``.

Answers: the charger's own status as ``{"status": ...}`` (or its full response
where it carries data), 404 when the charger is offline, 400 for bad
parameters (including values the OCPP schema of the charger's version refuses,
such as a configuration key over 50 characters), 424 when there is nothing to
stop, ``{"status": "Timeout"}`` when it does not answer in time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query

from ocpp_core.clock import format_timestamp
from ocpp_core.domain import (
    authorization,
    charging_profiles,
    commands,
    protocols,
    reports,
    transactions,
)
from ocpp_core.domain.command_errors import CommandNotSupported, RouteUnavailable
from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.redaction import redact
from ocpp_core.ocpp.framing import FrameError
from ocpp_core.ocpp.router import execute
from ocpp_core.params import DbInt
from ocpp_core.runtime import Runtime
from ocpp_core.server.api_auth import ApiError, RuntimeDep, api_router

router = api_router("commands")

ChargerId = Annotated[str, Path(description="Charge point id", max_length=100)]
ConnectorNo = Annotated[DbInt, Path(ge=1, description="Connector, counted from 1")]
AnyConnector = Annotated[DbInt, Path(ge=0, description="Connector; 0 is the whole charger")]
Answer = dict[str, Any]

_NOT_SUPPORTED_CODES = {"NotSupported", "NotImplemented"}


async def send(runtime: Runtime, charge_point_id: str, command: commands.Command) -> CommandResult:
    """Send through the router; a charger that can't be reached is the API's error."""
    try:
        result = await execute(runtime.router, charge_point_id, command)
    except FrameError as error:  # our own CALL would break the schema: nothing was sent
        raise ApiError(400, "InvalidParameter", error=error.description) from None
    except CommandNotSupported as error:
        raise ApiError(501, "NotSupported", error=str(error)) from None
    if result.outcome is Outcome.UNREACHABLE:  # a 503 (see api_auth), not an offline charger
        raise RouteUnavailable(charge_point_id, result.error or "")
    if result.outcome is Outcome.OFFLINE:
        raise ApiError(404, "ChargerOffline", chargePointId=charge_point_id)
    return result


def answer_of(result: CommandResult) -> Answer:
    """The charger's whole answer, without its secrets (a charger may report a write-only
    password when read), or why there is none."""
    if result.outcome is Outcome.TIMEOUT:
        return {"status": "Timeout"}
    if result.outcome is Outcome.REFUSED:
        status = "NotSupported" if result.error in _NOT_SUPPORTED_CODES else "Rejected"
        return {"status": status, "error": result.error, "description": result.description}
    return redact(dict(result.answer))


def status_of(result: CommandResult) -> Answer:
    if result.outcome is not Outcome.ANSWERED:
        return answer_of(result)
    return {"status": result.status or "Accepted"}


@router.get("/Reset/{cp}")
@router.get("/Reset/{cp}/{mode}")
@router.get("/Reset/{cp}/{mode}/{conn}")
async def reset(
    runtime: RuntimeDep, cp: ChargerId, mode: str = "Soft", conn: DbInt | None = None
) -> Answer:
    """Reset the charger, or one connector (EVSE) of it: Soft (default, when idle) or Hard."""
    if mode not in ("Hard", "Soft"):
        raise ApiError(400, "InvalidResetMode", error="mode must be Hard or Soft")
    if conn is not None and conn < 1:
        raise ApiError(400, "InvalidConnector", error="connector must be 1 or more")
    return status_of(await send(runtime, cp, commands.Reset(mode == "Hard", conn)))


@router.get("/UnlockConnector/{cp}/{conn}")
@router.get("/UnlockConnector/{cp}/{conn}/{plug}")
async def unlock(runtime: RuntimeDep, cp: ChargerId, conn: ConnectorNo, plug: DbInt = 1) -> Answer:
    """Unlock a connector's cable; on chargers with EVSEs, ``plug`` picks the EVSE's connector."""
    if plug < 1:
        raise ApiError(400, "InvalidConnector", error="plug must be 1 or more")
    return status_of(await send(runtime, cp, commands.UnlockConnector(conn, plug)))


@router.get("/StartTransaction/{cp}/{conn}/{tag}")
async def start(
    runtime: RuntimeDep,
    cp: ChargerId,
    conn: ConnectorNo,
    tag: str,
    profile_id: Annotated[DbInt | None, Query(alias="profileId", ge=1)] = None,
) -> Answer:
    """Start charging for a tag; the tag must pass our own authorization first.

    ``?profileId=`` names a stored TxProfile the transaction is to run under.
    """
    if not await runtime.router.is_online(cp):
        raise ApiError(404, "ChargerOffline", chargePointId=cp)
    async with runtime.db.session() as session:
        auth = await authorization.authorize(
            session,
            tag,
            now=runtime.clock(),
            deny_concurrent=runtime.settings.ocpp.deny_concurrent_tx,
        )
    if auth.status is not authorization.AuthStatus.ACCEPTED:
        return {"status": "Rejected", "error": f"tag {auth.status.value}"}
    profile = None if profile_id is None else await _start_profile(runtime, cp, profile_id)
    command = commands.RemoteStart(conn, tag, commands.new_request_id(), profile)
    result = await send(runtime, cp, command)
    if profile is not None:
        async with runtime.db.session() as session:
            await charging_profiles.record_sent(
                session, cp, profile.profile_id, result, now=runtime.clock()
            )
    return status_of(result)


async def _start_profile(runtime: Runtime, cp: str, profile_id: int) -> commands.ChargingProfile:
    async with runtime.db.reading() as session:
        record = await charging_profiles.get(session, cp, profile_id)
    if record is None:
        raise ApiError(404, "UnknownProfile", chargingProfileId=profile_id)
    if record.profile.purpose != "TxProfile":
        raise ApiError(400, "InvalidProfile", error="a remote start carries a TxProfile")
    return record.profile


@router.get("/StopTransaction/{cp}/{conn}")
async def stop(runtime: RuntimeDep, cp: ChargerId, conn: ConnectorNo) -> Answer:
    """Stop the transaction running on a connector."""
    if not await runtime.router.is_online(cp):
        raise ApiError(404, "ChargerOffline", chargePointId=cp)
    async with runtime.db.session() as session:
        open_tx = await transactions.running_on(session, cp, conn)
        if open_tx is None:
            raise ApiError(424, "NoOpenTransaction", error="no open transaction on that connector")
        command = await transactions.stop_command(session, open_tx.id)
    return {**status_of(await send(runtime, cp, command)), "transactionId": open_tx.id}


@router.get("/GetConfiguration/{cp}")
@router.get("/GetConfiguration/{cp}/{key}")
async def get_configuration(runtime: RuntimeDep, cp: ChargerId, key: str | None = None) -> Answer:
    """The charger's configuration keys (all, or one), as the charger reports them."""
    return answer_of(await send(runtime, cp, commands.GetConfiguration((key,) if key else ())))


@router.get("/ChangeConfiguration/{cp}/{key}/{value}")
async def change_configuration(runtime: RuntimeDep, cp: ChargerId, key: str, value: str) -> Answer:
    """Set one configuration key."""
    return status_of(await send(runtime, cp, commands.ChangeConfiguration(key, value)))


def _variable(
    component: str,
    variable: str,
    evse: int | None,
    connector: int | None,
    instance: str | None,
) -> commands.Variable:
    if connector is not None and evse is None:
        raise ApiError(400, "InvalidParameter", error="a connector needs its evse")
    return commands.Variable(component, variable, evse, connector, instance)


@router.get("/GetVariables/{cp}/{component}/{variable}")
async def get_variables(
    runtime: RuntimeDep,
    cp: ChargerId,
    component: str,
    variable: str,
    evse: Annotated[DbInt | None, Query(ge=0)] = None,
    connector: Annotated[DbInt | None, Query(ge=1)] = None,
    instance: str | None = None,
) -> Answer:
    """One device-model variable, as the charger reports it (chargers with a device model)."""
    wanted = _variable(component, variable, evse, connector, instance)
    return answer_of(await send(runtime, cp, commands.GetVariables((wanted,))))


@router.get("/SetVariables/{cp}/{component}/{variable}/{value}")
async def set_variables(
    runtime: RuntimeDep,
    cp: ChargerId,
    component: str,
    variable: str,
    value: str,
    evse: Annotated[DbInt | None, Query(ge=0)] = None,
    connector: Annotated[DbInt | None, Query(ge=1)] = None,
    instance: str | None = None,
) -> Answer:
    """Set one device-model variable; the status is the charger's for that variable."""
    wanted = _variable(component, variable, evse, connector, instance)
    result = await send(runtime, cp, commands.SetVariables(wanted, value))
    return {**answer_of(result), **status_of(result)}


@router.get("/GetBaseReport/{cp}")
@router.get("/GetBaseReport/{cp}/{report}")
async def get_base_report(
    runtime: RuntimeDep,
    cp: ChargerId,
    report: Literal["ConfigurationInventory", "FullInventory", "SummaryInventory"] = (
        "FullInventory"
    ),
) -> Answer:
    """Ask for the charger's device model; it arrives later, to be read at ``/API/Report``."""
    request_id = commands.new_request_id()
    result = await send(runtime, cp, commands.GetBaseReport(request_id, report))
    return {**status_of(result), "requestId": request_id}


@router.get("/Report/{cp}")
async def stored_report(
    runtime: RuntimeDep, cp: ChargerId, request_id: DbInt | None = None
) -> Answer:
    """The newest report the charger sent (or the one ``?request_id=`` names)."""
    async with runtime.db.session() as session:
        found = await reports.latest(session, cp, request_id=request_id)
    if found is None:
        raise ApiError(404, "NoReport", chargePointId=cp)
    return {
        "requestId": found.request_id,
        "generatedAt": format_timestamp(found.generated_at),
        "complete": found.complete,
        "reportData": found.entries,
    }


@router.get("/TriggerMessage/{cp}/{message}")
@router.get("/TriggerMessage/{cp}/{message}/{conn}")
async def trigger(
    runtime: RuntimeDep, cp: ChargerId, message: str, conn: DbInt | None = None
) -> Answer:
    """Ask the charger to send a message now (e.g. StatusNotification)."""
    if message not in protocols.TRIGGERABLE:
        raise ApiError(
            400, "InvalidMessage", error=f"message must be one of {protocols.TRIGGERABLE}"
        )
    if conn is not None and conn < 0:
        raise ApiError(400, "InvalidConnector", error="connector must be 0 or more")
    return status_of(await send(runtime, cp, commands.TriggerMessage(message, conn)))


@router.get("/ChangeAvailability/{cp}/{conn}/{availability}")
async def change_availability(
    runtime: RuntimeDep,
    cp: ChargerId,
    conn: AnyConnector,
    availability: Literal["Operative", "Inoperative"],
) -> Answer:
    """Take a connector (or, with 0, the charger) in or out of service."""
    command = commands.ChangeAvailability(conn, availability == "Operative")
    return status_of(await send(runtime, cp, command))


@router.get("/ClearCache/{cp}")
async def clear_cache(runtime: RuntimeDep, cp: ChargerId) -> Answer:
    """Clear the charger's authorization cache."""
    return status_of(await send(runtime, cp, commands.ClearCache()))


@router.get("/DataTransfer/{cp}/{vendor_id}")
@router.get("/DataTransfer/{cp}/{vendor_id}/{message_id}")
async def data_transfer(
    runtime: RuntimeDep,
    cp: ChargerId,
    vendor_id: str,
    message_id: str | None = None,
    data: str | None = None,
) -> Answer:
    """Vendor-specific message; ``?data=`` is passed as is. Returns the charger's response."""
    return answer_of(await send(runtime, cp, commands.DataTransfer(vendor_id, message_id, data)))
