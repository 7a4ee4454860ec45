"""``/Home/MessageLog``: the OCPP messages of each charger, newest first, filtered and paged."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import MessageLogEntry
from ocpp_core.management.admin_forms import day_after, day_start, page, parse_days
from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep
from ocpp_core.management.listing import Pager, station_ids
from ocpp_core.params import DbInt

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/MessageLog"
PAGE_SIZE = 50
MAX_PAGE = 10_000
ACTIONS = (
    "Authorize",
    "BootNotification",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "GetConfiguration",
    "Heartbeat",
    "MeterValues",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "Reset",
    "SecurityEventNotification",
    "SetChargingProfile",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "TriggerMessage",
    "UnlockConnector",
)


@router.get(PAGE_PATH)
async def message_log(
    request: Request,
    user: Viewer,
    context: ContextDep,
    cp: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    page_no: DbInt = 1,
) -> Response:
    cp, action, since, until = cp.strip(), action.strip(), since.strip(), until.strip()
    pager = Pager.at(page_no, PAGE_SIZE, last=MAX_PAGE)
    errors: dict[str, str] = {}
    query = select(MessageLogEntry).order_by(
        MessageLogEntry.logged_at.desc(), MessageLogEntry.id.desc()
    )
    if cp:
        query = query.where(MessageLogEntry.charge_point_id == cp)
    if action:
        query = query.where(MessageLogEntry.action == action)
    days = parse_days({"since": since, "until": until}, errors)
    if "since" in days:
        query = query.where(MessageLogEntry.logged_at >= day_start(days["since"]))
    if "until" in days:
        query = query.where(MessageLogEntry.logged_at < day_after(days["until"]))
    async with context.db.session() as session:
        rows = [] if errors else (await session.scalars(pager.window(query))).all()
        stations = await station_ids(session)
    filters = {"cp": cp, "action": action, "since": since, "until": until}
    values = {
        "entries": pager.shown(rows),
        "stations": stations,
        "actions": ACTIONS,
        "filters": filters,
        "errors": errors,
        **pager.links(rows, filters),
    }
    return page(request, "admin/messagelog.html", values, status_code=400 if errors else 200)
