"""The lists' queries use their indexes, on a data set big enough that a planner would rather.

Each statement is the one the page runs (its module's query, ordered and limited by its
keyset), explained by the database after ANALYZE: a scan of the whole table where an
index serves would read a fleet's rows for every page view.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from builders import NOW
from ocpp_core.db.models import ChargePoint, ChargeTag, Connector, PaymentReservation, Transaction
from ocpp_core.db.session import Database
from ocpp_core.domain import transactions
from ocpp_core.domain.transactions import TransactionFilter
from ocpp_core.management import chargepoints, connectors, payments_admin, pickers, tags
from ocpp_core.management import transactions as transactions_page
from ocpp_core.management.listing import AnySelect, Keyset

STATIONS, TAGS, SESSIONS = 20_000, 5_000, 20_000


async def _fleet(db: Database) -> None:
    async with db.session() as session:
        await _insert(session, ChargePoint, [_station(n) for n in range(STATIONS)])
        await _insert(
            session, ChargeTag, [{"id": f"TAG{n:05d}", "created_at": NOW} for n in range(TAGS)]
        )
        await _insert(
            session,
            Connector,
            [
                {"charge_point_id": f"CP{n:05d}", "connector_id": c}
                for n in range(STATIONS)
                for c in (1, 2)
            ],
        )
        await _insert(session, Transaction, [_transaction(n) for n in range(SESSIONS)])
        await _insert(session, PaymentReservation, [_reservation(n) for n in range(SESSIONS)])
    async with db.session() as session:
        await session.execute(text("ANALYZE"))


async def _insert(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 2_000):
        await session.execute(insert(model), rows[start : start + 2_000])


def _station(number: int) -> dict[str, Any]:
    return {"id": f"CP{number:05d}", "name": f"Site {number % 500}", "created_at": NOW}


def _transaction(number: int) -> dict[str, Any]:
    return {
        "charge_point_id": f"CP{number % STATIONS:05d}",
        "connector_id": 1,
        "start_tag": f"TAG{number % TAGS:05d}",
        "start_at": NOW - timedelta(minutes=number),
        "meter_start_wh": 0,
        "start_result": "Accepted",
    }


def _reservation(number: int) -> dict[str, Any]:
    made = NOW - timedelta(minutes=number)
    return {
        "id": f"r-{number:06d}",
        "charge_point_id": f"CP{number % STATIONS:05d}",
        "connector_id": 1,
        "charge_tag_id": "WEB",
        "ocpp_id_tag": f"P{number:06d}",
        "status": "Completed",
        "price_kwh_millicents": 0,
        "session_fee_cents": 0,
        "usage_fee_minute_millicents": 0,
        "usage_grace_minutes": 0,
        "usage_max_minutes": 0,
        "usage_after_charging": False,
        "max_energy_wh": 0,
        "currency": "eur",
        "hold_cents": 500,
        "created_at": made,
        "updated_at": made,
    }


async def _plan(session: AsyncSession, statement: AnySelect) -> str:
    dialect = session.get_bind().dialect
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN" if dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    rows = (await session.execute(text(f"{explain} {sql}"))).all()
    return "\n".join(str(row[-1]) for row in rows)


def _page(keyset: Keyset, query: AnySelect, *, before: tuple[Any, ...] | None = None) -> AnySelect:
    """The statement of a page as ``keyset`` runs it (the first page, or the one ``before``)."""
    return keyset.statement(query, before=before)


def _payments(**filters: str) -> AnySelect:
    return payments_admin.listed({"cp": "", "status": "", "since": "", "until": "", **filters}, {})


def _statements() -> dict[str, tuple[AnySelect, set[str]]]:
    """What each page asks, and the indexes that may serve it (one of them must)."""
    deep = (NOW - timedelta(days=10), "r-014400")
    return {
        "charge points by id or name": (
            _page(chargepoints.KEYSET, chargepoints.listed("cp0123")),
            {"ix_charge_points_id_folded", "ix_charge_points_name_folded"},
        ),
        "tags by id or name": (
            _page(tags.KEYSET, tags.listed("tag012")),
            {"ix_charge_tags_id_folded", "ix_charge_tags_name_folded"},
        ),
        "picker": (pickers.statement(ChargePoint.id, "cp0123"), {"ix_charge_points_id_folded"}),
        "connectors of charge points by id": (
            _page(connectors.KEYSET, connectors.listed("cp0123")),
            {"ix_charge_points_id_folded"},
        ),
        "transactions of a tag": (
            _page(
                transactions_page.KEYSET, transactions.matching(TransactionFilter(tag="TAG00042"))
            ),
            {"ix_transactions_start_tag"},
        ),
        "transactions of a charge point": (
            _page(
                transactions_page.KEYSET,
                transactions.matching(TransactionFilter(charge_point_id="CP00042")),
            ),
            {"ix_transactions_cp_connector"},
        ),
        "transactions, newest first": (
            _page(transactions_page.KEYSET, transactions.matching(TransactionFilter())),
            {"ix_transactions_start_at"},
        ),
        "transactions, deep": (
            _page(
                transactions_page.KEYSET,
                transactions.matching(TransactionFilter()),
                before=(NOW - timedelta(days=10), 14_400),
            ),
            {"ix_transactions_start_at"},
        ),
        "payments, newest first": (
            _page(payments_admin.KEYSET, _payments()),
            {"ix_reservation_created_at"},
        ),
        "payments, deep": (
            _page(payments_admin.KEYSET, _payments(), before=deep),
            {"ix_reservation_created_at"},
        ),
        "payments of a charge point": (
            _page(payments_admin.KEYSET, _payments(cp="CP00042")),
            {"ix_reservation_cp_created"},
        ),
    }


async def _check_plans(db: Database) -> None:
    await _fleet(db)
    unserved = {}
    async with db.reading() as session:
        for name, (statement, indexes) in _statements().items():
            plan = await _plan(session, statement)
            if not any(index in plan for index in indexes):
                unserved[name] = plan
    assert unserved == {}


async def test_every_list_uses_an_index(db: Database) -> None:
    """On the suite's database: SQLite, and PostgreSQL when the suite runs on it."""
    await _check_plans(db)
