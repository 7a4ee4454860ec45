"""``/Home/Reservations``: operators' reservations of a connector for a tag; reserve and cancel.

Both go through the server (``POST /API/ReserveNow``, ``/API/CancelReservation``), which
sends them to the charger and stores what it answered; this page lists the stored
reservations and never changes one itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter
from sqlalchemy import Select, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.clock import format_timestamp
from ocpp_core.db.models import ChargerReservation
from ocpp_core.domain.reservations import ACTIVE
from ocpp_core.domain.tags import MAX_TAG_LENGTH
from ocpp_core.management import admin_api
from ocpp_core.management.admin_forms import page, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep
from ocpp_core.management.i18n import gettext
from ocpp_core.management.listing import Keyset, PageKey, SearchText
from ocpp_core.params import parse_db_int

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/Reservations"
CANCEL_PATH = "/Home/Reservations/Cancel"
PAGE_SIZE = 50
KEYSET = Keyset((ChargerReservation.created_at, ChargerReservation.id), PAGE_SIZE, descending=True)
MAX_MINUTES = 7 * 24 * 60  # the server's limit: a week ahead
MAX_CONNECTOR = 1000
_LIVE = frozenset(s.value for s in ACTIVE)


@dataclass(frozen=True, slots=True)
class ReservationView:
    row: ChargerReservation
    now: datetime

    @property
    def live(self) -> bool:
        """Holding its connector now (the sweep may not have marked an expired one yet)."""
        return self.row.status in _LIVE and self.row.expires_at > self.now


@router.get(PAGE_PATH)
async def reservations_page(
    request: Request,
    user: Viewer,
    context: ContextDep,
    cp: SearchText = "",
    before: PageKey = "",
    after: PageKey = "",
) -> Response:
    """A page of reservations, newest first, of the fleet or one charge point."""
    filters = {"cp": cp.strip()}
    async with context.db.reading() as session:
        found = await KEYSET.page(session, listed(filters["cp"]), **KEYSET.at(before, after))
    now = context.clock()
    values = {
        "views": [ReservationView(row.ChargerReservation, now) for row in found.rows],
        "filters": filters,
        "max_minutes": MAX_MINUTES,
        **KEYSET.links(found, filters),
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    return page(request, "admin/reservations.html", values)


def listed(charge_point_id: str) -> Select[ChargerReservation]:
    query = select(ChargerReservation)
    if charge_point_id:
        query = query.where(ChargerReservation.charge_point_id == charge_point_id)
    return query


@router.post(PAGE_PATH)
async def reserve(request: Request, user: Admin, context: ContextDep) -> Response:
    form = await request.form()
    back = _back(form)
    body, problem = _reservation(form, context.clock(), user.name)
    if problem is not None:
        return redirect(request, back, gettext("Reserve: %(problem)s", problem=problem), ok=False)
    outcome = await admin_api.reserve_now(context, body)
    return redirect(request, back, outcome.message, ok=outcome.ok)


@router.post(CANCEL_PATH)
async def cancel(request: Request, user: Admin, context: ContextDep) -> Response:
    form = await request.form()
    back = _back(form)
    reservation_id = parse_db_int(text(form, "reservation_id"))
    if not reservation_id:
        return redirect(request, back, gettext("Cancel: no reservation given."), ok=False)
    outcome = await admin_api.cancel_charger_reservation(context, reservation_id)
    return redirect(request, back, f"{reservation_id}: {outcome.message}", ok=outcome.ok)


def _back(form: FormData) -> str:
    back = text(form, "back")
    return back if back.startswith(PAGE_PATH) else PAGE_PATH


def _reservation(
    form: FormData, now: datetime, operator: str
) -> tuple[dict[str, object], str | None]:
    """The server's ReserveNow body from the form, or what is wrong with the form."""
    charge_point_id, tag = text(form, "station"), text(form, "tag")
    connector = parse_db_int(text(form, "conn"))
    minutes = parse_db_int(text(form, "minutes"))
    body: dict[str, object] = {"chargePointId": charge_point_id, "idTag": tag}
    if not 0 < len(charge_point_id) <= 100:
        return body, gettext("a charge point id is needed.")
    if connector is None or connector > MAX_CONNECTOR:
        return body, gettext("a connector number from 0 (any) to %(n)s.", n=MAX_CONNECTOR)
    if not 0 < len(tag) <= MAX_TAG_LENGTH:
        return body, gettext("a tag of 1-%(n)s characters.", n=MAX_TAG_LENGTH)
    if minutes is None or not 0 < minutes <= MAX_MINUTES:
        return body, gettext("the minutes it holds, from 1 to %(n)s.", n=MAX_MINUTES)
    expires = format_timestamp(now + timedelta(minutes=minutes))
    body |= {"connectorId": connector, "expiryDateTime": expires, "createdBy": operator[:100]}
    return body, None
