"""The dashboard's SQL against a real database: totals of each state, pages and filters."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text, update

from builders import NOW
from ocpp_core.db.models import ChargePoint, Connector, PaymentReservation, Transaction
from ocpp_core.db.session import Database
from ocpp_core.domain import chargepoints
from ocpp_core.domain.chargepoints import NewChargePoint
from ocpp_core.management.fleet import TileQuery, Totals, page, tiles_statement, totals
from ocpp_core.payments.reservations import unpaid_cutoff

CUTOFF = unpaid_cutoff(NOW, 15)


async def add_stations(db: Database, *ids: str, online: tuple[str, ...] = ()) -> None:
    async with db.session() as session:
        for cp_id in ids:
            await chargepoints.add(session, NewChargePoint(cp_id, no_password=True), now=NOW)
        await session.flush()
        await session.execute(
            update(ChargePoint).where(ChargePoint.id.in_(online)).values(online_node="node/1")
        )


def connector(cp_id: str, number: int, status: str | None) -> Connector:
    return Connector(charge_point_id=cp_id, connector_id=number, status=status)


def reservation(number: int, status: str, made: datetime, **values: object) -> PaymentReservation:
    return PaymentReservation(
        id=f"r-{number}",
        charge_point_id="CP1",
        connector_id=number,
        charge_tag_id="WEB",
        ocpp_id_tag=f"WEB-{number}",
        status=status,
        price_kwh_millicents=30_000,
        session_fee_cents=0,
        usage_fee_minute_millicents=0,
        usage_grace_minutes=0,
        usage_max_minutes=0,
        usage_after_charging=False,
        max_energy_wh=50_000,
        currency="eur",
        hold_cents=2_000,
        created_at=made,
        updated_at=made,
        **values,
    )


def finished(number: int, *, start_at: datetime, energy_wh: int) -> Transaction:
    return Transaction(
        id=number,
        charge_point_id="CP2",
        connector_id=1,
        start_tag="TAG",
        start_at=start_at,
        meter_start_wh=0,
        start_result="Accepted",
        stop_at=start_at + timedelta(hours=1),
        energy_wh=energy_wh,
    )


@pytest.fixture
async def fleet(db: Database) -> Database:
    """CP1 online with one connector in each state, CP2 offline, CP3 online without connectors."""
    await add_stations(db, "CP1", "CP2", "CP3", online=("CP1", "CP3"))
    async with db.session() as session:
        session.add_all(
            [
                connector("CP1", 1, "Charging"),
                connector("CP1", 2, "Faulted"),
                connector("CP1", 3, "Available"),  # held by a paid reservation: Reserved
                connector("CP1", 4, "Reserved"),
                connector("CP1", 5, "Available"),  # unpaid past its hold: keeps nobody off
                connector("CP1", 6, "SuspendedEV"),
                connector("CP2", 1, "Faulted"),  # offline wins
                finished(1, start_at=NOW - timedelta(hours=3), energy_wh=1_500),
                finished(2, start_at=NOW - timedelta(hours=2), energy_wh=2_500),
                finished(3, start_at=NOW - timedelta(days=1), energy_wh=9_999),  # yesterday
            ]
        )
        await session.flush()
        session.add_all(
            [
                reservation(3, "Authorized", NOW - timedelta(minutes=1)),
                reservation(5, "PendingPayment", NOW - timedelta(minutes=30)),
                reservation(
                    9, "Completed", NOW - timedelta(hours=3), transaction_id=1, captured_cents=450
                ),
            ]
        )
    return db


async def test_totals_count_each_state_and_today(fleet: Database) -> None:
    async with fleet.reading() as session:
        counted = await totals(session, CUTOFF, NOW)

    assert counted == Totals(
        stations=3,
        online=2,
        charging=2,
        faulted=1,
        reserved=2,
        energy_wh=4_000,
        revenue_cents=(("eur", 450),),
    )
    assert (counted.offline, counted.energy_kwh, counted.revenue) == (1, "4.0", ("4.50 EUR",))


async def keys(db: Database, query: TileQuery, size: int = 48) -> list[tuple[str, int]]:
    async with db.reading() as session:
        snapshot, _ = await page(session, CUTOFF, query, size)
    return [row.key for row in snapshot.rows]


async def test_each_filter_shows_its_tiles(fleet: Database) -> None:
    assert await keys(fleet, TileQuery("offline")) == [("CP2", 1)]
    assert await keys(fleet, TileQuery("faulted")) == [("CP1", 2)]
    assert await keys(fleet, TileQuery("charging")) == [("CP1", 1), ("CP1", 6)]
    assert await keys(fleet, TileQuery("reserved")) == [("CP1", 3), ("CP1", 4)]
    assert await keys(fleet, TileQuery()) == [
        *(("CP1", n) for n in range(1, 7)),
        ("CP2", 1),
        ("CP3", 0),  # a station that reported no connector has a tile of its own
    ]


async def test_pages_follow_each_other_by_key(fleet: Database) -> None:
    seen: list[tuple[str, int]] = []
    after: tuple[str, int] | None = None
    async with fleet.reading() as session:
        while True:
            snapshot, after = await page(session, CUTOFF, TileQuery(after=after), 3)
            seen += [row.key for row in snapshot.rows]
            assert len(snapshot.rows) <= 3
            if after is None:
                break

    assert seen == await keys(fleet, TileQuery())


async def test_a_page_carries_its_sessions_reservations_and_connector_counts(
    fleet: Database,
) -> None:
    async with fleet.reading() as session:
        snapshot, after = await page(session, CUTOFF, TileQuery("reserved"))

    assert after is None
    assert snapshot.held == {("CP1", 3)}
    assert snapshot.connector_counts == {"CP1": 6}


async def test_search_matches_id_or_name_whatever_the_case(fleet: Database) -> None:
    async with fleet.session() as session:
        await session.execute(
            update(ChargePoint).where(ChargePoint.id == "CP3").values(name="Yard")
        )

    assert await keys(fleet, TileQuery(search="yar")) == [("CP3", 0)]
    assert await keys(fleet, TileQuery(search="cp2")) == [("CP2", 1)]
    assert await keys(fleet, TileQuery(search="%")) == []  # a wildcard is a character


@pytest.mark.postgresql
async def test_a_status_page_is_read_from_the_status_index(fleet: Database) -> None:
    statement = tiles_statement(CUTOFF, TileQuery("faulted", after=("CP1", 0))).limit(49)
    async with fleet.reading() as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        sql = statement.compile(session.bind, compile_kwargs={"literal_binds": True})
        plan = "\n".join(line for (line,) in await session.execute(text(f"EXPLAIN {sql}")))

    assert "ix_connectors_status_key" in plan
    assert "Sort" not in plan  # the index gives the page's order: the page stops at its limit
