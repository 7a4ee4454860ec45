"""``/Home/Payments``: payment reservations, their money, and Cancel for the cancelable ones.

Cancel goes through the server (``POST /API/Payments/Cancel``), which releases
the card hold at Stripe; the page never changes a reservation itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from sqlalchemy import Select, select
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import PaymentReservation
from ocpp_core.management import admin_api
from ocpp_core.management.admin_forms import day_after, day_start, page, parse_days, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep
from ocpp_core.management.i18n import gettext
from ocpp_core.management.listing import Keyset, PageKey, SearchText
from ocpp_core.management.numbers import money
from ocpp_core.management.reviews import decision_of
from ocpp_core.payments.states import CANCELABLE, Money, Status

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/Payments"
CANCEL_PATH = "/Home/Payments/Cancel"
PAGE_SIZE = 50
KEYSET = Keyset((PaymentReservation.created_at, PaymentReservation.id), PAGE_SIZE, descending=True)
STATUSES = tuple(s.value for s in Status)
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
    cp: SearchText = "",
    status: SearchText = "",
    since: SearchText = "",
    until: SearchText = "",
    before: PageKey = "",
    after: PageKey = "",
) -> Response:
    """A page of reservations, newest first, of one charge point, state or period."""
    filters = {"cp": cp.strip(), "status": status.strip(), "since": since.strip()}
    filters["until"] = until.strip()
    errors: dict[str, str] = {}
    query = listed(filters, errors)
    at = KEYSET.at(before, after)
    found = None
    if not errors:
        async with context.db.reading() as session:
            found = await KEYSET.page(session, query, **at)
    values = {
        "views": [ReservationView(row.PaymentReservation) for row in found.rows] if found else [],
        "statuses": STATUSES,
        "filters": filters,
        "errors": errors,
        **KEYSET.links(found, filters),
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    return page(request, "admin/payments.html", values, status_code=400 if errors else 200)


def listed(filters: dict[str, str], errors: dict[str, str]) -> Select[PaymentReservation]:
    """The reservations the filters ask for; their problems go into ``errors``."""
    row = PaymentReservation
    conditions = []
    if filters["cp"]:
        conditions.append(row.charge_point_id == filters["cp"])
    if filters["status"] in STATUSES:
        conditions.append(row.status == filters["status"])
    elif filters["status"]:
        errors["status"] = gettext("Not a reservation state.")
    days = parse_days({"since": filters["since"], "until": filters["until"]}, errors)
    if "since" in days:
        conditions.append(row.created_at >= day_start(days["since"]))
    if "until" in days:
        conditions.append(row.created_at < day_after(days["until"]))
    return select(PaymentReservation).where(*conditions)


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
