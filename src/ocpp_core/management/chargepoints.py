"""``/Home/ChargePoint``: list, create, edit (auth, tariff), delete, reset.

Values are checked by the domain's own rules (``NewChargePoint``, the charger
password rule, ``tariffs.set_tariff``), and each refusal is shown next to the
field it is about. A delete takes the connectors, transactions and
reservations with it (the foreign keys cascade), so one with money still held
is refused until its reservation ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from markupsafe import Markup
from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.folded import starts_with
from ocpp_core.db.models import (
    ACTIVE_RESERVATION_STATES,
    ChargePoint,
    Connector,
    PaymentReservation,
    Transaction,
)
from ocpp_core.domain import chargepoints, log_uploads, tariffs
from ocpp_core.domain.chargepoints import (
    ProvisioningError,
    display_code_owner,
)
from ocpp_core.domain.pricing import (
    Tariff,
    TariffError,
    hold_cents,
)
from ocpp_core.management import admin_api, device_model
from ocpp_core.management.admin_forms import (
    page,
    path_part,
    query_string,
    redirect,
)
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.chargepoint_form import (
    CODE_TAKEN,
    TARIFF_ERROR,
    ChargePointForm,
    without_prefix,
)
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext
from ocpp_core.management.listing import Keyset, PageKey, SearchText
from ocpp_core.management.numbers import money
from ocpp_core.payments.states import MONEY_UNSETTLED
from ocpp_core.qr import (
    connector_ids,
    qr_svg,
    start_url,
)
from ocpp_core.security import hash_secret

router = APIRouter(include_in_schema=False)

LIST_PATH = "/Home/ChargePoint"
LABELS_PATH = "/Home/QR/Labels.pdf"
NEW = "@"


class _Refused(Exception):
    """Raised inside the database session so nothing of a refused form is stored."""


def default_currency(context: ManagementContext) -> str:
    return context.settings.stripe.currency


def _min_hold(context: ManagementContext) -> int:
    return context.settings.payments.min_charge_cents


# The list

PAGE_SIZE = 50
KEYSET = Keyset((ChargePoint.id,), PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class Row:
    charge_point: ChargePoint
    price: str
    hold: str | None
    connectors: int


@router.get(LIST_PATH)
async def list_page(
    request: Request,
    user: Viewer,
    context: ContextDep,
    q: SearchText = "",
    before: PageKey = "",
    after: PageKey = "",
) -> Response:
    """A page of the charge points whose id or name begin with ``q``, in id order."""
    search = q.strip()
    at = KEYSET.at(before, after)
    async with context.db.reading() as session:
        found = await KEYSET.page(session, listed(search), **at)
        rows = [row.ChargePoint for row in found.rows]
        counts = await _connector_counts(session, [row.id for row in rows])
    shown = [_row(row, counts.get(row.id, 0), default_currency(context)) for row in rows]
    filters = {"q": search}
    labels = LABELS_PATH + query_string({**filters, "before": before, "after": after})
    values = {"rows": shown, "filters": filters, "labels": labels, **KEYSET.links(found, filters)}
    return page(request, "admin/chargepoints.html", values)


def listed(search: str) -> Select[ChargePoint]:
    """The charge points whose id or name begin with ``search`` (all for none)."""
    query = select(ChargePoint)
    if not search:
        return query
    return query.where(
        or_(starts_with(ChargePoint.id, search), starts_with(ChargePoint.name, search))
    )


async def _connector_counts(session: AsyncSession, ids: list[str]) -> dict[str, int]:
    counted = await session.execute(
        select(Connector.charge_point_id, func.count())
        .where(Connector.charge_point_id.in_(ids))
        .group_by(Connector.charge_point_id)
    )
    return dict(counted.all())


def _row(row: ChargePoint, connectors: int, currency: str) -> Row:
    tariff = tariffs.tariff_of(row, currency)
    described = tariffs.describe(tariff)
    hold = None if tariff.free or described == "no price" else hold_cents(tariff)
    return Row(row, described, None if hold is None else money(hold, tariff.currency), connectors)


# Create


@router.get(f"{LIST_PATH}/{NEW}")
async def new_page(request: Request, user: Admin, context: ContextDep) -> Response:
    form = ChargePointForm(currency=default_currency(context))
    return _edit_page(request, form, new=True)


@router.post(f"{LIST_PATH}/{NEW}")
async def create(request: Request, user: Admin, context: ContextDep) -> Response:
    form = await ChargePointForm.read(request)
    form.check_fields(new=True)
    tariff = form.tariff(default_currency(context))
    if form.errors or tariff is None:
        return _edit_page(request, form, new=True, status_code=400)
    try:
        async with context.db.session() as session:
            await _create(session, context, form, tariff)
    except _Refused:
        return _edit_page(request, form, new=True, status_code=400)
    url = f"{LIST_PATH}/{path_part(form.id)}"
    return redirect(request, url, gettext("Charge point %(id)s added.", id=form.id))


async def _create(
    session: AsyncSession, context: ManagementContext, form: ChargePointForm, tariff: Tariff
) -> None:
    await _check_code_free(session, form)
    try:
        await chargepoints.add(session, form.as_new(), now=context.clock())
    except ProvisioningError as error:
        form.errors["id"] = without_prefix(str(error))
        raise _Refused from None
    row = await session.get(ChargePoint, form.id)
    assert row is not None
    row.name = form.name or None
    if tariff != Tariff(currency=tariff.currency):  # left empty: priced later
        await _set_tariff(session, context, form, tariff)


async def _set_tariff(
    session: AsyncSession, context: ManagementContext, form: ChargePointForm, tariff: Tariff
) -> None:
    try:
        await tariffs.set_tariff(session, form.id, tariff, min_hold_cents=_min_hold(context))
    except TariffError as error:
        form.note_tariff_error(error)
        raise _Refused from None


# Edit, delete, reset


@router.get(LIST_PATH + "/{cp_id}")
async def edit_page(
    request: Request, cp_id: str, user: Viewer, context: ContextDep, confirm: str = ""
) -> Response:
    async with context.db.session() as session:
        row = await get_or_404(session, cp_id)
        if confirm == "delete":
            return page(request, "admin/chargepoint_delete.html", await _impact(session, row))
        form = ChargePointForm.of(row, default_currency(context))
        codes = await _codes(session, context, row.id)
    return _edit_page(request, form, new=False, row=row, codes=codes)


@router.post(LIST_PATH + "/{cp_id}")
async def save(request: Request, cp_id: str, user: Admin, context: ContextDep) -> Response:
    submitted = await request.form()
    action = submitted.get("action", "save")
    if action == "delete":
        return await _delete(request, context, cp_id)
    if action == "reset":
        mode = "Hard" if submitted.get("mode") == "Hard" else "Soft"
        outcome = await admin_api.command(
            context, gettext("%(mode)s reset", mode=mode), f"Reset/{admin_api.part(cp_id)}/{mode}"
        )
        return redirect(request, f"{LIST_PATH}/{path_part(cp_id)}", outcome.message, ok=outcome.ok)
    form = await ChargePointForm.read(request)
    form.id = cp_id
    form.check_fields(new=False)
    tariff = form.tariff(default_currency(context))
    try:
        async with context.db.session() as session:
            row = await get_or_404(session, cp_id)
            if form.errors or tariff is None:
                raise _Refused
            await _update(session, context, row, form, tariff)
    except IntegrityError:  # the code was taken between the check and the commit
        form.errors["display_code"] = CODE_TAKEN
        return await _refused_edit(request, context, form)
    except _Refused:
        return await _refused_edit(request, context, form)
    return redirect(
        request, f"{LIST_PATH}/{path_part(cp_id)}", gettext("Charge point %(id)s saved.", id=cp_id)
    )


async def _refused_edit(
    request: Request, context: ManagementContext, form: ChargePointForm
) -> Response:
    async with context.db.session() as session:
        row = await get_or_404(session, form.id)
        codes = await _codes(session, context, form.id)
    return _edit_page(request, form, new=False, row=row, codes=codes, status_code=400)


async def _update(
    session: AsyncSession,
    context: ManagementContext,
    row: ChargePoint,
    form: ChargePointForm,
    tariff: Tariff,
) -> None:
    await _check_code_free(session, form)
    row.name = form.name or None
    row.comment = form.comment or None
    row.display_code = form.display_code or None
    row.location = form.location or None
    row.client_cert_thumbprint = form.normalized_thumbprint()
    if form.password:
        row.auth_user = row.id
        row.password_hash = hash_secret(form.password)
    elif form.remove_password:
        row.auth_user = None
        row.password_hash = None
    if tariff != tariffs.tariff_of(row, default_currency(context)):
        await _set_tariff(session, context, form, tariff)


async def _check_code_free(session: AsyncSession, form: ChargePointForm) -> None:
    """Another station's code is a form error; the unique index still guards a race."""
    if not form.display_code:
        return
    owner = await display_code_owner(session, form.display_code)
    if owner is not None and owner != form.id:
        form.errors["display_code"] = CODE_TAKEN
        raise _Refused


async def _delete(request: Request, context: ManagementContext, cp_id: str) -> Response:
    async with context.db.session() as session:
        row = await get_or_404(session, cp_id)
        impact = await _impact(session, row)
        if impact["unsettled_reservations"]:
            url = f"{LIST_PATH}/{path_part(cp_id)}"
            message = gettext(
                "%(id)s has a payment reservation in progress or a payment not yet settled "
                "(a capture, a release or a meter review): let it end, or settle it, before "
                "deleting the charge point.",
                id=cp_id,
            )
            return redirect(request, url, message, ok=False)
        uploads = await log_uploads.upload_ids(session, cp_id)
        # Connectors, transactions, reservations and privileges go with it (ON DELETE CASCADE).
        await session.execute(delete(ChargePoint).where(ChargePoint.id == cp_id))
    log_uploads.remove_files(context.settings.diagnostics.directory, uploads)
    return redirect(request, LIST_PATH, gettext("Charge point %(id)s deleted.", id=cp_id))


async def _impact(session: AsyncSession, row: ChargePoint) -> dict[str, Any]:
    async def count(model: Any, *where: Any) -> int:
        total = await session.scalar(
            select(func.count()).select_from(model).where(model.charge_point_id == row.id, *where)
        )
        return int(total or 0)

    return {
        "row": row,
        "connectors": await count(Connector),
        "transactions": await count(Transaction),
        "reservations": await count(PaymentReservation),
        # The delete takes the reservations with it: one whose money is still to be
        # captured, released or reviewed would leave a driver's card held until Stripe
        # gives up on it.
        "unsettled_reservations": await count(
            PaymentReservation,
            or_(
                PaymentReservation.status.in_(ACTIVE_RESERVATION_STATES),
                PaymentReservation.money_state.in_([state.value for state in MONEY_UNSETTLED]),
            ),
        ),
    }


async def get_or_404(session: AsyncSession, cp_id: str) -> ChargePoint:
    row = await chargepoints.find(session, cp_id)
    if row is None:
        raise HTTPException(404)
    return row


# QR codes on the edit page (the label sheets are ``qr_labels``)


@dataclass(frozen=True, slots=True)
class Code:
    connector_id: int
    url: str
    svg: Markup


async def _codes(session: AsyncSession, context: ManagementContext, cp_id: str) -> list[Code]:
    numbers = await connector_ids(session, cp_id) or [1]
    codes = []
    for number in numbers:
        url = start_url(context.settings.public_base_url, cp_id, number)
        title = gettext("QR code: start charging at %(id)s, connector %(n)s", id=cp_id, n=number)
        svg = qr_svg(url, 4, title=title, xml_declaration=False).decode()
        codes.append(Code(number, url, Markup(svg)))  # noqa: S704 -- segno's own SVG, escaped
    return codes


def _edit_page(
    request: Request,
    form: ChargePointForm,
    *,
    new: bool,
    row: ChargePoint | None = None,
    codes: list[Code] | None = None,
    status_code: int = 200,
) -> Response:
    values = {
        "form": form,
        "new": new,
        "row": row,
        "codes": codes or [],
        "device_model_url": None if row is None else device_model.url_of(row),
        "tariff_error": form.errors.get(TARIFF_ERROR),
        "action": f"{LIST_PATH}/{NEW if new else path_part(form.id)}",
    }
    return page(request, "admin/chargepoint_edit.html", values, status_code=status_code)
