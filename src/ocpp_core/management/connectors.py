"""``/Home/Connector``: connectors with live values, their names, and commands.

The database holds each connector's last report; the server's ``/API/Status``
says which chargers are connected and what they report now. Commands go to
the server's API and their answer comes back as the page's message. The live
values poll a fragment as the dashboard does (:mod:`.live`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.folded import starts_with
from ocpp_core.db.models import ChargePoint, Connector, Transaction
from ocpp_core.domain import transactions
from ocpp_core.management import admin_api
from ocpp_core.management.admin_api import part
from ocpp_core.management.admin_forms import page, path_part, query_string, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.dashboard import refresh
from ocpp_core.management.i18n import gettext
from ocpp_core.management.listing import AnySelect, Key, Keyset, KeysetPage, PageKey, SearchText
from ocpp_core.management.live import VERSION, fragment, version_of
from ocpp_core.management.numbers import thousandths
from ocpp_core.management.server_api import LiveConnector
from ocpp_core.params import DbInt

router = APIRouter(include_in_schema=False)

LIST_PATH = "/Home/Connector"
LIVE_LIST_PATH = f"{LIST_PATH}/Live"
MAX_NAME_LENGTH = 100  # the column's size
_LIMIT = re.compile(r"\d{1,7}")
PAGE_SIZE = 50
KEYSET = Keyset((Connector.charge_point_id, Connector.connector_id), PAGE_SIZE)


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


@dataclass(frozen=True, slots=True)
class _Live:
    """What the server says of the connected chargers; ``reachable`` False: it could not."""

    reachable: bool
    online: frozenset[str]
    connectors: dict[tuple[str, int], LiveConnector]


async def _live(context: ManagementContext, stations: set[str]) -> _Live:
    """The server's word on these stations, asked for them alone (a page's worth at most)."""
    if len(stations) == 1:
        chargers = await context.server.status_of(next(iter(stations)))
    else:
        chargers = await context.server.status(stations)
    live = {
        (c.id, reported.connectorId): reported for c in chargers or [] for reported in c.connectors
    }
    return _Live(chargers is not None, frozenset(c.id for c in chargers or []), live)


def _listed() -> Select[Connector, str | None]:
    return (
        select(Connector, ChargePoint.name)
        .join(ChargePoint, ChargePoint.id == Connector.charge_point_id)
        .where(Connector.connector_id >= 1)
    )


async def _open_transactions(
    session: AsyncSession, connectors: Sequence[Connector]
) -> dict[tuple[str, int], OpenTransaction]:
    """The running transactions of these connectors' charge points, by connector."""
    stations = {c.charge_point_id for c in connectors}
    found = await session.scalars(
        select(Transaction)
        .where(transactions.running(), Transaction.charge_point_id.in_(stations))
        .order_by(Transaction.id)
    )
    return {
        (t.charge_point_id, t.connector_id): OpenTransaction(t.id, t.start_tag, t.start_at)
        for t in found
    }


def _view(
    connector: Connector, cp_name: str | None, live: _Live, running: OpenTransaction | None
) -> ConnectorView:
    key = (connector.charge_point_id, connector.connector_id)
    now = live.connectors.get(key)
    meter = now.meterWh if now and now.meterWh is not None else connector.meter_wh
    power = now.powerW if now and now.powerW is not None else connector.power_w
    return ConnectorView(
        charge_point_id=connector.charge_point_id,
        charge_point_name=cp_name or connector.charge_point_id,
        connector_id=connector.connector_id,
        name=connector.name,
        online=connector.charge_point_id in live.online if live.reachable else None,
        status=(now.status if now and now.status else connector.status),
        error_code=(now.errorCode if now else connector.error_code),
        status_at=(now.statusAt if now and now.statusAt else connector.status_at),
        meter_kwh=None if meter is None else thousandths(meter, 2),
        power_kw=None if power is None else thousandths(power, 1),
        soc_percent=(
            now.socPercent if now and now.socPercent is not None else connector.soc_percent
        ),
        transaction=running,
    )


async def _views(
    context: ManagementContext, query: AnySelect, at: dict[str, Key | None]
) -> tuple[list[ConnectorView], KeysetPage]:
    """A page of the connectors ``query`` finds, with what the server says of them now."""
    async with context.db.reading() as session:
        found = await KEYSET.page(session, query, **at)
        running = await _open_transactions(session, [row.Connector for row in found.rows])
    live = await _live(context, {row.Connector.charge_point_id for row in found.rows})
    views = [
        _view(row.Connector, row.name, live, running.get(_key(row.Connector))) for row in found.rows
    ]
    return views, found


def listed(search: str) -> AnySelect:
    """The connectors of the charge points whose id begins with ``search`` (all for none)."""
    if not search:
        return _listed()
    stations = select(ChargePoint.id).where(starts_with(ChargePoint.id, search))
    return _listed().where(Connector.charge_point_id.in_(stations))


def _key(connector: Connector) -> tuple[str, int]:
    return connector.charge_point_id, connector.connector_id


@dataclass(frozen=True, slots=True)
class _Query:
    """The list's search and page, as typed; ``at``: the page key read from it."""

    q: str
    before: str
    after: str

    @property
    def at(self) -> dict[str, Key | None]:
        return KEYSET.at(self.before, self.after)

    def text(self) -> str:
        return query_string({"q": self.q, "before": self.before, "after": self.after})


def _typed_query(q: SearchText = "", before: PageKey = "", after: PageKey = "") -> _Query:
    return _Query(q.strip(), before, after)


QueryDep = Annotated[_Query, Depends(_typed_query)]


@router.get(LIST_PATH)
async def list_page(
    request: Request, user: Viewer, context: ContextDep, query: QueryDep
) -> Response:
    """A page of connectors, of the charge points whose id begins with ``q``."""
    return page(request, "admin/connectors.html", await _list_values(context, query))


@router.get(LIVE_LIST_PATH)
async def list_live(
    request: Request, user: Viewer, context: ContextDep, query: QueryDep, v: str = ""
) -> Response:
    """The list's table alone; 204 while it would show the same (``v``)."""
    values = await _list_values(context, query)
    return fragment(request, "admin/_connectors_live.html", values, seen=v)


async def _list_values(context: ManagementContext, query: _Query) -> dict[str, object]:
    views, found = await _views(context, listed(query.q), query.at)
    reachable = any(view.online is not None for view in views) or not views
    shown = {"views": views, "reachable": reachable}
    live_url = LIVE_LIST_PATH + query.text()
    live = {VERSION: version_of(shown), "live_url": live_url, "refresh": refresh(context)}
    filters = {"q": query.q}
    return {**shown, **live, "filters": filters, **KEYSET.links(found, filters)}


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
    values = _live_values(context, await _one(context, cp_id, conn))
    return fragment(request, "admin/_connector_live.html", values, seen=v)


async def _one(context: ManagementContext, cp_id: str, conn: int) -> ConnectorView:
    one = _listed().where(Connector.charge_point_id == cp_id, Connector.connector_id == conn)
    views, _ = await _views(context, one, {})
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
    view = await _one(context, cp_id, conn)
    values = {
        **_live_values(context, view),
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
