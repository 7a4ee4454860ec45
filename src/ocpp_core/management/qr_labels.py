"""The QR label sheets of ``/Home/ChargePoint`` and a connector's code as a PNG.

A sheet is drawn in a thread: a page of labels is tens of QR codes and a PDF,
work that must not hold the event loop that also answers chargers under ``serve``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ocpp_core.management.auth import Viewer
from ocpp_core.management.chargepoints import (
    KEYSET,
    LABELS_PATH,
    default_currency,
    get_or_404,
    listed,
)
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.exports import attachment, file_part
from ocpp_core.management.i18n import N_
from ocpp_core.management.listing import PageKey, SearchText
from ocpp_core.params import DbInt
from ocpp_core.qr import LabelError, label_sheet_pdf, labels_for, qr_png, start_url

router = APIRouter(include_in_schema=False)


@router.get(LABELS_PATH)
async def listed_labels(
    user: Viewer,
    context: ContextDep,
    q: SearchText = "",
    before: PageKey = "",
    after: PageKey = "",
) -> Response:
    """The labels of the stations on one page of the list (same search, same page).

    A sheet of the whole fleet would be tens of thousands of QR codes drawn in
    one request; a page of the list is a print run an operator can carry.
    ``ocpp-core qr --sheet`` prints any number, in a process of its own.
    """
    async with context.db.reading() as session:
        found = await KEYSET.page(session, listed(q.strip()), **KEYSET.at(before, after))
    ids = [row.ChargePoint.id for row in found.rows]
    if not ids:
        raise HTTPException(404, N_("There are no charge points to print labels for."))
    return await _sheet(context, ids, "labels.pdf")


@router.get("/Home/QR/{cp_id}/Labels.pdf")
async def station_labels(cp_id: str, user: Viewer, context: ContextDep) -> Response:
    return await _sheet(context, [cp_id], f"labels-{file_part(cp_id)}.pdf")


@router.get("/Home/QR/{cp_id}/{conn}.png")
async def connector_png(cp_id: str, conn: DbInt, user: Viewer, context: ContextDep) -> Response:
    async with context.db.session() as session:
        await get_or_404(session, cp_id)
    if conn < 1:
        raise HTTPException(404)
    data = qr_png(start_url(context.settings.public_base_url, cp_id, conn), 10)
    name = f"qr-{file_part(cp_id)}-{conn}.png"
    return Response(data, media_type="image/png", headers=attachment(name))


async def _sheet(context: ManagementContext, ids: Sequence[str], name: str) -> Response:
    async with context.db.reading() as session:
        try:
            labels = await labels_for(
                session, context.settings.public_base_url, ids, default_currency(context)
            )
        except LabelError:  # a station deleted meanwhile, or an unknown id in the URL
            raise HTTPException(404) from None
    pdf = await asyncio.to_thread(label_sheet_pdf, labels)
    return Response(pdf, media_type="application/pdf", headers=attachment(name))
