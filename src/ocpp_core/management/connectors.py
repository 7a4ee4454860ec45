"""``/Home/Connector``: connectors with live values, their names, and commands.

The database holds each connector's last report; the server's ``/API/Status``
says which chargers are connected and what they report now. Commands go to
the server's API and their answer comes back as the page's message. The live
values poll a fragment as the dashboard does (:mod:`.live`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter
from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import ChargePoint, ChargeTag, Connector, Transaction
from ocpp_core.domain import transactions
from ocpp_core.management import admin_api
from ocpp_core.management.admin_api import part
from ocpp_core.management.admin_forms import page, path_part, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.dashboard import refresh
from ocpp_core.management.i18n import gettext
from ocpp_core.management.live import VERSION, fragment, version_of
from ocpp_core.management.numbers import thousandths
from ocpp_core.management.server_api import LiveConnector
from ocpp_core.params import DbInt

router = APIRouter(include_in_schema=False)

LIST_PATH = "/Home/Connector"
LIVE_LIST_PATH = f"{LIST_PATH}/Live"
MAX_NAME_LENGTH = 100  # the column's size
_LIMIT = re.compile(r"\d{1,7}")


@dataclass(frozen=True, slots=True)
class OpenTransaction:
    """The connector's running transaction; plain values, so a view has a stable version."""

    id: int
    start_tag: str
    start_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectorView:
    charge_point_id: str
    charge_point_name: str
    connector_id: int
    name: str | None
    online: bool | None  # None: the server could not be asked
    status: str | None
    error_code: str | None
    status_at: datetime | None
    meter_kwh: str | None
    power_kw: str | None
    soc_percent: int | None
    transaction: OpenTransaction | None

    @property
    def label(self) -> str:
        return self.name or f"{self.charge_point_name}:{self.connector_id}"

    @property
    def url(self) -> str:
        return f"{LIST_PATH}/{path_part(self.charge_point_id)}/{self.connector_id}"


async def _views(
    context: ManagementContext, charge_point_id: str | None = None, connector_id: int | None = None
) -> list[ConnectorView]:
    server = context.server
    # A page about one charger asks for that charger, not the fleet.
    if charge_point_id is None:
        live_chargers = await server.status()
    else:
        live_chargers = await server.status_of(charge_point_id)
    live: dict[tuple[str, int], LiveConnector] = {}
    online: set[str] = set()
    for charger in live_chargers or []:
        online.add(charger.id)
        for reported in charger.connectors:
            live[(charger.id, reported.connectorId)] = reported
    query = (
        select(Connector, ChargePoint.name)
        .join(ChargePoint, ChargePoint.id == Connector.charge_point_id)
        .where(Connector.connector_id >= 1)
        .order_by(Connector.charge_point_id, Connector.connector_id)
    )
    running = select(Transaction).where(transactions.running()).order_by(Transaction.id)
    if charge_point_id is not None:
        query = query.where(Connector.charge_point_id == charge_point_id)
        running = running.where(Transaction.charge_point_id == charge_point_id)
    if connector_id is not None:
        query = query.where(Connector.connector_id == connector_id)
    async with context.db.session() as session:
        rows = (await session.execute(query)).all()
        open_rows = await session.scalars(running)
        open_tx = {
            (t.charge_point_id, t.connector_id): OpenTransaction(t.id, t.start_tag, t.start_at)
            for t in open_rows
        }
    views = []
    for connector, cp_name in rows:
        key = (connector.charge_point_id, connector.connector_id)
        now = live.get(key)
        is_online = None if live_chargers is None else connector.charge_point_id in online
        meter = now.meterWh if now and now.meterWh is not None else connector.meter_wh
        power = now.powerW if now and now.powerW is not None else connector.power_w
        views.append(
            ConnectorView(
                charge_point_id=connector.charge_point_id,
                charge_point_name=cp_name or connector.charge_point_id,
                connector_id=connector.connector_id,
                name=connector.name,
                online=is_online,
                status=(now.status if now and now.status else connector.status),
                error_code=(now.errorCode if now else connector.error_code),
                status_at=(now.statusAt if now and now.statusAt else connector.status_at),
                meter_kwh=None if meter is None else thousandths(meter, 2),
                power_kw=None if power is None else thousandths(power, 1),
                soc_percent=(
                    now.socPercent if now and now.socPercent is not None else connector.soc_percent
                ),
                transaction=open_tx.get(key),
            )
        )
    return views


@router.get(LIST_PATH)
async def list_page(request: Request, user: Viewer, context: ContextDep) -> Response:
    return page(request, "admin/connectors.html", await _list_values(context))


@router.get(LIVE_LIST_PATH)
async def list_live(request: Request, user: Viewer, context: ContextDep, v: str = "") -> Response:
    """The list's table alone; 204 while it would show the same (``v``)."""
    return fragment(request, "admin/_connectors_live.html", await _list_values(context), seen=v)


async def _list_values(context: ManagementContext) -> dict[str, object]:
    views = await _views(context)
    reachable = any(view.online is not None for view in views) or not views
    shown = {"views": views, "reachable": reachable}
    live = {VERSION: version_of(shown), "live_url": LIVE_LIST_PATH, "refresh": refresh(context)}
    return {**shown, **live}


@router.get(LIST_PATH + "/{cp_id}/{conn}")
async def connector_page(
    request: Request, cp_id: str, conn: DbInt, user: Viewer, context: ContextDep
) -> Response:
    return await _page(request, context, cp_id, conn)


@router.get(LIST_PATH + "/{cp_id}/{conn}/Live")
async def connector_live(
    request: Request, cp_id: str, conn: DbInt, user: Viewer, context: ContextDep, v: str = ""
) -> Response:
    """The connector's live values alone; 204 while they are the same (``v``)."""
    values = _live_values(context, await _view(context, cp_id, conn))
    return fragment(request, "admin/_connector_live.html", values, seen=v)


async def _view(context: ManagementContext, cp_id: str, conn: int) -> ConnectorView:
    views = await _views(context, cp_id, conn)
    if not views:
        raise HTTPException(404)
    return views[0]


def _live_values(context: ManagementContext, view: ConnectorView) -> dict[str, object]:
    live = {VERSION: version_of(view), "live_url": f"{view.url}/Live", "refresh": refresh(context)}
    return {"view": view, **live}


async def _page(
    request: Request,
    context: ManagementContext,
    cp_id: str,
    conn: int,
    *,
    name: str | None = None,
    name_error: str | None = None,
    status_code: int = 200,
) -> Response:
    view = await _view(context, cp_id, conn)
    async with context.db.session() as session:
        tags = (
            await session.scalars(
                select(ChargeTag).where(ChargeTag.blocked.is_(False)).order_by(ChargeTag.id)
            )
        ).all()
    values = {
        **_live_values(context, view),
        "tags": tags,
        "name": view.name or "" if name is None else name,
        "name_error": name_error,
        "action": f"{LIST_PATH}/{path_part(cp_id)}/{conn}",
    }
    return page(request, "admin/connector.html", values, status_code=status_code)


@router.post(LIST_PATH + "/{cp_id}/{conn}")
async def act(
    request: Request, cp_id: str, conn: DbInt, user: Admin, context: ContextDep
) -> Response:
    """Rename the connector, or send it a command; the answer is shown on the page."""
    form = await request.form()
    action = text(form, "action")
    here = f"{LIST_PATH}/{path_part(cp_id)}/{conn}"
    async with context.db.session() as session:
        connector = await session.get(Connector, (cp_id, conn))
        if connector is None:
            raise HTTPException(404)
        if action == "name":
            name = text(form, "name")
            if len(name) > MAX_NAME_LENGTH:
                problem = gettext("At most %(n)s characters.", n=MAX_NAME_LENGTH)
                return await _page(
                    request, context, cp_id, conn, name=name, name_error=problem, status_code=400
                )
            connector.name = name or None
            return redirect(request, here, gettext("Name saved."))
    where = f"{part(cp_id)}/{conn}"
    if action == "unlock":
        outcome = await admin_api.command(context, gettext("Unlock"), f"UnlockConnector/{where}")
    elif action == "start":
        tag = text(form, "tag")
        if not tag:
            return redirect(request, here, gettext("Start: choose a tag."), ok=False)
        outcome = await admin_api.command(
            context,
            gettext("Start with tag %(tag)s", tag=tag),
            f"StartTransaction/{where}/{part(tag)}",
        )
    elif action == "stop":
        outcome = await admin_api.command(context, gettext("Stop"), f"StopTransaction/{where}")
    elif action == "limit":
        value, unit = text(form, "limit"), text(form, "unit")
        if not _LIMIT.fullmatch(value) or unit not in ("A", "W"):
            message = gettext("Charging limit: a whole number of amperes (A) or watts (W).")
            return redirect(request, here, message, ok=False)
        outcome = await admin_api.command(
            context,
            gettext("Charging limit %(value)s %(unit)s", value=value, unit=unit),
            f"SetChargingLimit/{where}/{value}{unit}",
        )
    elif action == "clear-limit":
        outcome = await admin_api.command(
            context, gettext("Clear charging limit"), f"ClearChargingLimit/{where}"
        )
    else:
        raise HTTPException(400)
    return redirect(request, here, outcome.message, ok=outcome.ok)
