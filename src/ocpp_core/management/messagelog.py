"""``/Home/MessageLog``: the OCPP exchanges of each charger, newest first, filtered and paged.

The log can hold millions of rows, and one row up to ``ocpp.message_log_max_bytes``
twice over (older rows, kept before that limit, even more): so the list pages by
key (never more than a page of rows per response) and shows the start of each
message, and one exchange in full is a page of its own.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import APIRouter
from sqlalchemy import ColumnElement, Select, func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import MessageLogEntry
from ocpp_core.management.admin_forms import day_after, day_start, page, parse_days, query_string
from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep
from ocpp_core.management.listing import Keyset, PageKey, SearchText
from ocpp_core.params import DbBigInt

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/MessageLog"
PAGE_SIZE = 50
PREVIEW = 120  # characters of a message or answer shown in the list
KEYSET = Keyset((MessageLogEntry.logged_at, MessageLogEntry.id), PAGE_SIZE, descending=True)

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
    cp: SearchText = "",
    action: SearchText = "",
    since: str = "",
    until: str = "",
    before: PageKey = "",
    after: PageKey = "",
) -> Response:
    filters = {"cp": cp.strip(), "action": action.strip()}
    filters |= {"since": since.strip(), "until": until.strip()}
    errors: dict[str, str] = {}
    days = parse_days({"since": filters["since"], "until": filters["until"]}, errors)
    query = _listed().where(*_conditions(filters["cp"], filters["action"], days))
    at = KEYSET.at(before, after)
    found = None
    if not errors:
        async with context.db.reading() as session:
            found = await KEYSET.page(session, query, **at)
    values = {
        "entries": [_shown(row) for row in found.rows] if found else [],
        "actions": ACTIONS,
        "filters": filters,
        "errors": errors,
        **KEYSET.links(found, filters),
    }
    return page(request, "admin/messagelog.html", values, status_code=400 if errors else 200)


@router.get(PAGE_PATH + "/{entry_id}")
async def exchange(
    request: Request, entry_id: DbBigInt, user: Viewer, context: ContextDep
) -> Response:
    """One exchange in full: as much of it as the log keeps of a new one."""
    limit = context.settings.ocpp.message_log_max_bytes
    query = _columns(limit + 1).where(MessageLogEntry.id == entry_id)
    async with context.db.reading() as session:
        row = (await session.execute(query)).first()
    if row is None:
        raise HTTPException(404)
    values = {
        "e": row,
        "payload": _readable(row.payload, limit),
        "answer": _readable(row.answer, limit),
        "back": PAGE_PATH + query_string({"cp": row.charge_point_id}),
    }
    return page(request, "admin/messagelog_entry.html", values)


def _columns(characters: int) -> Select[Any]:
    """The row, its message and answer cut to ``characters`` by the database."""
    log = MessageLogEntry
    return select(
        log.id,
        log.logged_at,
        log.charge_point_id,
        log.connector_id,
        log.direction,
        log.action,
        log.error_code,
        func.substr(log.payload, 1, characters).label("payload"),
        func.substr(log.answer, 1, characters).label("answer"),
    )


def _listed() -> Select[Any]:
    return _columns(PREVIEW + 1)


def _conditions(cp: str, action: str, days: dict[str, date]) -> list[ColumnElement[bool]]:
    log = MessageLogEntry
    conditions = []
    if cp:
        conditions.append(log.charge_point_id == cp)
    if action:
        conditions.append(log.action == action)
    if "since" in days:
        conditions.append(log.logged_at >= day_start(days["since"]))
    if "until" in days:
        conditions.append(log.logged_at < day_after(days["until"]))
    return conditions


def _shown(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "logged_at": row.logged_at,
        "charge_point_id": row.charge_point_id,
        "connector_id": row.connector_id,
        "direction": row.direction,
        "action": row.action,
        "error_code": row.error_code,
        "payload": _cut(row.payload, PREVIEW),
        "answer": _cut(row.answer, PREVIEW),
    }


def _cut(text: str | None, characters: int) -> str | None:
    if text is None or len(text) <= characters:
        return text
    return text[:characters] + "…"


def _readable(text: str | None, characters: int) -> str | None:
    """Indented JSON where the whole of it is here; else the text as kept, cut."""
    if text is None or len(text) > characters:
        return _cut(text, characters)
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
