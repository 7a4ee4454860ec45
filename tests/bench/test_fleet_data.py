"""``python -m bench.fleet``: the fleet data set loads whole, and the app runs on it.

At a tiny scale, on the suite's database (SQLite, or PostgreSQL when the suite
runs there): every table holds the rows the scale asks for, the rows keep the
rules the server relies on, and every page the fleet bench times answers 200 to
a logged-in operator, with the server running beside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import func, select

from bench import fleet
from bench.fleet_pages import pages
from bench.fleet_rows import Counts, Fleet
from fleet_harness import FLEET_SCALE, FleetSite
from ocpp_core.clock import utc_now
from ocpp_core.db.models import Connector, PaymentReservation, Transaction
from ocpp_core.db.session import Database

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
TABLES = {
    "charge_points": "charge_points",
    "connectors": "connectors",
    "charge_tags": "tags",
    "transactions": "transactions",
    "payment_reservations": "reservations",
    "message_log": "messages",
}


async def test_every_table_holds_what_the_scale_asks_for(database_url: str) -> None:
    written = await fleet.build(database_url, FLEET_SCALE, now=NOW, quiet=True)

    expected = {table: asdict(Counts.at(FLEET_SCALE))[name] for table, name in TABLES.items()}
    assert written == expected
    assert await fleet.counts(database_url) == expected


async def test_the_rows_keep_the_rules_the_server_relies_on(fleet_url: str) -> None:
    db = Database(fleet_url)
    try:
        async with db.session() as session:
            open_tx = select(Transaction.charge_point_id, Transaction.connector_id).where(
                Transaction.stop_at.is_(None)
            )
            running = {(cp, number) for cp, number in await session.execute(open_tx)}
            charging = select(Connector.charge_point_id, Connector.connector_id).where(
                Connector.status.in_(("Charging", "SuspendedEV"))
            )
            # Every connector charging has its one open transaction, and only those have one.
            assert {(cp, number) for cp, number in await session.execute(charging)} == running
            assert len(running) == await session.scalar(
                select(func.count()).select_from(open_tx.subquery())
            )
            over_hold = select(func.count()).where(
                PaymentReservation.captured_cents > PaymentReservation.authorized_cents
            )
            assert await session.scalar(over_hold) == 0
            captured = select(func.count()).where(PaymentReservation.money_state == "Captured")
            assert await session.scalar(captured)
            history = select(Transaction).order_by(
                Transaction.charge_point_id, Transaction.connector_id, Transaction.start_at
            )
            assert_one_after_another((await session.scalars(history)).all())
    finally:
        await db.close()


def assert_one_after_another(history: Sequence[Transaction]) -> None:
    """On each connector a transaction starts after the last stopped, from its register on."""
    for before, after in itertools.pairwise(history):
        if (before.charge_point_id, before.connector_id) != (
            after.charge_point_id,
            after.connector_id,
        ):
            continue
        assert before.stop_at is not None, (before.id, after.id)
        assert before.stop_at <= after.start_at, (before.id, after.id)
        assert before.meter_stop_wh is not None
        assert before.meter_stop_wh <= after.meter_start_wh, (before.id, after.id)


async def test_every_page_of_the_fleet_bench_answers(fleet_site: FleetSite) -> None:
    for page in pages(utc_now()):
        response = await fleet_site.operator.get(page.path)
        assert response.status_code == 200, (page.name, response.text[-500:])
        assert response.content, page.name


def test_the_same_seed_and_moment_give_the_same_rows() -> None:
    def every_row(seed: int) -> list[list[tuple[object, ...]]]:
        made = Fleet(Counts.at(0.002), NOW, seed)
        return [list(rows(made)) for _, _, rows in fleet.TABLES]

    assert every_row(12) == every_row(12)
    assert every_row(12) != every_row(13)
