"""``/Home/Reviews``: payments waiting for a person's decision, and that decision.

A session whose energy could not be believed keeps its card hold untouched, and
so does one whose capture or release Stripe left unresolved. The queue lists
them oldest first; a reservation's page shows the readings, the plausible
amounts priced by the settlement's own rules, and, for admins, Capture (any
amount up to the hold) and Release. The decision goes through the server
(``POST /API/Payments/Review``), which takes each decision once; the page never
changes a reservation itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import MeterAnomaly, PaymentReservation, Transaction
from ocpp_core.domain.pricing import TariffError, money_value, parse_money
from ocpp_core.management import admin_api
from ocpp_core.management.admin_forms import page, path_part, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext
from ocpp_core.management.listing import Pager
from ocpp_core.management.numbers import money, thousandths
from ocpp_core.management.public_station import prices_of
from ocpp_core.management.public_status import duration
from ocpp_core.params import DbInt
from ocpp_core.payments import review
from ocpp_core.payments.billing import tariff_of
from ocpp_core.payments.states import Money

router = APIRouter(include_in_schema=False)

QUEUE_PATH = "/Home/Reviews"
PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_ANOMALIES = 50
ReservationId = Annotated[str, Path(max_length=36)]


def decision_of(row: PaymentReservation) -> str | None:
    """What was decided and by whom, in the page's language; None: nothing yet."""
    match row.review_decision:
        case review.Decision.CAPTURE:
            amount = money(row.review_amount_cents or 0, row.currency)
            return gettext(
                "Capture of %(amount)s decided by %(user)s",
                amount=amount,
                user=row.review_decided_by,
            )
        case review.Decision.RELEASE:
            return gettext("Release decided by %(user)s", user=row.review_decided_by)
        case review.Decision.AUTO_RELEASE:
            return gettext("Released automatically: nobody decided in time")
    return None


@dataclass(frozen=True, slots=True)
class ReviewView:
    """One reservation as the review pages show it."""

    row: PaymentReservation
    auto_release_at: datetime | None
    now: datetime

    def money(self, cents: int) -> str:
        return money(cents, self.row.currency)

    @property
    def hold(self) -> str:
        return self.money(self.row.authorized_cents or 0)

    @property
    def waiting(self) -> bool:
        return self.row.money_state == Money.REVIEW_REQUIRED

    @property
    def meter(self) -> bool:
        return self.row.failure_code == review.METER_REVIEW

    @property
    def decision(self) -> str | None:
        return decision_of(self.row)

    @property
    def time_left(self) -> str | None:
        """Until the auto-release; None once it is due (the next sweep releases)."""
        if self.auto_release_at is None or self.auto_release_at <= self.now:
            return None
        return duration(int((self.auto_release_at - self.now).total_seconds()))


def _view(context: ManagementContext, row: PaymentReservation) -> ReviewView:
    at = review.auto_release_at(row, context.settings.payments)
    return ReviewView(row, at, context.clock())


@router.get(QUEUE_PATH)
async def queue_page(
    request: Request, user: Viewer, context: ContextDep, page_no: DbInt = 1
) -> Response:
    pager = Pager.at(page_no, PAGE_SIZE, last=MAX_PAGE)
    query = (
        select(PaymentReservation)
        .where(PaymentReservation.money_state == Money.REVIEW_REQUIRED.value)
        .order_by(PaymentReservation.created_at, PaymentReservation.id)
    )
    async with context.db.session() as session:
        rows = (await session.scalars(pager.window(query))).all()
    values = {
        "views": [_view(context, row) for row in pager.shown(rows)],
        **pager.links(rows, {}),
    }
    return page(request, "admin/reviews.html", values)


@dataclass(frozen=True, slots=True)
class Readings:
    """What the charger sent for the session: the registers, what was kept, what was not."""

    transaction: Transaction | None
    anomalies: Sequence[MeterAnomaly]


async def _readings(session: AsyncSession, row: PaymentReservation) -> Readings:
    if row.transaction_id is None:
        return Readings(None, [])
    anomalies = await session.scalars(
        select(MeterAnomaly)
        .where(MeterAnomaly.transaction_id == row.transaction_id)
        .order_by(MeterAnomaly.sampled_at, MeterAnomaly.id)
        .limit(MAX_ANOMALIES)
    )
    return Readings(await session.get(Transaction, row.transaction_id), anomalies.all())


async def _show(
    request: Request,
    context: ManagementContext,
    reservation_id: str,
    *,
    amount: str = "",
    amount_error: str | None = None,
) -> Response:
    async with context.db.session() as session:
        row = await session.get(PaymentReservation, reservation_id)
        if row is None:
            raise HTTPException(404)
        readings = await _readings(session, row)
    options = review.alternatives(
        row,
        readings.transaction,
        settings=context.settings.payments,
        max_power_w=context.settings.ocpp.max_charger_power_w,
    )
    values: dict[str, Any] = {
        "view": _view(context, row),
        "readings": readings,
        "alternatives": options,
        "amount_text": amount_text,
        "thousandths": thousandths,
        "prices": prices_of(tariff_of(row)),
        "action": f"{QUEUE_PATH}/{path_part(row.id)}",
        "amount": amount,
        "amount_error": amount_error,
        "release_after_hours": context.settings.payments.review_release_after_hours,
    }
    return page(request, "admin/review.html", values, status_code=400 if amount_error else 200)


@router.get(QUEUE_PATH + "/{reservation_id}")
async def review_page(
    request: Request, user: Viewer, context: ContextDep, reservation_id: ReservationId
) -> Response:
    return await _show(request, context, reservation_id)


def amount_text(cents: int) -> str:
    """450 cents → ``"4.50"``: what the amount field takes back."""
    return str(money_value(cents))


def parse_amount(value: str) -> int | None:
    """``"4.50"`` (or ``"4,50"``) → 450 cents; None unless above zero with at most two decimals."""
    if "." not in value:
        value = value.replace(",", ".", 1)
    try:
        cents = parse_money(value, scale=100, name="amount")
    except TariffError:
        return None
    return cents if cents > 0 else None


_AMOUNT_REFUSALS = frozenset({"AmountAboveHold", "AmountNotPositive"})


@router.post(QUEUE_PATH + "/{reservation_id}")
async def decide(
    request: Request, user: Admin, context: ContextDep, reservation_id: ReservationId
) -> Response:
    """Capture the amount given, or release: through the server, which takes it once."""
    form = await request.form()
    action, typed = text(form, "action"), text(form, "amount")
    back = f"{QUEUE_PATH}/{path_part(reservation_id)}"
    cents = parse_amount(typed) if action == "capture" else None
    if action == "capture" and cents is None:
        problem = gettext("An amount above zero with at most two decimals, e.g. 4.50.")
        return await _show(request, context, reservation_id, amount=typed, amount_error=problem)
    if action not in ("capture", "release"):
        return redirect(request, back, gettext("Choose Capture or Release."), ok=False)
    outcome = await admin_api.decide_review(context, reservation_id, action, cents, user.name)
    if outcome.status in _AMOUNT_REFUSALS:
        return await _show(
            request, context, reservation_id, amount=typed, amount_error=outcome.message
        )
    return redirect(request, back, outcome.message, ok=outcome.ok)
