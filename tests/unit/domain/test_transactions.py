"""Transactions: billable energy, review reasons, replays and search, on a real database."""

from datetime import timedelta

import pytest

from builders import NOW, add_charge_point
from ocpp_core.db.models import Transaction
from ocpp_core.db.session import Database
from ocpp_core.domain import transactions
from ocpp_core.domain.transactions import (
    StartSource,
    TransactionFilter,
    TransactionStart,
    TransactionStop,
)

CP = "CP-TX-1"
OTHER_CP = "CP-TX-2"
MAX_POWER_W = 22_000
HOUR = timedelta(hours=1)


@pytest.fixture
async def db(db: Database) -> Database:
    await add_charge_point(db, CP)
    await add_charge_point(db, OTHER_CP)
    return db


def begin(
    *,
    meter_start_wh: int | None = 1000,
    charge_point_id: str = CP,
    connector_id: int = 1,
    tag: str = "DRIVER",
    started_at_offset: timedelta = timedelta(0),
) -> TransactionStart:
    return TransactionStart(
        charge_point_id, connector_id, tag, NOW + started_at_offset, meter_start_wh
    )


async def start(db: Database, start: TransactionStart, *, result: str = "Accepted") -> int:
    async with db.session() as session:
        return (await transactions.start(session, start, result=result)).id


async def stop(
    db: Database,
    transaction_id: int,
    meter_stop_wh: int,
    *,
    after: timedelta = HOUR,
    samples: tuple[tuple[int, timedelta], ...] = (),
) -> None:
    async with db.session() as session:
        row = await transactions.find_open(session, CP, transaction_id)
        assert row is not None
        for energy_wh, offset in samples:
            transactions.record_sample(row, energy_wh=energy_wh, at=row.start_at + offset)
        end = TransactionStop(
            CP, transaction_id, "DRIVER", row.start_at + after, meter_stop_wh, "EVDisconnected"
        )
        transactions.stop(row, end, max_power_w=MAX_POWER_W, lowest_jump_wh=None)


def settle(
    row: Transaction, register_wh: int, after: timedelta, context: str | None = None
) -> None:
    transactions.settle_start(
        row,
        register_wh=register_wh,
        at=row.start_at + after,
        context=context,
        max_power_w=MAX_POWER_W,
    )


async def settled(
    db: Database, meter_start_wh: int | None, *registers: tuple[int, timedelta, str | None]
) -> Transaction:
    """A transaction started with this register, then given these first registers."""
    tx = await start(db, begin(meter_start_wh=meter_start_wh))
    async with db.session() as session:
        row = await transactions.find_open(session, CP, tx)
        assert row is not None
        for register_wh, after, context in registers:
            settle(row, register_wh, after, context)
    return await load(db, tx)


async def load(db: Database, transaction_id: int) -> Transaction:
    async with db.session() as session:
        row = await transactions.get(session, transaction_id)
    assert row is not None
    return row


async def test_energy_is_the_difference_of_the_registers(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=1000))
    await stop(db, tx, 8500, samples=((3000, HOUR / 4), (6000, HOUR / 2)))

    row = await load(db, tx)
    assert row.energy_wh == 7500
    assert row.review_reason is None
    assert (row.meter_start_wh, row.meter_stop_wh) == (1000, 8500)
    assert (row.stop_tag, row.stop_reason, row.stop_at) == ("DRIVER", "EVDisconnected", NOW + HOUR)
    assert (row.last_meter_wh, row.last_meter_at) == (6000, NOW + HOUR / 2)


async def test_registers_beyond_32_bits_are_kept_exactly(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=5_000_000_000))
    await stop(db, tx, 5_000_010_000)

    row = await load(db, tx)
    assert (row.meter_start_wh, row.energy_wh) == (5_000_000_000, 10_000)


async def test_a_session_without_energy_bills_zero(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=1000))
    await stop(db, tx, 1000)

    row = await load(db, tx)
    assert (row.energy_wh, row.review_reason) == (0, None)


async def test_a_negative_start_register_is_kept_for_review(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=-5))
    await stop(db, tx, 2000)

    row = await load(db, tx)
    assert row.review_reason == "negative start register"
    assert row.energy_wh is None
    assert row.meter_stop_wh == 2000  # what the charger said is still kept


async def test_a_stop_below_the_sampled_register_is_kept_for_review(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=1000))
    await stop(db, tx, 4000, samples=((5000, HOUR / 2),))

    row = await load(db, tx)
    assert row.review_reason == "stop register below sampled 5000 Wh"
    assert row.energy_wh is None


async def test_a_stop_below_the_start_register_is_kept_for_review(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=1000))
    await stop(db, tx, 900)

    row = await load(db, tx)
    assert (row.review_reason, row.energy_wh) == ("stop register decreasing", None)


async def test_a_negative_stop_register_is_kept_for_review(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=0))
    await stop(db, tx, -1)

    row = await load(db, tx)
    assert (row.review_reason, row.energy_wh) == ("stop register negative", None)


async def test_a_jump_beyond_the_fastest_charger_is_kept_for_review(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=0))
    await stop(db, tx, 30_000)  # 30 kWh in one hour from a 22 kW charger

    row = await load(db, tx)
    assert (row.review_reason, row.energy_wh) == ("stop register jump", None)


async def test_full_power_for_the_whole_session_is_billed(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=0))
    await stop(db, tx, MAX_POWER_W)  # exactly the maximum for one hour

    row = await load(db, tx)
    assert (row.review_reason, row.energy_wh) == (None, MAX_POWER_W)


async def test_a_late_sample_does_not_replace_a_newer_one(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=0))
    async with db.session() as session:
        row = await transactions.find_open(session, CP, tx)
        assert row is not None
        transactions.record_sample(row, energy_wh=5000, at=NOW + HOUR / 2)
        transactions.record_sample(row, energy_wh=2000, at=NOW + HOUR / 4)

    row = await load(db, tx)
    assert (row.last_meter_wh, row.last_meter_at) == (5000, NOW + HOUR / 2)


@pytest.mark.parametrize(
    ("meter_start_wh", "registers", "expected"),
    [
        # None at the start: the first register stands in, whatever its context.
        (None, [(200_000, HOUR / 60, "Transaction.Begin")], (200_000, StartSource.FIRST_REGISTER)),
        (
            None,
            [(200_000, HOUR, None), (300_000, 2 * HOUR, None)],
            (200_000, StartSource.FIRST_REGISTER),
        ),
        # A 0 the first register cannot follow from was firmware's placeholder.
        (0, [(5_000_000, HOUR / 60, None)], (5_000_000, StartSource.REPLACED_ZERO)),
        # A 0 it can follow from was a new meter; later registers change nothing.
        (0, [(3_000, HOUR / 4, None), (5_000_000, HOUR / 2, None)], (0, StartSource.REPORTED)),
        (1_000, [(5_000_000, HOUR / 60, None)], (1_000, StartSource.REPORTED)),
        # Neither an end register nor an impossible one stands in for the start.
        (None, [(200_000, HOUR, "Transaction.End")], (-1, StartSource.MISSING)),
        (0, [(5_000_000, HOUR, "Transaction.End")], (0, StartSource.REPORTED_ZERO)),
        (None, [(-5, HOUR, None)], (-1, StartSource.MISSING)),
    ],
    ids=[
        "missing-begin",
        "missing-first",
        "zero-lifetime",
        "zero-new-meter",
        "reported",
        "missing-end",
        "zero-end",
        "missing-negative",
    ],
)
async def test_the_first_register_settles_an_open_start_register(
    db: Database,
    meter_start_wh: int | None,
    registers: list[tuple[int, timedelta, str | None]],
    expected: tuple[int, str],
) -> None:
    row = await settled(db, meter_start_wh, *registers)
    assert (row.meter_start_wh, row.meter_start_source) == expected


async def test_a_start_register_taken_from_the_first_register_bills_from_there(
    db: Database,
) -> None:
    row = await settled(db, 0, (5_000_000, HOUR / 60, "Transaction.Begin"))
    assert transactions.start_register(row) == 5_000_000
    assert transactions.energy_so_far(row, 5_004_000) == 4_000
    await stop(db, row.id, 5_010_000)

    row = await load(db, row.id)
    assert (row.energy_wh, row.review_reason) == (10_000, None)


@pytest.mark.parametrize(("stop_wh", "expected"), [(2_000, 2_000), (90_000, None)])
async def test_a_stopped_transaction_delivered_what_its_stop_settled(
    db: Database, stop_wh: int, expected: int | None
) -> None:
    tx = await start(db, begin(meter_start_wh=0))  # no sample came to confirm the 0
    await stop(db, tx, stop_wh)

    row = await load(db, tx)
    assert transactions.energy_so_far(row, live_wh=5_000_000) == expected  # None: in review


async def test_a_transaction_without_any_register_is_kept_for_review(db: Database) -> None:
    tx = await start(db, begin(meter_start_wh=None))
    async with db.session() as session:
        row = await transactions.find_open(session, CP, tx)
        assert row is not None
        assert transactions.start_register(row) is None
        assert transactions.energy_so_far(row, 5_000) is None
        end = TransactionStop(CP, tx, None, NOW + HOUR, None, "EVDisconnected")
        transactions.stop(row, end, max_power_w=MAX_POWER_W, lowest_jump_wh=None)

    row = await load(db, tx)
    assert (row.meter_stop_wh, row.energy_wh, row.review_reason) == (
        None,
        None,
        "no start register",
    )


@pytest.mark.parametrize(
    ("reported", "samples", "expected"),
    [(9_000, ((5_000, HOUR / 2),), 9_000), (None, ((5_000, HOUR / 2),), 5_000), (None, (), 1_000)],
    ids=["reported", "newest-sample", "start"],
)
async def test_the_stop_register_is_the_reported_one_else_the_newest_seen(
    db: Database,
    reported: int | None,
    samples: tuple[tuple[int, timedelta], ...],
    expected: int,
) -> None:
    tx = await start(db, begin(meter_start_wh=1_000))
    async with db.session() as session:
        row = await transactions.find_open(session, CP, tx)
        assert row is not None
        for energy_wh, offset in samples:
            transactions.record_sample(row, energy_wh=energy_wh, at=row.start_at + offset)
        assert transactions.stop_register(row, reported) == expected


async def test_every_start_is_recorded_with_its_result(db: Database) -> None:
    tx = await start(db, begin(tag="UNKNOWN"), result="Invalid")

    row = await load(db, tx)
    assert (row.start_tag, row.start_result, row.stop_at) == ("UNKNOWN", "Invalid", None)


async def test_a_replayed_start_finds_a_transaction_whose_first_register_replaced_its_0(
    db: Database,
) -> None:
    tx = await start(db, begin(meter_start_wh=0))
    async with db.session() as session:
        row = await transactions.find_open(session, CP, tx)
        assert row is not None
        settle(row, 5_000_000, HOUR / 60)
        replay = await transactions.find_replay(session, begin(meter_start_wh=0))
    assert replay is not None
    assert (replay.id, replay.meter_start_wh) == (tx, 5_000_000)


async def test_a_replayed_start_finds_the_first_transaction(db: Database) -> None:
    first = begin(meter_start_wh=1234)
    tx = await start(db, first)

    async with db.session() as session:
        replay = await transactions.find_replay(session, begin(meter_start_wh=1234))
    assert replay is not None
    assert replay.id == tx


@pytest.mark.parametrize(
    "different",
    [
        begin(meter_start_wh=1235),
        begin(connector_id=2),
        begin(tag="OTHER"),
        begin(charge_point_id=OTHER_CP),
        begin(started_at_offset=timedelta(milliseconds=1)),
    ],
)
async def test_a_different_start_is_not_a_replay(db: Database, different: TransactionStart) -> None:
    await start(db, begin())

    async with db.session() as session:
        assert await transactions.find_replay(session, different) is None


async def test_find_open_needs_the_right_charge_point_and_an_open_transaction(
    db: Database,
) -> None:
    tx = await start(db, begin())
    async with db.session() as session:
        assert await transactions.find_open(session, OTHER_CP, tx) is None
        assert await transactions.find_open(session, CP, tx + 1000) is None
    await stop(db, tx, 2000)

    async with db.session() as session:
        assert await transactions.find_open(session, CP, tx) is None


async def test_the_newest_running_transaction_on_a_connector(db: Database) -> None:
    older = await start(db, begin(connector_id=1))
    newer = await start(db, begin(connector_id=1, started_at_offset=HOUR))
    await start(db, begin(connector_id=1, started_at_offset=2 * HOUR), result="Blocked")
    await start(db, begin(connector_id=2, started_at_offset=2 * HOUR))

    async with db.session() as session:
        latest = await transactions.running_on(session, CP, 1)
        assert latest is not None
        assert latest.id == newer
        assert await transactions.running_on(session, CP, 3) is None
    await stop(db, newer, 2000)

    async with db.session() as session:
        latest = await transactions.running_on(session, CP, 1)
        assert latest is not None
        assert latest.id == older


@pytest.fixture
async def history(db: Database) -> dict[str, int]:
    """Four transactions an hour apart: two chargers, two connectors, two tags."""
    return {
        "a": await start(db, begin(tag="ALICE", connector_id=1)),
        "b": await start(db, begin(tag="BOB", connector_id=2, started_at_offset=HOUR)),
        "c": await start(db, begin(tag="ALICE", connector_id=2, started_at_offset=2 * HOUR)),
        "d": await start(
            db, begin(tag="BOB", charge_point_id=OTHER_CP, started_at_offset=3 * HOUR)
        ),
    }


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (TransactionFilter(), "dcba"),
        (TransactionFilter(charge_point_id=CP), "cba"),
        (TransactionFilter(charge_point_id=OTHER_CP), "d"),
        (TransactionFilter(charge_point_id="NO-SUCH-CP"), ""),
        (TransactionFilter(charge_point_id=CP, connector_id=2), "cb"),
        (TransactionFilter(tag="ALICE"), "ca"),
        (TransactionFilter(since=NOW + HOUR), "dcb"),  # since is inclusive
        (TransactionFilter(until=NOW + HOUR), "a"),  # until is exclusive
        (TransactionFilter(since=NOW + HOUR, until=NOW + 3 * HOUR), "cb"),
        (TransactionFilter(tag="BOB", charge_point_id=CP), "b"),
        (TransactionFilter(limit=2), "dc"),
    ],
)
async def test_search_filters(
    db: Database, history: dict[str, int], where: TransactionFilter, expected: str
) -> None:
    async with db.session() as session:
        found = await transactions.search(session, where)

    assert [row.id for row in found] == [history[key] for key in expected]
