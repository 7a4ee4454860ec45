"""``/Home/Pick/...``: the ids a filter's field suggests while the operator types.

A fleet has tens of thousands of charge points: a page that listed them all in
a drop-down weighed a megabyte. The field asks for the few ids that begin with
what is typed instead (``static/js/picker.js``), and stays a plain text field
without JavaScript.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import ColumnElement, Select, select
from starlette.responses import JSONResponse

from ocpp_core.db.folded import starts_with
from ocpp_core.db.models import ChargePoint, ChargeTag
from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.listing import SearchText

router = APIRouter(include_in_schema=False)

CHARGE_POINTS_PATH = "/Home/Pick/ChargePoint"
TAGS_PATH = "/Home/Pick/ChargeTag"
STARTING_TAGS_PATH = "/Home/Pick/ChargeTag/Starting"
PICKED = 20  # as many as a suggestion list shows without scrolling far


@router.get(CHARGE_POINTS_PATH)
async def charge_point_ids(user: Viewer, context: ContextDep, q: SearchText = "") -> JSONResponse:
    """The first charge point ids that begin with ``q`` (either case)."""
    return await _ids(context, ChargePoint.id, q)


@router.get(TAGS_PATH)
async def tag_ids(user: Viewer, context: ContextDep, q: SearchText = "") -> JSONResponse:
    """The first tag ids that begin with ``q`` (either case)."""
    return await _ids(context, ChargeTag.id, q)


@router.get(STARTING_TAGS_PATH)
async def starting_tag_ids(user: Viewer, context: ContextDep, q: SearchText = "") -> JSONResponse:
    """Like the tag ids, but only tags a charger would accept now: a remote start's field.

    A blocked or expired tag would only be refused by the charger's Authorize a
    few seconds later; a filter's field still suggests them (their history counts).
    """
    now = context.clock()
    usable = ~ChargeTag.blocked & (ChargeTag.expires_at.is_(None) | (ChargeTag.expires_at > now))
    return await _ids(context, ChargeTag.id, q, usable)


async def _ids(
    context: ManagementContext, column: Any, prefix: str, *where: ColumnElement[bool]
) -> JSONResponse:
    async with context.db.reading() as session:
        ids = (await session.scalars(statement(column, prefix).where(*where))).all()
    return JSONResponse(list(ids))


def statement(column: Any, prefix: str) -> Select[Any]:
    """The first ids of ``column`` that begin with ``prefix`` (either case), in order."""
    query = select(column).order_by(column).limit(PICKED)
    return query.where(starts_with(column, prefix)) if prefix else query
