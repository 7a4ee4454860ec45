"""Group commit against a real database: shared transactions, isolated failures."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from builders import NOW, add_charge_point
from ocpp_core.db.models import ChargePoint, ChargeTag
from ocpp_core.db.session import Database
from ocpp_core.domain import chargepoints, tags
from ocpp_core.domain.chargepoints import BootInfo
from ocpp_core.domain.tags import NewTag


def commits(db: Database) -> list[int]:
    """A list that grows by one at every commit of ``db``'s engine."""
    seen: list[int] = []
    event.listen(db.engine.sync_engine, "commit", lambda _connection: seen.append(1))
    return seen


def add_tag(tag_id: str) -> Any:
    async def write(session: AsyncSession) -> str:
        await tags.add(session, NewTag(tag_id), now=NOW)
        await session.flush()
        return tag_id

    return write


async def tag_ids(db: Database) -> list[str]:
    async with db.reading() as session:
        return list(await session.scalars(select(ChargeTag.id).order_by(ChargeTag.id)))


async def test_writes_that_arrive_together_share_one_commit(db: Database) -> None:
    seen = commits(db)
    ids = [f"TAG{n:02}" for n in range(50)]
    results = await asyncio.gather(*(db.group_commit(add_tag(tag_id)) for tag_id in ids))
    assert results == ids
    assert len(seen) == 1
    assert await tag_ids(db) == ids


async def test_a_failing_write_fails_alone_and_its_neighbours_commit(db: Database) -> None:
    async with db.session() as session:
        await tags.add(session, NewTag("TAKEN"), now=NOW)

    async def duplicate(session: AsyncSession) -> None:
        session.add(ChargeTag(id="TAKEN", created_at=NOW, blocked=False))
        await session.flush()

    outcomes: list[object] = await asyncio.gather(
        db.group_commit(add_tag("BEFORE")),
        db.group_commit(duplicate),
        db.group_commit(add_tag("AFTER")),
        return_exceptions=True,
    )
    first, failed, last = outcomes
    assert (first, last) == ("BEFORE", "AFTER")
    assert isinstance(failed, IntegrityError)
    assert await tag_ids(db) == ["AFTER", "BEFORE", "TAKEN"]


async def test_one_statement_runs_once_for_every_caller(db: Database) -> None:
    ids = [f"CP{n}" for n in range(5)]
    for charge_point_id in ids:
        await add_charge_point(db, charge_point_id)
    executed: list[str] = []
    event.listen(
        db.engine.sync_engine,
        "before_cursor_execute",
        lambda *args: executed.append(args[2]) if "UPDATE" in args[2] else None,
    )
    await asyncio.gather(
        *(
            db.group_execute(
                chargepoints.BOOT,
                chargepoints.boot_parameters(
                    cp, BootInfo(vendor="ACME", model=f"M-{cp}"), protocol="ocpp1.6", now=NOW
                ),
            )
            for cp in ids
        )
    )
    assert len(executed) == 1  # one executemany for the five boots
    async with db.reading() as session:
        rows = (await session.execute(select(ChargePoint.id, ChargePoint.model))).all()
        booted = await session.scalar(
            select(func.count()).select_from(ChargePoint).where(ChargePoint.booted_at == NOW)
        )
    assert sorted(rows) == [(cp, f"M-{cp}") for cp in ids]
    assert booted == 5


async def test_a_batch_runs_once_for_every_callers_item(db: Database) -> None:
    seen = commits(db)
    calls: list[list[str]] = []

    async def add_tags(session: AsyncSession, ids: list[str]) -> list[str]:
        calls.append(ids)
        for tag_id in ids:
            await tags.add(session, NewTag(tag_id), now=NOW)
        return [f"added {tag_id}" for tag_id in ids]

    ids = [f"TAG{n:02}" for n in range(20)]
    results = await asyncio.gather(*(db.group_batch(add_tags, tag_id) for tag_id in ids))
    assert results == [f"added {tag_id}" for tag_id in ids]  # each caller its own result
    assert calls == [ids]
    assert len(seen) == 1
    assert await tag_ids(db) == ids


async def test_a_failing_batch_is_retried_item_by_item(db: Database) -> None:
    async with db.session() as session:
        await tags.add(session, NewTag("TAKEN"), now=NOW)

    async def add_tags(session: AsyncSession, ids: list[str]) -> list[str]:
        for tag_id in ids:
            session.add(ChargeTag(id=tag_id, created_at=NOW, blocked=False))
        await session.flush()
        return ids

    first, failed, last = await asyncio.gather(
        db.group_batch(add_tags, "BEFORE"),
        db.group_batch(add_tags, "TAKEN"),
        db.group_batch(add_tags, "AFTER"),
        return_exceptions=True,
    )
    assert (first, last) == ("BEFORE", "AFTER")
    assert isinstance(failed, IntegrityError)
    assert await tag_ids(db) == ["AFTER", "BEFORE", "TAKEN"]
