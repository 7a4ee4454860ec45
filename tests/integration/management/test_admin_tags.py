"""Charge tags over real HTTP: create with a group, expiry and privilege, edit, delete."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from builders import NOW, add_charge_point, add_tag
from integration.management.admin_helpers import error_of, follow, post_form
from integration.management.pages import ADMIN, VIEWER, RunningManagement, csrf_token, log_in
from ocpp_core.db.models import ChargeTag, ChargeTagPrivilege
from ocpp_core.domain import tariffs
from servers import RunningServer


async def privileges(
    management: RunningManagement, tag_id: str
) -> list[tuple[str | None, str | None]]:
    async with management.db.session() as session:
        rows = await session.scalars(
            select(ChargeTagPrivilege).where(ChargeTagPrivilege.tag_id == tag_id)
        )
        return [(row.charge_point_id, row.note) for row in rows]


async def test_create_a_tag_with_group_expiry_block_and_free_charging_everywhere(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await log_in(client, *ADMIN)

    created = await post_form(
        client,
        "/Home/ChargeTag/@",
        {
            "id": "04A1B2",
            "name": "Alice",
            "parent": "STAFF",
            "expires": "2027-01-31",
            "blocked": "on",
            "privilege": "(all)",
            "note": "staff car",
        },
    )

    assert "Tag 04A1B2 added." in await follow(client, created)
    async with management.db.session() as session:
        tag = await session.get(ChargeTag, "04A1B2")
        assert tag is not None
        assert (tag.name, tag.parent_id, tag.blocked) == ("Alice", "STAFF", True)
        assert tag.expires_at == datetime(2027, 1, 31, tzinfo=UTC)
    assert await privileges(management, "04A1B2") == [(None, "staff car")]
    listed = (await client.get("/Home/ChargeTag")).text
    assert 'data-tag="04A1B2"' in listed
    assert "all stations" in listed


async def test_edit_moves_the_privilege_to_one_station_that_then_applies_there_only(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_charge_point(db, "CP2")
    await add_tag(db, "TAG1")
    async with db.session() as session:
        await tariffs.grant_free_charging(
            session, tag_id="TAG1", charge_point_id=None, note=None, now=NOW
        )
    await log_in(client, *ADMIN)
    page = (await client.get("/Home/ChargeTag/TAG1")).text
    assert 'value="(all)" selected' in page

    one_station = {"privilege": "(one)", "privilege_cp": "CP2"}  # as the form sends it
    saved = await post_form(
        client, "/Home/ChargeTag/TAG1", {"name": "Bob", **one_station, "note": "landlord"}
    )

    shown = await follow(client, saved)
    assert "Tag TAG1 saved." in shown
    assert 'value="(one)" selected' in shown
    assert 'name="privilege_cp" type="text" value="CP2"' in shown
    assert await privileges(management, "TAG1") == [("CP2", "landlord")]
    async with db.session() as session:
        here = await tariffs.has_free_charging(
            session, tag_id="TAG1", charge_point_id="CP2", now=NOW
        )
        there = await tariffs.has_free_charging(
            session, tag_id="TAG1", charge_point_id="CP1", now=NOW
        )
    assert (here, there) == (True, False)

    cleared = await post_form(client, "/Home/ChargeTag/TAG1", {"name": "Bob", "privilege": ""})
    await follow(client, cleared)
    assert await privileges(management, "TAG1") == []


async def test_bad_values_are_explained_next_to_their_fields(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await add_tag(server.runtime.db, "TAKEN")
    await log_in(client, *ADMIN)

    too_long = await post_form(
        client, "/Home/ChargeTag/@", {"id": "X" * 21, "expires": "31.01.2027"}
    )
    taken = await post_form(client, "/Home/ChargeTag/@", {"id": "TAKEN"})
    unknown_station = await post_form(client, "/Home/ChargeTag/TAKEN", {"privilege": "NO-SUCH-CP"})
    no_station = await post_form(
        client, "/Home/ChargeTag/TAKEN", {"privilege": "(one)", "privilege_cp": ""}
    )

    assert too_long.status_code == taken.status_code == unknown_station.status_code == 400
    assert no_station.status_code == 400
    assert "Type the charge point" in error_of(no_station.text, "privilege")
    assert 'name="privilege_cp" type="text" value=""' in no_station.text
    assert "1-20 characters" in error_of(too_long.text, "id")
    assert "YYYY-MM-DD" in error_of(too_long.text, "expires")
    assert "already exists" in error_of(taken.text, "id")
    assert "does not exist" in error_of(unknown_station.text, "privilege")


async def test_delete_a_tag_with_its_privilege(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await add_tag(server.runtime.db, "TAG/1")  # a slash, percent-encoded in the URL
    async with server.runtime.db.session() as session:
        await tariffs.grant_free_charging(
            session, tag_id="TAG/1", charge_point_id=None, note=None, now=NOW
        )
    await log_in(client, *ADMIN)

    confirm = await client.get("/Home/ChargeTag/TAG%2F1", params={"confirm": "delete"})
    deleted = await post_form(
        client,
        "/Home/ChargeTag/TAG%2F1?confirm=delete",
        {"action": "delete"},
        "/Home/ChargeTag/TAG%2F1",
    )

    assert "Delete tag TAG/1?" in confirm.text
    assert "Tag TAG/1 deleted." in await follow(client, deleted)
    async with management.db.session() as session:
        assert await session.get(ChargeTag, "TAG/1") is None
    assert await privileges(management, "TAG/1") == []


async def test_a_viewer_can_not_change_tags(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    await add_tag(server.runtime.db, "TAG1")
    await log_in(client, *VIEWER)
    token = csrf_token((await client.get("/Home/ChargeTag/TAG1")).text)

    save = await client.post("/Home/ChargeTag/TAG1", data={"csrf_token": token, "blocked": "on"})
    create = await client.post("/Home/ChargeTag/@", data={"csrf_token": token, "id": "NEW"})

    assert (save.status_code, create.status_code) == (403, 403)
    async with server.runtime.db.session() as session:
        tag = await session.get(ChargeTag, "TAG1")
        assert tag is not None
        assert tag.blocked is False
