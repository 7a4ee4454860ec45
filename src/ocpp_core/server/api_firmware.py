"""Firmware updates, diagnostics and log uploads, and TriggerMessage with a JSON body.

``POST /API/UpdateFirmware/{cp}`` and ``POST /API/GetDiagnostics/{cp}`` (also
``/API/GetLog/{cp}``) answer the charger's status and the request's id; the
charger's progress is read at ``GET /API/Firmware/{cp}`` and ``GET
/API/Diagnostics/{cp}``, and an uploaded file at
``GET /API/Diagnostics/{cp}/{requestId}/file``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Path
from fastapi.responses import FileResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ocpp_core.db.models import FirmwareUpdate, LogUpload
from ocpp_core.domain import commands, firmware, log_uploads, progress, protocols
from ocpp_core.params import DbInt
from ocpp_core.runtime import Runtime
from ocpp_core.server.api_auth import ApiError, RuntimeDep, api_router
from ocpp_core.server.api_commands import ChargerId, send, status_of

router = api_router("firmware and diagnostics")

# A URI with a scheme (http, https, ftp, ...): what both versions' location fields hold.
_URI = r"^[A-Za-z][A-Za-z0-9+.-]{0,19}://[^\s]+$"
Retries = Annotated[int | None, Field(ge=0, le=100)]
RetryInterval = Annotated[int | None, Field(ge=0, le=86_400, description="Seconds")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UpdateFirmwareBody(_Body):
    location: str = Field(max_length=512, pattern=_URI, description="Where the firmware is")
    retrieveDate: AwareDatetime | None = Field(  # noqa: N815 -- camelCase like OCPP
        default=None, description="When to download it; default now"
    )
    retries: Retries = None
    retryInterval: RetryInterval = None  # noqa: N815


class GetLogBody(_Body):
    logType: commands.LogType = "DiagnosticsLog"  # noqa: N815
    oldestTimestamp: AwareDatetime | None = None  # noqa: N815
    latestTimestamp: AwareDatetime | None = None  # noqa: N815
    retries: Retries = None
    retryInterval: RetryInterval = None  # noqa: N815

    @model_validator(mode="after")
    def _window(self) -> GetLogBody:
        oldest, latest = self.oldestTimestamp, self.latestTimestamp
        if oldest is not None and latest is not None and oldest > latest:
            raise ValueError("oldestTimestamp is after latestTimestamp")
        return self


class TriggerBody(_Body):
    message: str = Field(max_length=50, description=f"One of {', '.join(protocols.TRIGGERABLE)}")
    connectorId: DbInt | None = Field(default=None, ge=0)  # noqa: N815


class RequestAnswer(BaseModel):
    """The charger's answer to a request it will report on, and the request's id."""

    status: str
    requestId: int  # noqa: N815
    error: str | None = None
    description: str | None = None


class CommandAnswer(BaseModel):
    status: str
    error: str | None = None
    description: str | None = None


class Step(BaseModel):
    status: str
    at: datetime


class _Progress(BaseModel):
    requestId: int  # noqa: N815
    requestedAt: datetime  # noqa: N815
    answer: str | None  # the charger's answer to the request, or why there was none
    status: str | None  # its latest status notification about it
    statusAt: datetime | None  # noqa: N815
    history: list[Step]


class FirmwareRequest(_Progress):
    location: str
    retrieveDate: datetime  # noqa: N815
    retries: int | None
    retryInterval: int | None  # noqa: N815


class LogRequest(_Progress):
    logType: str  # noqa: N815
    oldestTimestamp: datetime | None  # noqa: N815
    latestTimestamp: datetime | None  # noqa: N815
    fileName: str | None  # noqa: N815
    sizeBytes: int | None  # noqa: N815
    uploadedAt: datetime | None  # noqa: N815


def _progress(row: FirmwareUpdate | LogUpload) -> dict[str, Any]:
    return {
        "requestId": row.request_id,
        "requestedAt": row.requested_at,
        "answer": row.answer,
        "status": row.status,
        "statusAt": row.status_at,
        "history": [Step(status=s.status, at=s.at) for s in progress.steps_of(row.history)],
    }


async def _online(runtime: Runtime, cp: str) -> None:
    """A request is stored before it is sent: only for a charger that is there."""
    if not await runtime.router.is_online(cp):
        raise ApiError(404, "ChargerOffline", chargePointId=cp)


def _sender(runtime: Runtime, cp: str) -> progress.Send:
    return lambda command: send(runtime, cp, command)


@router.post("/UpdateFirmware/{cp}", response_model_exclude_none=True)
async def update_firmware(
    runtime: RuntimeDep, cp: ChargerId, body: UpdateFirmwareBody
) -> RequestAnswer:
    """Ask the charger to download and install firmware; follow it at ``/API/Firmware/{cp}``."""
    await _online(runtime, cp)
    now = runtime.clock()
    order = firmware.FirmwareOrder(
        body.location, body.retrieveDate or now, body.retries, body.retryInterval
    )
    request_id, result = await firmware.update(runtime.db, _sender(runtime, cp), cp, order, now=now)
    return RequestAnswer(requestId=request_id, **status_of(result))


@router.get("/Firmware/{cp}")
async def firmware_requests(runtime: RuntimeDep, cp: ChargerId) -> list[FirmwareRequest]:
    """The charger's firmware requests, newest first, each with its progress."""
    async with runtime.db.reading() as session:
        rows = await progress.recent(session, FirmwareUpdate, cp)
    return [
        FirmwareRequest(
            **_progress(row),
            location=row.location,
            retrieveDate=row.retrieve_at,
            retries=row.retries,
            retryInterval=row.retry_interval,
        )
        for row in rows
    ]


@router.post("/GetDiagnostics/{cp}", response_model_exclude_none=True)
@router.post("/GetLog/{cp}", response_model_exclude_none=True)
async def get_log(runtime: RuntimeDep, cp: ChargerId, body: GetLogBody) -> RequestAnswer:
    """Ask for the charger's diagnostics (1.6) or a log (2.0.1; 1.6 with the security
    extension for the security log); it uploads to ocpp-core, listed at
    ``/API/Diagnostics/{cp}``."""
    await _online(runtime, cp)
    settings = runtime.settings
    where = log_uploads.Where(
        settings.upload_base_url,
        settings.diagnostics.directory,
        timedelta(minutes=settings.diagnostics.upload_token_minutes),
    )
    order = log_uploads.LogOrder(
        body.logType, body.oldestTimestamp, body.latestTimestamp, body.retries, body.retryInterval
    )
    request_id, result = await log_uploads.request(
        runtime.db, _sender(runtime, cp), cp, order, where, now=runtime.clock()
    )
    return RequestAnswer(requestId=request_id, **status_of(result))


@router.get("/Diagnostics/{cp}")
async def log_requests(runtime: RuntimeDep, cp: ChargerId) -> list[LogRequest]:
    """The charger's diagnostics and log requests, newest first, with their uploads."""
    async with runtime.db.reading() as session:
        rows = await progress.recent(session, LogUpload, cp)
    return [
        LogRequest(
            **_progress(row),
            logType=row.log_type,
            oldestTimestamp=row.oldest_at,
            latestTimestamp=row.latest_at,
            fileName=row.file_name,
            sizeBytes=row.size_bytes,
            uploadedAt=row.uploaded_at,
        )
        for row in rows
    ]


@router.get(
    "/Diagnostics/{cp}/{request_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def log_file(
    runtime: RuntimeDep, cp: ChargerId, request_id: Annotated[DbInt, Path()]
) -> FileResponse:
    """The file the charger uploaded for that request."""
    async with runtime.db.reading() as session:
        row = await log_uploads.find(session, cp, request_id)
    if row is None or row.uploaded_at is None:
        raise ApiError(404, "NoFile", chargePointId=cp, requestId=request_id)
    path = log_uploads.file_of(runtime.settings.diagnostics.directory, row.id)
    if not path.is_file():  # uploaded on a node whose directory this one doesn't share
        raise ApiError(404, "NoFile", chargePointId=cp, requestId=request_id)
    return FileResponse(path, filename=row.file_name, media_type="application/octet-stream")


@router.post("/TriggerMessage/{cp}", response_model_exclude_none=True)
async def trigger(runtime: RuntimeDep, cp: ChargerId, body: TriggerBody) -> CommandAnswer:
    """Ask the charger to send a message now; what each version allows is in
    ``message``'s description (a message the charger's version lacks is a 400)."""
    if body.message not in protocols.TRIGGERABLE:
        raise ApiError(
            400, "InvalidMessage", error=f"message must be one of {protocols.TRIGGERABLE}"
        )
    command = commands.TriggerMessage(body.message, body.connectorId)
    return CommandAnswer(**status_of(await send(runtime, cp, command)))
