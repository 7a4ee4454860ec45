"""``/Home/ChargePoint/{id}/Firmware``: a charger's firmware updates and its uploaded logs.

The lists are read from the database (the requests and their progress, as the
server stored them); asking for an update or a log, and downloading a log, go
through the server's API, which holds the files.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.clock import format_timestamp
from ocpp_core.db.models import FirmwareUpdate, LogUpload
from ocpp_core.domain import chargepoints, progress
from ocpp_core.management import admin_api
from ocpp_core.management.admin_api import part
from ocpp_core.management.admin_forms import page, path_part, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep
from ocpp_core.management.i18n import gettext

router = APIRouter(include_in_schema=False)

PATH = "/Home/ChargePoint/{cp_id}/Firmware"
FILE_PATH = "/Home/ChargePoint/{cp_id}/Logs/{request_id}"
SHOWN = 20  # requests of each kind on the page, newest first
LOG_TYPES = ("DiagnosticsLog", "SecurityLog")


def url_of(cp_id: str) -> str:
    return PATH.format(cp_id=path_part(cp_id))


def file_url(cp_id: str, request_id: int) -> str:
    return FILE_PATH.format(cp_id=path_part(cp_id), request_id=request_id)


@router.get(PATH)
async def firmware_page(
    request: Request, cp_id: str, user: Viewer, context: ContextDep
) -> Response:
    async with context.db.reading() as session:
        row = await chargepoints.find(session, cp_id)
        if row is None:
            raise HTTPException(404)
        updates = await progress.recent(session, FirmwareUpdate, cp_id, limit=SHOWN)
        logs = await progress.recent(session, LogUpload, cp_id, limit=SHOWN)
    values: dict[str, Any] = {
        "row": row,
        "updates": [(u, progress.steps_of(u.history)) for u in updates],
        "logs": [(u, progress.steps_of(u.history)) for u in logs],
        "log_types": LOG_TYPES,
        "action": url_of(cp_id),
        "file_url": file_url,
    }
    return page(request, "admin/firmware.html", values)


def retrieve_date(value: str) -> str | None:
    """A ``datetime-local`` field's value, taken as UTC, as the API writes a time."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return format_timestamp(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment)


def firmware_body(form: dict[str, str]) -> dict[str, Any] | str:
    """The API's body for the update form, or what is wrong with the form."""
    location = form.get("location", "")
    if not location:
        return gettext("Enter the firmware's location (a URL).")
    body: dict[str, Any] = {"location": location}
    when = form.get("retrieve_date", "")
    if when:
        stamped = retrieve_date(when)
        if stamped is None:
            return gettext("The download time is not a date and time.")
        body["retrieveDate"] = stamped
    return body


@router.post(PATH)
async def act(request: Request, cp_id: str, user: Admin, context: ContextDep) -> Response:
    """Ask for a firmware update or a log; the charger's answer is the page's message."""
    async with context.db.reading() as session:
        if await chargepoints.find(session, cp_id) is None:
            raise HTTPException(404)
    submitted = await request.form()
    form = {
        name: text(submitted, name) for name in ("action", "location", "retrieve_date", "log_type")
    }
    here = url_of(cp_id)
    if form["action"] == "update":
        body = firmware_body(form)
        if isinstance(body, str):
            return redirect(request, here, body, ok=False)
        outcome = await admin_api.post(
            context, gettext("Firmware update"), f"UpdateFirmware/{part(cp_id)}", body
        )
    elif form["action"] == "log" and form["log_type"] in LOG_TYPES:
        outcome = await admin_api.post(
            context, gettext("Log upload"), f"GetLog/{part(cp_id)}", {"logType": form["log_type"]}
        )
    else:
        raise HTTPException(400)
    return redirect(request, here, outcome.message, ok=outcome.ok)


@router.get(FILE_PATH)
async def log_file(
    request: Request, cp_id: str, request_id: int, user: Viewer, context: ContextDep
) -> Response:
    """The uploaded file, passed through from the server that keeps it."""
    found = await admin_api.download(context, f"Diagnostics/{part(cp_id)}/{request_id}/file")
    if found is None:
        raise HTTPException(404)
    return found
