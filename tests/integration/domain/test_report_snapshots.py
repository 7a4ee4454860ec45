"""Kept figures on a real database: fresh, stale and refreshed once per cluster, missing, bounded.

A missing period's figures are computed once per cluster too, and a view waits
for them only ``first_wait``.

The figures here are a plain count the test computes, so the test sees how
often they were computed; the pages' own figures are in management/test_reports.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from builders import NOW
from ocpp_core.db.models import ReportSnapshot
from ocpp_core.db.session import Database
from ocpp_core.domain.report_figures import Codec
from ocpp_core.domain.report_snapshots import FIRST_WAIT, LEASE, PENDING, Figures, Snapshots
from ocpp_core.domain.reporting import Period

COUNT: Codec[int] = Codec("count", lambda value: value, int)
MAX_AGE = timedelta(minutes=5)
NOVEMBER = Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


class Counter:
    """Figures that say how many times they were computed; each run can be held at a gate."""

    def __init__(self) -> None:
        self.runs = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.failing = False

    async def compute(self) -> int:
        self.runs += 1
        await self.gate.wait()
        if self.failing:
            raise RuntimeError("the database went away")
        return self.runs


async def settled(*nodes: Snapshots) -> None:
    await asyncio.gather(*(task for node in nodes for task in node.refreshing))


async def test_a_fresh_snapshot_is_served_without_computing(db: Database) -> None:
    snapshots, counter = Snapshots(db, MAX_AGE), Counter()

    first = await snapshots.figures(COUNT, NOVEMBER, counter.compute, NOW)
    again = await snapshots.figures(COUNT, NOVEMBER, counter.compute, NOW + MAX_AGE / 2)

    assert first == again == Figures(1, NOW)
    assert counter.runs == 1
    assert snapshots.refreshing == ()


async def test_a_stale_snapshot_is_served_and_refreshed_once_by_one_of_two_nodes(
    db: Database,
) -> None:
    nodes, counter = (Snapshots(db, MAX_AGE), Snapshots(db, MAX_AGE)), Counter()
    await nodes[0].figures(COUNT, NOVEMBER, counter.compute, NOW)
    later = NOW + MAX_AGE
    counter.gate.clear()  # the refresh is still running while both nodes are asked

    served = await asyncio.gather(
        *(node.figures(COUNT, NOVEMBER, counter.compute, later) for node in nodes * 2)
    )
    refreshing = [task for node in nodes for task in node.refreshing]
    counter.gate.set()
    await settled(*nodes)

    assert served == [Figures(1, NOW)] * 4
    assert len(refreshing) == 1
    assert counter.runs == 2
    refreshed = await nodes[1].figures(COUNT, NOVEMBER, counter.compute, later)
    assert refreshed == Figures(2, later)


async def test_a_failed_refresh_is_logged_keeps_the_old_figures_and_is_retried_after_the_lease(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    snapshots, counter = Snapshots(db, MAX_AGE), Counter()
    await snapshots.figures(COUNT, NOVEMBER, counter.compute, NOW)
    counter.failing = True
    stale = NOW + MAX_AGE

    with caplog.at_level(logging.ERROR, "ocpp_core.domain.report_snapshots"):
        served = await snapshots.figures(COUNT, NOVEMBER, counter.compute, stale)
        await settled(snapshots)
    within_lease = await snapshots.figures(COUNT, NOVEMBER, counter.compute, stale + LEASE / 2)
    runs_within_lease = counter.runs
    counter.failing = False
    await snapshots.figures(COUNT, NOVEMBER, counter.compute, stale + LEASE)
    await settled(snapshots)

    assert served == within_lease == Figures(1, NOW)
    assert "refreshing the count figures failed" in caplog.text
    assert runs_within_lease == 2
    assert counter.runs == 3
    assert await snapshots.figures(COUNT, NOVEMBER, counter.compute, stale + LEASE) == Figures(
        3, stale + LEASE
    )


async def test_max_age_zero_computes_every_view_and_keeps_nothing(db: Database) -> None:
    snapshots, counter = Snapshots(db, timedelta(0)), Counter()

    first = await snapshots.figures(COUNT, NOVEMBER, counter.compute, NOW)
    second = await snapshots.figures(COUNT, NOVEMBER, counter.compute, NOW)

    assert (first, second) == (Figures(1, NOW), Figures(2, NOW))
    assert await _kept(db) == 0


async def test_the_table_keeps_only_the_newest_snapshots(db: Database) -> None:
    snapshots, counter = Snapshots(db, MAX_AGE, keep=3), Counter()
    periods = [
        Period(NOVEMBER.since, NOVEMBER.until, charge_point_id=f"CP{n}" * 100) for n in range(5)
    ]

    for n, period in enumerate(periods):
        await snapshots.figures(COUNT, period, counter.compute, NOW + n * timedelta(seconds=1))

    assert await _kept(db) == 3
    oldest_kept = NOW + 2 * timedelta(seconds=1)
    async with db.reading() as session:
        times = (await session.scalars(select(ReportSnapshot.computed_at))).all()
    assert sorted(times) == [
        oldest_kept,
        oldest_kept + timedelta(seconds=1),
        NOW + 4 * timedelta(seconds=1),
    ]
    assert await snapshots.figures(COUNT, periods[0], counter.compute, NOW) == Figures(6, NOW)


async def test_figures_stored_by_another_release_are_computed_again(db: Database) -> None:
    snapshots, counter = Snapshots(db, MAX_AGE), Counter()
    await snapshots.figures(COUNT, NOVEMBER, counter.compute, NOW)
    async with db.session() as session:
        row = (await session.scalars(select(ReportSnapshot))).one()
        row.data = '{"an": "old format"}'

    assert await snapshots.figures(COUNT, NOVEMBER, counter.compute, NOW) == Figures(2, NOW)


async def _kept(db: Database) -> int:
    async with db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(ReportSnapshot)) or 0)


async def test_a_first_computation_longer_than_the_wait_is_left_to_finish_once_for_all_nodes(
    db: Database,
) -> None:
    nodes, counter = (Snapshots(db, MAX_AGE), Snapshots(db, MAX_AGE)), Counter()
    counter.gate.clear()  # the period's first sums take longer than a view waits

    views = await asyncio.gather(
        *(node.figures(COUNT, NOVEMBER, counter.compute, NOW) for node in nodes * 2)
    )
    computing = [task for node in nodes for task in node.refreshing]
    counter.gate.set()
    await settled(*nodes)

    assert views == [None] * 4  # each answered within its wait, none with figures
    assert len(computing) == 1
    assert counter.runs == 1
    for node in nodes:
        assert await node.figures(COUNT, NOVEMBER, counter.compute, NOW) == Figures(1, NOW)


async def test_a_first_computation_within_the_wait_is_shown_by_the_view_that_started_it(
    db: Database,
) -> None:
    # Patient enough for a loaded test machine: what is shown is the computation's own
    # result, once it ended within the wait, not how long the default wait is.
    snapshots, counter = Snapshots(db, MAX_AGE, first_wait=timedelta(seconds=30)), Counter()

    async def quick() -> int:
        await asyncio.sleep(FIRST_WAIT.total_seconds())  # not done at once: the wait is used
        return await counter.compute()

    assert await snapshots.figures(COUNT, NOVEMBER, quick, NOW) == Figures(1, NOW)
    assert snapshots.refreshing == ()


async def test_a_failed_first_computation_is_logged_and_the_next_view_computes_again(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    snapshots, counter = Snapshots(db, MAX_AGE), Counter()
    counter.failing = True

    with (
        caplog.at_level(logging.ERROR, "ocpp_core.domain.report_snapshots"),
        pytest.raises(RuntimeError, match="the database went away"),
    ):
        await snapshots.figures(COUNT, NOVEMBER, counter.compute, NOW)
    counter.failing = False
    again = await snapshots.figures(COUNT, NOVEMBER, counter.compute, NOW + timedelta(seconds=1))

    assert "computing the count figures failed" in caplog.text
    assert again == Figures(2, NOW + timedelta(seconds=1))


async def test_a_first_computation_whose_node_died_is_taken_over_after_the_lease(
    db: Database,
) -> None:
    gone, survivor, counter = Snapshots(db, MAX_AGE), Snapshots(db, MAX_AGE), Counter()
    counter.gate.clear()
    assert await gone.figures(COUNT, NOVEMBER, counter.compute, NOW) is None
    await gone.close()  # its computation ends with its process, the placeholder stays
    async with db.session() as session:
        await session.execute(  # as after kill -9: the lease was never given back
            update(ReportSnapshot).values(refreshing_until=NOW + LEASE)
        )
    counter.gate.set()

    within_lease = await survivor.figures(COUNT, NOVEMBER, counter.compute, NOW + LEASE / 2)
    after = await survivor.figures(COUNT, NOVEMBER, counter.compute, NOW + LEASE)

    assert within_lease is None
    assert after == Figures(2, NOW + LEASE)
    async with db.reading() as session:
        assert (await session.scalars(select(ReportSnapshot.data))).one() != PENDING
