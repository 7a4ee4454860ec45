"""Lists of tags chosen for one charger: what may be chosen, and which lists a change makes due.

Whether a list is due is what the sweep's claim finds (``Lists.claim``), on chargers marked
connected as a node marks them; nothing is sent here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from builders import NOW, add_charge_point, add_tag
from ocpp_core.db.models import ChargePoint, LocalList
from ocpp_core.db.session import Database
from ocpp_core.domain import local_lists, tags
from ocpp_core.domain.command_results import CommandResult
from ocpp_core.domain.commands import Command
from ocpp_core.domain.local_lists import (
    MAX_CHANGE,
    ListError,
    Lists,
    NotChosen,
    TooLong,
    UnknownCharger,
    UnknownTags,
)


async def never_sent(charge_point_id: str, command: Command) -> CommandResult:
    raise AssertionError(f"a claim sends nothing, yet {command} went to {charge_point_id}")


async def due(db: Database) -> list[str]:
    """The lists a sweep would bring up to date now; the claims are let go again."""
    claimed = sorted(await Lists(db, never_sent, lambda: NOW).claim())
    async with db.session() as session:
        await session.execute(update(LocalList).values(claimed_until=None))
    return claimed


async def synced(db: Database) -> None:
    """Every list as a finished sync leaves it: its changes so far taken in."""
    async with db.session() as session:
        for row in await session.scalars(select(LocalList)):
            row.done = await local_lists.revision_of(session, row)
            row.checked_at, row.full_needed = NOW, False


async def choose(db: Database, charge_point_id: str, chosen: list[str]) -> None:
    async with db.session() as session:
        await local_lists.assign(session, charge_point_id, group=None, tags=chosen, now=NOW)


async def change(
    db: Database, charge_point_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
) -> None:
    async with db.session() as session:
        await local_lists.change_tags(session, charge_point_id, add=add, remove=remove)


async def chosen(db: Database, charge_point_id: str) -> list[str]:
    async with db.session() as session:
        return await local_lists.chosen(session, charge_point_id)


@pytest.fixture
async def fleet(db: Database) -> Database:
    """CP1 and CP2, connected; tags A, B (of group G) and C."""
    for charge_point_id in ("CP1", "CP2"):
        await add_charge_point(db, charge_point_id)
    async with db.session() as session:
        await session.execute(update(ChargePoint).values(online_node="n/1"))
    await add_tag(db, "A")
    await add_tag(db, "B", parent="G")
    await add_tag(db, "C")
    return db


async def test_a_tag_change_makes_only_the_lists_holding_it_due(fleet: Database) -> None:
    await choose(fleet, "CP1", ["A", "B"])
    await choose(fleet, "CP2", ["C"])
    assert await due(fleet) == ["CP1", "CP2"]
    await synced(fleet)
    assert await due(fleet) == []

    async with fleet.session() as session:
        await tags.change(session, "A", blocked=True)
    assert await due(fleet) == ["CP1"]
    await synced(fleet)

    async with fleet.session() as session:
        await tags.change(session, "B", parent_id="H")  # a new group: its lists and CP1's
    assert await due(fleet) == ["CP1"]
    await synced(fleet)

    async with fleet.session() as session:
        await tags.add(session, tags.NewTag("D"), now=NOW)  # held by no chosen list
    assert await due(fleet) == []

    async with fleet.session() as session:
        assert await tags.remove(session, "C")
    assert await due(fleet) == ["CP2"]
    assert await chosen(fleet, "CP2") == []  # a deleted tag leaves the lists that held it


async def test_a_list_of_chosen_tags_ignores_its_group_and_every_tag_change(
    fleet: Database,
) -> None:
    await choose(fleet, "CP1", ["A"])
    async with fleet.session() as session:
        await local_lists.assign(session, "CP2", group=None, now=NOW)  # every tag
    await synced(fleet)
    async with fleet.session() as session:
        await tags.change(session, "C", blocked=True)
    assert await due(fleet) == ["CP2"]


async def test_tags_are_added_and_removed_and_the_list_is_due_only_when_it_changed(
    fleet: Database,
) -> None:
    await choose(fleet, "CP1", ["A"])
    await synced(fleet)
    await change(fleet, "CP1", add=["A"], remove=["C"])  # held already; not held
    assert await due(fleet) == []
    await change(fleet, "CP1", add=["B", "C"], remove=["A"])
    assert await chosen(fleet, "CP1") == ["B", "C"]
    assert await due(fleet) == ["CP1"]
    async with fleet.session() as session:
        row = await session.get(LocalList, "CP1")
        assert row is not None
        wanted = await local_lists.desired(session, row, NOW)
    assert sorted(wanted) == ["B", "C"]
    assert wanted["B"].group == "G"


async def test_choosing_again_replaces_the_tags_and_another_kind_drops_them(
    fleet: Database,
) -> None:
    await choose(fleet, "CP1", ["A", "B"])
    await choose(fleet, "CP1", ["C"])
    assert await chosen(fleet, "CP1") == ["C"]
    async with fleet.session() as session:
        await local_lists.assign(session, "CP1", group="G", now=NOW)
    assert await chosen(fleet, "CP1") == []
    with pytest.raises(NotChosen, match="group G's list, not chosen tags"):
        await change(fleet, "CP1", add=["A"])


@pytest.mark.parametrize(
    ("work", "error", "message"),
    [
        (lambda s: local_lists.change_tags(s, "CP2", add=["A"]), NotChosen, "CP2 has no list"),
        (lambda s: local_lists.change_tags(s, "NOPE", add=["A"]), UnknownCharger, "'NOPE'"),
        (
            lambda s: local_lists.assign(s, "NOPE", group=None, tags=[], now=NOW),
            UnknownCharger,
            "no charge point 'NOPE'",
        ),
        (
            lambda s: local_lists.change_tags(s, "CP1", add=["X", "A", "W"]),
            UnknownTags,
            "no tag 'W', 'X'",
        ),
        (
            lambda s: local_lists.change_tags(s, "CP1", add=["B"], remove=["B"]),
            ListError,
            "both added and removed: B",
        ),
        (
            lambda s: local_lists.change_tags(s, "CP1", remove=[f"T{n}" for n in range(1001)]),
            TooLong,
            f"remove at most {MAX_CHANGE} tags",
        ),
        (
            lambda s: local_lists.assign(s, "CP1", group="G", tags=["A"], now=NOW),
            ListError,
            "not both",
        ),
    ],
)
async def test_bad_choices_are_refused_and_change_nothing(
    fleet: Database,
    work: Callable[[AsyncSession], Awaitable[object]],
    error: type[Exception],
    message: str,
) -> None:
    await choose(fleet, "CP1", ["A"])
    with pytest.raises(error, match=message):
        async with fleet.session() as session:
            await work(session)
    assert await chosen(fleet, "CP1") == ["A"]


async def test_no_more_tags_than_the_charger_holds(fleet: Database) -> None:
    await choose(fleet, "CP1", ["A"])
    async with fleet.session() as session:  # as a sync reads it from the charger
        await session.execute(update(LocalList).values(max_length=2))
    await change(fleet, "CP1", add=["B"])
    with pytest.raises(TooLong, match="CP1's list would hold 3 tags; it takes at most 2"):
        await change(fleet, "CP1", add=["C"])
    with pytest.raises(TooLong, match="would hold 3 tags"):
        await choose(fleet, "CP1", ["A", "B", "C"])
    assert await chosen(fleet, "CP1") == ["A", "B"]
