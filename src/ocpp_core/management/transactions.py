"""``/Home/Transactions``: filtered transactions with energy and cost.

The cost is the linked payment reservation's: what was captured, or what is
due while the capture is pending; a free reservation costs nothing. A
transaction with no reservation (a card at the charger) has no cost here.
The exports (:mod:`ocpp_core.management.transaction_exports`) take the same filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import ChargeTag, PaymentReservation, Transaction
from ocpp_core.domain import transactions
from ocpp_core.domain.transactions import TransactionFilter
from ocpp_core.management.admin_forms import day_after, day_start, page, parse_days
from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep
from ocpp_core.management.i18n import gettext
from ocpp_core.management.listing import Keyset, PageKey, SearchText
from ocpp_core.management.numbers import money, thousandths
from ocpp_core.params import parse_db_int

router = APIRouter(include_in_schema=False)

PAGE_PATH = "/Home/Transactions"
PAGE_SIZE = 50
KEYSET = Keyset((Transaction.start_at, Transaction.id), PAGE_SIZE, descending=True)


@dataclass
class Filters:
    """The query as typed, and the problems found in it."""

    cp: str = ""
    conn: str = ""
    tag: str = ""
    since: str = ""
    until: str = ""
    errors: dict[str, str] | None = None

    def to_filter(self, limit: int) -> TransactionFilter:
        errors: dict[str, str] = {}
        connector = parse_db_int(self.conn) if self.conn else None
        if self.conn and connector is None:
            errors["conn"] = gettext("A connector number, e.g. 1.")
        dates = parse_days({"since": self.since, "until": self.until}, errors)
        since, until = dates.get("since"), dates.get("until")
        if since and until and until < since:
            errors["until"] = gettext("The end is before the start.")
        self.errors = errors
        return TransactionFilter(
            charge_point_id=self.cp or None,
            connector_id=connector,
            tag=self.tag or None,
            since=day_start(since) if since else None,
            until=day_after(until) if until else None,  # the whole last day
            limit=limit,
        )

    def query(self) -> dict[str, str]:
        typed = {"cp": self.cp, "conn": self.conn, "tag": self.tag}
        return {**typed, "since": self.since, "until": self.until}


def _typed_filters(
    cp: SearchText = "",
    conn: SearchText = "",
    tag: SearchText = "",
    since: SearchText = "",
    until: SearchText = "",
) -> Filters:
    """The query of the page and of its exports, as typed."""
    return Filters(cp.strip(), conn.strip(), tag.strip(), since.strip(), until.strip())


FiltersDep = Annotated[Filters, Depends(_typed_filters)]


@dataclass(frozen=True, slots=True)
class Line:
    transaction: Transaction
    start_tag_name: str | None
    stop_tag_name: str | None
    reservation: PaymentReservation | None

    @property
    def energy_kwh(self) -> Decimal | None:
        wh = self.transaction.energy_wh
        return None if wh is None else Decimal(wh) / 1000

    @property
    def energy_text(self) -> str | None:
        wh = self.transaction.energy_wh
        return None if wh is None else thousandths(wh, 3)

    @property
    def cost_cents(self) -> int | None:
        row = self.reservation
        if row is None:
            return None
        if row.free:
            return 0
        if row.captured_cents is not None:
            return row.captured_cents
        return row.amount_due_cents

    @property
    def currency(self) -> str | None:
        return self.reservation.currency if self.reservation else None

    @property
    def cost_text(self) -> str:
        cents = self.cost_cents
        if cents is None or self.currency is None:
            return ""
        text = money(cents, self.currency)
        return f"{text} (free)" if self.reservation and self.reservation.free else text


async def _described(session: AsyncSession, found: Sequence[Transaction]) -> list[Line]:
    """The transactions with their tags' names and their reservations."""
    ids = [row.id for row in found]
    tags = {row.start_tag for row in found} | {row.stop_tag for row in found if row.stop_tag}
    names: dict[str, str | None] = {}
    if tags:
        found_names = await session.execute(
            select(ChargeTag.id, ChargeTag.name).where(ChargeTag.id.in_(tags))
        )
        names = dict(found_names.all())
    reservations: dict[int, PaymentReservation] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for reservation in await session.scalars(
            select(PaymentReservation).where(PaymentReservation.transaction_id.in_(chunk))
        ):
            assert reservation.transaction_id is not None
            reservations[reservation.transaction_id] = reservation
    return [
        Line(
            row,
            names.get(row.start_tag),
            names.get(row.stop_tag) if row.stop_tag else None,
            reservations.get(row.id),
        )
        for row in found
    ]


@router.get(PAGE_PATH)
async def transactions_page(
    request: Request,
    user: Viewer,
    context: ContextDep,
    filters: FiltersDep,
    before: PageKey = "",
    after: PageKey = "",
) -> Response:
    """A page of the transactions that match, newest first."""
    where = filters.to_filter(PAGE_SIZE)
    at = KEYSET.at(before, after)
    found, lines = None, []
    if not filters.errors:
        async with context.db.reading() as session:
            found = await KEYSET.page(session, transactions.matching(where), **at)
            lines = await _described(session, [row.Transaction for row in found.rows])
    total_wh = sum(line.transaction.energy_wh or 0 for line in lines)
    values = {
        "filters": filters,
        "errors": filters.errors or {},
        "lines": lines,
        "total_kwh": thousandths(total_wh, 3),
        "export_query": filters.query(),
        **KEYSET.links(found, filters.query()),
    }
    return page(
        request, "admin/transactions.html", values, status_code=400 if filters.errors else 200
    )
