"""``/Home/MessageLog``: the OCPP messages of each charger, newest first, filtered and paged."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import ChargePoint, MessageLogEntry
from ocpp_core.management.admin_forms import day_after, day_start, page, parse_date, query_string
from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep

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
    page_no: int = 1,
) -> Response:
    cp, action, since, until = cp.strip(), action.strip(), since.strip(), until.strip()
    page_no = max(1, min(page_no, MAX_PAGE))
    errors: dict[str, str] = {}
    query = select(MessageLogEntry).order_by(
        MessageLogEntry.logged_at.desc(), MessageLogEntry.id.desc()
    )
    if cp:
        query = query.where(MessageLogEntry.charge_point_id == cp)
    if action:
        query = query.where(MessageLogEntry.action == action)
    for name, value in (("since", since), ("until", until)):
        try:
            day = parse_date(value)
        except ValueError:
            errors[name] = "A date as YYYY-MM-DD."
            continue
        if day is not None and name == "since":
            query = query.where(MessageLogEntry.logged_at >= day_start(day))
        elif day is not None:
            query = query.where(MessageLogEntry.logged_at < day_after(day))
    query = query.offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    async with context.db.session() as session:
        rows = [] if errors else (await session.scalars(query)).all()
        stations = (await session.scalars(select(ChargePoint.id).order_by(ChargePoint.id))).all()
    filters = {"cp": cp, "action": action, "since": since, "until": until}
    values = {
        "entries": rows[:PAGE_SIZE],
        "stations": stations,
        "actions": ACTIONS,
        "filters": filters,
        "errors": errors,
        "page_no": page_no,
        "newer": query_string({**filters, "page_no": page_no - 1}) if page_no > 1 else None,
        "older": query_string({**filters, "page_no": page_no + 1})
        if len(rows) > PAGE_SIZE
        else None,
    }
    return page(request, "admin/messagelog.html", values, status_code=400 if errors else 200)
