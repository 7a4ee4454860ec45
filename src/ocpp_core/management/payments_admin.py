"""``/Home/Payments``: payment reservations, their money, and Cancel for the cancelable ones.

Cancel goes through the server (``POST /API/Payments/Cancel``), which releases
the card hold at Stripe; the page never changes a reservation itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import PaymentReservation
from ocpp_core.management import admin_api
from ocpp_core.management.admin_forms import page, query_string, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep
from ocpp_core.management.i18n import gettext
from ocpp_core.management.listing import Pager, station_ids
from ocpp_core.management.numbers import money
from ocpp_core.management.reviews import decision_of
from ocpp_core.params import DbInt
from ocpp_core.payments.states import CANCELABLE, Money, Status

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/Payments"
CANCEL_PATH = "/Home/Payments/Cancel"
PAGE_SIZE = 50
MAX_PAGE = 100_000
NONE = "\N{EN DASH}"


@dataclass(frozen=True, slots=True)
class ReservationView:
    row: PaymentReservation

    def _money(self, cents: int | None) -> str:
        return NONE if cents is None else money(cents, self.row.currency)

    @property
    def hold(self) -> str:
        if self.row.free:
            return "free"
        return self._money(self.row.authorized_cents or self.row.hold_cents)

    @property
    def captured(self) -> str:
        return self._money(self.row.captured_cents)

    @property
    def released(self) -> str:
        """What went back to the card: the hold less the capture, once money is settled."""
        row = self.row
        if row.free or row.money_state not in (Money.CAPTURED, Money.RELEASED):
            return NONE
        return self._money((row.authorized_cents or 0) - (row.captured_cents or 0))

    @property
    def decision(self) -> str | None:
        return decision_of(self.row)

    @property
    def reviewable(self) -> bool:
        """Waiting for a decision, or decided: the review page shows which."""
        return self.row.money_state == Money.REVIEW_REQUIRED or self.row.review_decision is not None

    @property
    def cancelable(self) -> bool:
        return self.row.status in CANCELABLE and self.row.transaction_id is None


@router.get(PAGE_PATH)
async def payments_page(
    request: Request,
    user: Viewer,
    context: ContextDep,
    cp: str = "",
    status: str = "",
    page_no: DbInt = 1,
) -> Response:
    pager = Pager.at(page_no, PAGE_SIZE, last=MAX_PAGE)
    query = select(PaymentReservation).order_by(
        PaymentReservation.created_at.desc(), PaymentReservation.id
    )
    if cp:
        query = query.where(PaymentReservation.charge_point_id == cp)
    if status:
        query = query.where(PaymentReservation.status == status)
    async with context.db.session() as session:
        rows = (await session.scalars(pager.window(query))).all()
        stations = await station_ids(session)
    filters = {"cp": cp, "status": status}
    values = {
        "views": [ReservationView(row) for row in pager.shown(rows)],
        "stations": stations,
        "statuses": [s.value for s in Status],
        "filters": filters,
        **pager.links(rows, filters),
        "back": PAGE_PATH + query_string({**filters, "page_no": pager.no if pager.no > 1 else ""}),
    }
    return page(request, "admin/payments.html", values)


@router.post(CANCEL_PATH)
async def cancel(request: Request, user: Admin, context: ContextDep) -> Response:
    form = await request.form()
    reservation_id = text(form, "reservation_id")
    back = text(form, "back")
    if not back.startswith(PAGE_PATH):
        back = PAGE_PATH
    if not reservation_id:
        return redirect(request, back, gettext("Cancel: no reservation given."), ok=False)
    outcome = await admin_api.cancel_reservation(context, reservation_id)
    return redirect(request, back, f"{reservation_id}: {outcome.message}", ok=outcome.ok)
