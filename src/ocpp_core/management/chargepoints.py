"""``/Home/ChargePoint``: list, create, edit (auth, tariff), delete, reset, QR codes.

Values are checked by the domain's own rules (``NewChargePoint``, the charger
password rule, ``tariffs.set_tariff``), and each refusal is shown next to the
field it is about. A delete takes the connectors, transactions and
reservations with it (the foreign keys cascade), so one with money still held
is refused until its reservation ends.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from ocpp_core.domain import chargepoints, tariffs
from ocpp_core.domain.chargepoints import (
    MAX_LOCATION_LENGTH,
    NewChargePoint,
    ProvisioningError,
    display_code_owner,
    display_code_problem,
)
from ocpp_core.domain.pricing import (
    MILLICENTS_PER_CENT,
    WH_PER_KWH,
    Tariff,
    TariffError,
    hold_cents,
    parse_money,
)
from ocpp_core.management import admin_api, device_model
from ocpp_core.management.admin_forms import (
    checked,
    decimal_text,
    page,
    path_part,
    query_string,
    redirect,
    text,
)
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import N_, gettext
from ocpp_core.management.listing import Keyset, PageKey, SearchText
from ocpp_core.management.numbers import money
from ocpp_core.params import DbInt
from ocpp_core.payments.states import MONEY_UNSETTLED
from ocpp_core.qr import (
    LabelError,
    connector_ids,
    label_sheet_pdf,
    labels_for,
    qr_png,
    qr_svg,
    start_url,
)
from ocpp_core.security import charger_password_problem, hash_secret

router = APIRouter(include_in_schema=False)

LIST_PATH = "/Home/ChargePoint"
LABELS_PATH = "/Home/QR/Labels.pdf"
NEW = "@"
_RATE_SCALE = 100 * MILLICENTS_PER_CENT  # currency units → millicents
_HEX = re.compile(r"[0-9a-f]+")
_ID_PREFIX = re.compile(r"^(?:id|charge point) '[^']*': ")
# The domain's messages name CLI options; the page names its fields.
_OPTIONS = {
    "--per-kwh": ("per_kwh", N_("Price per kWh")),
    "--session-fee": ("session_fee", N_("Session fee")),
    "--usage-fee-per-minute": ("usage_fee", N_("Usage fee per minute")),
    "--usage-grace-minutes": ("usage_grace", N_("Grace minutes")),
    "--usage-max-minutes": ("usage_max", N_("Most billed minutes")),
    "--max-kwh": ("max_kwh", N_("Max kWh per session")),
    "--currency": ("currency", N_("Currency")),
    "--free": ("free", N_("Free charging")),
}
TARIFF_ERROR = "tariff"  # a problem of the tariff as a whole (e.g. the hold)
# Problems the template words itself (so they are translated); the field's error is the key.
CODE_FORMAT, CODE_TAKEN, LOCATION_TOO_LONG = "code-format", "code-taken", "location-too-long"
NO_PASSWORD_UNCHOSEN, PASSWORD_AND_NONE = "no-password-unchosen", "password-and-none"


@dataclass
class ChargePointForm:
    """The form as typed, so a refused form comes back as the operator left it."""

    id: str = ""
    name: str = ""
    comment: str = ""
    display_code: str = ""
    location: str = ""
    password: str = ""
    no_password: bool = False
    remove_password: bool = False
    thumbprint: str = ""
    per_kwh: str = ""
    session_fee: str = ""
    usage_fee: str = ""
    usage_grace: str = ""
    usage_max: str = ""
    usage_after: bool = False
    max_kwh: str = ""
    currency: str = ""
    free: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def read(cls, request: Request) -> ChargePointForm:
        form = await request.form()
        return cls(
            id=text(form, "id"),
            name=text(form, "name"),
            comment=text(form, "comment"),
            display_code=text(form, "display_code"),
            location=text(form, "location"),
            password=_raw(form.get("password")),
            no_password=checked(form, "no_password"),
            remove_password=checked(form, "remove_password"),
            thumbprint=text(form, "thumbprint"),
            per_kwh=text(form, "per_kwh"),
            session_fee=text(form, "session_fee"),
            usage_fee=text(form, "usage_fee"),
            usage_grace=text(form, "usage_grace"),
            usage_max=text(form, "usage_max"),
            usage_after=checked(form, "usage_after"),
            max_kwh=text(form, "max_kwh"),
            currency=text(form, "currency").lower(),
            free=checked(form, "free"),
        )

    @classmethod
    def of(cls, row: ChargePoint, default_currency: str) -> ChargePointForm:
        tariff = tariffs.tariff_of(row, default_currency)
        return cls(
            id=row.id,
            name=row.name or "",
            comment=row.comment or "",
            display_code=row.display_code or "",
            location=row.location or "",
            thumbprint=row.client_cert_thumbprint or "",
            per_kwh=decimal_text(tariff.price_kwh_millicents, _RATE_SCALE, min_places=2),
            session_fee=decimal_text(tariff.session_fee_cents, 100, min_places=2),
            usage_fee=decimal_text(tariff.usage_fee_minute_millicents, _RATE_SCALE, min_places=2),
            usage_grace=str(tariff.usage_grace_minutes or ""),
            usage_max=str(tariff.usage_max_minutes or ""),
            usage_after=tariff.usage_after_charging,
            max_kwh=decimal_text(tariff.max_energy_wh, WH_PER_KWH),
            currency=tariff.currency,
            free=tariff.free,
        )

    def check_fields(self, *, new: bool) -> None:
        """The per-field rules, before anything is stored."""
        if new:
            problem = NewChargePoint(self.id).problem()
            if problem:
                self.errors["id"] = _without_prefix(problem)
        for name, candidate in (
            ("name", NewChargePoint("x", name=self.name or None)),
            ("comment", NewChargePoint("x", comment=self.comment or None)),
        ):
            problem = candidate.problem()
            if problem:
                self.errors[name] = _without_prefix(problem)
        if display_code_problem(self.display_code or None):
            self.errors["display_code"] = CODE_FORMAT
        if len(self.location) > MAX_LOCATION_LENGTH:
            self.errors["location"] = LOCATION_TOO_LONG
        if self.password:
            problem = charger_password_problem(self.password)
            if problem:
                self.errors["password"] = problem[:1].upper() + problem[1:]
        if self.thumbprint and self.normalized_thumbprint() is None:
            self.errors["thumbprint"] = gettext(
                "Use the certificate's SHA-256 (64 hex digits) or SHA-1 (40) fingerprint."
            )
        if new:
            self._check_password_choice()

    def _check_password_choice(self) -> None:
        if self.password and self.no_password:
            self.errors.setdefault("password", PASSWORD_AND_NONE)
        elif self.as_new().open_by_accident and "thumbprint" not in self.errors:
            self.errors["password"] = NO_PASSWORD_UNCHOSEN

    def as_new(self) -> NewChargePoint:
        return NewChargePoint(
            self.id,
            self.name or None,
            self.password or None,
            self.comment or None,
            display_code=self.display_code or None,
            location=self.location or None,
            thumbprint=self.normalized_thumbprint(),
            no_password=self.no_password,
        )

    def normalized_thumbprint(self) -> str | None:
        digits = "".join(c for c in self.thumbprint.lower() if c not in ": -")
        if len(digits) in (40, 64) and _HEX.fullmatch(digits):
            return digits
        return None

    def tariff(self, default_currency: str) -> Tariff | None:
        """The tariff typed in, or None with the problems noted on their fields."""
        values: dict[str, Any] = {}
        for name, key, scale in (
            ("per_kwh", "price_kwh_millicents", _RATE_SCALE),
            ("session_fee", "session_fee_cents", 100),
            ("usage_fee", "usage_fee_minute_millicents", _RATE_SCALE),
            ("max_kwh", "max_energy_wh", WH_PER_KWH),
        ):
            raw = getattr(self, name)
            try:
                values[key] = parse_money(raw, scale=scale, name=_label(name)) if raw else 0
            except TariffError as error:
                self.errors[name] = str(error)
        for name, key in (
            ("usage_grace", "usage_grace_minutes"),
            ("usage_max", "usage_max_minutes"),
        ):
            raw = getattr(self, name)
            if not raw:
                values[key] = 0
            elif raw.isdigit() and len(raw) <= 9:
                values[key] = int(raw)
            else:
                self.errors[name] = gettext(
                    "%(field)s: a whole number of minutes, 0 or more.", field=_label(name)
                )
        if any(name in self.errors for name in _TARIFF_FIELDS):
            return None
        return Tariff(
            **values,
            usage_after_charging=self.usage_after,
            currency=self.currency or default_currency,
            free=self.free,
        )

    def note_tariff_error(self, error: TariffError) -> None:
        message = _without_prefix(str(error))
        field_name = TARIFF_ERROR
        first = len(message)
        for option, (name, _label) in _OPTIONS.items():
            at = message.find(option)
            if at != -1 and at < first:
                first, field_name = at, name
        for option in sorted(_OPTIONS, key=len, reverse=True):
            message = message.replace(option, f"“{gettext(_OPTIONS[option][1])}”")
        self.errors[field_name] = message[:1].upper() + message[1:]


def _raw(value: object) -> str:
    """A password is taken as typed: spaces at either end are part of it."""
    return value if isinstance(value, str) else ""


_TARIFF_FIELDS = ("per_kwh", "session_fee", "usage_fee", "usage_grace", "usage_max", "max_kwh")


def _label(name: str) -> str:
    return gettext(next(label for field_name, label in _OPTIONS.values() if field_name == name))


def _without_prefix(message: str) -> str:
    message = _ID_PREFIX.sub("", message)
    return message[:1].upper() + message[1:]


class _Refused(Exception):
    """Raised inside the database session so nothing of a refused form is stored."""


def _default_currency(context: ManagementContext) -> str:
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
    shown = [_row(row, counts.get(row.id, 0), _default_currency(context)) for row in rows]
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
    form = ChargePointForm(currency=_default_currency(context))
    return _edit_page(request, form, new=True)


@router.post(f"{LIST_PATH}/{NEW}")
async def create(request: Request, user: Admin, context: ContextDep) -> Response:
    form = await ChargePointForm.read(request)
    form.check_fields(new=True)
    tariff = form.tariff(_default_currency(context))
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
        form.errors["id"] = _without_prefix(str(error))
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
        row = await _get(session, cp_id)
        if confirm == "delete":
            return page(request, "admin/chargepoint_delete.html", await _impact(session, row))
        form = ChargePointForm.of(row, _default_currency(context))
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
    tariff = form.tariff(_default_currency(context))
    try:
        async with context.db.session() as session:
            row = await _get(session, cp_id)
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
        row = await _get(session, form.id)
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
    if tariff != tariffs.tariff_of(row, _default_currency(context)):
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
        row = await _get(session, cp_id)
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
        # Connectors, transactions, reservations and privileges go with it (ON DELETE CASCADE).
        await session.execute(delete(ChargePoint).where(ChargePoint.id == cp_id))
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


async def _get(session: AsyncSession, cp_id: str) -> ChargePoint:
    row = await chargepoints.find(session, cp_id)
    if row is None:
        raise HTTPException(404)
    return row


# QR codes and label sheets


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
    return await _sheet(context, [cp_id], f"labels-{_file_safe(cp_id)}.pdf")


@router.get("/Home/QR/{cp_id}/{conn}.png")
async def connector_png(cp_id: str, conn: DbInt, user: Viewer, context: ContextDep) -> Response:
    async with context.db.session() as session:
        await _get(session, cp_id)
    if conn < 1:
        raise HTTPException(404)
    data = qr_png(start_url(context.settings.public_base_url, cp_id, conn), 10)
    name = f"qr-{_file_safe(cp_id)}-{conn}.png"
    return Response(data, media_type="image/png", headers=_attachment(name))


async def _sheet(context: ManagementContext, ids: Sequence[str], name: str) -> Response:
    async with context.db.reading() as session:
        try:
            labels = await labels_for(
                session, context.settings.public_base_url, ids, _default_currency(context)
            )
        except LabelError:  # a station deleted meanwhile, or an unknown id in the URL
            raise HTTPException(404) from None
    pdf = await asyncio.to_thread(label_sheet_pdf, labels)
    return Response(pdf, media_type="application/pdf", headers=_attachment(name))


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _file_safe(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value)


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
