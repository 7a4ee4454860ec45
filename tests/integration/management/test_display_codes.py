"""A station's public code and location: typed by the operator, read by drivers and on labels."""

from __future__ import annotations

import html

import httpx

from builders import add_charge_point
from integration.management.admin_helpers import error_of, post_form
from integration.management.pages import ADMIN, VIEWER, RunningManagement, log_in
from ocpp_core.db.models import ChargePoint
from qrfiles import pdf_text
from servers import RunningServer

NEW = "/Home/ChargePoint/@"


async def stored(management: RunningManagement, cp_id: str) -> tuple[str | None, str | None]:
    async with management.db.session() as session:
        row = await session.get(ChargePoint, cp_id)
        assert row is not None
        return row.display_code, row.location


async def test_code_and_location_round_trip_through_the_form(
    management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await log_in(client, *ADMIN)
    form = {"id": "CP-7", "name": "Harbour", "display_code": " HR-ZG.01 ", "location": "Pier 3"}
    form["no_password"] = "on"

    created = await post_form(client, NEW, form)

    assert created.status_code == 303, created.text
    assert await stored(management, "CP-7") == ("HR-ZG.01", "Pier 3")  # trimmed
    edit = (await client.get("/Home/ChargePoint/CP-7")).text
    assert 'name="display_code" type="text" value="HR-ZG.01"' in edit
    assert 'name="location" type="text" value="Pier 3"' in edit

    changed = {"name": "Harbour", "display_code": "HR_ZG_02", "location": "Pier 3, level -1"}
    assert (await post_form(client, "/Home/ChargePoint/CP-7", changed)).status_code == 303
    assert await stored(management, "CP-7") == ("HR_ZG_02", "Pier 3, level -1")

    cleared = {"name": "Harbour", "display_code": "", "location": ""}
    assert (await post_form(client, "/Home/ChargePoint/CP-7", cleared)).status_code == 303
    assert await stored(management, "CP-7") == (None, None)


async def test_a_code_another_station_uses_is_a_form_error(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP-1")
    await add_charge_point(server.runtime.db, "CP-2")
    await log_in(client, *ADMIN)
    edit = {"name": "One", "display_code": "HR-01"}
    assert (await post_form(client, "/Home/ChargePoint/CP-1", edit)).status_code == 303
    # Saving a station again with its own code is no clash.
    assert (await post_form(client, "/Home/ChargePoint/CP-1", edit)).status_code == 303

    taken_on_edit = await post_form(
        client, "/Home/ChargePoint/CP-2", {"display_code": "HR-01", "location": "Yard"}
    )
    new = {"id": "CP-3", "display_code": "HR-01", "no_password": "on"}
    taken_on_create = await post_form(client, NEW, new)

    for refused in (taken_on_edit, taken_on_create):
        assert refused.status_code == 400
        assert error_of(refused.text, "display_code") == (
            "Another charge point already uses this code."
        )
        assert 'value="HR-01"' in refused.text  # the form comes back as typed
    assert await stored(management, "CP-2") == (None, None)  # nothing of it was saved
    async with management.db.session() as session:
        assert await session.get(ChargePoint, "CP-3") is None


async def test_a_code_with_spaces_or_too_long_and_a_long_location_are_refused(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP-1")
    await log_in(client, *ADMIN)

    for code in ("HR 01", "HR*01", "X" * 21):
        refused = await post_form(client, "/Home/ChargePoint/CP-1", {"display_code": code})
        assert refused.status_code == 400, code
        assert error_of(refused.text, "display_code") == (
            "Use 1-20 of the characters A-Z a-z 0-9 - _ ."
        )
    too_long = await post_form(client, "/Home/ChargePoint/CP-1", {"location": "L" * 201})

    assert too_long.status_code == 400
    assert error_of(too_long.text, "location") == "At most 200 characters."
    assert await stored(management, "CP-1") == (None, None)


async def test_the_start_page_and_the_label_sheet_show_the_code(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP-1", name="Harbour")
    await add_charge_point(server.runtime.db, "CP-2", name="Depot")
    async with management.db.session() as session:
        row = await session.get(ChargePoint, "CP-1")
        assert row is not None
        row.display_code, row.location = "HR-ZG-01", "Pier 3 & car park"

    start = await client.get("/Public/Start", params={"cp": "CP-1", "conn": "1"})
    plain = await client.get("/Public/Start", params={"cp": "CP-2", "conn": "1"})
    await log_in(client, *VIEWER)
    sheet = pdf_text((await client.get("/Home/QR/Labels.pdf")).content)

    words = " ".join(html.unescape(start.text).split())
    assert "Harbour" in words
    assert '<dd data-station="code">HR-ZG-01</dd>' in start.text
    assert '<dd data-station="location">Pier 3 &amp; car park</dd>' in start.text
    assert "data-station=" not in plain.text  # nothing to show, no empty list
    assert "HR-ZG-01 · connector 1" in sheet  # the code replaces the OCPP id
    assert "CP-1 · connector" not in sheet
    assert "CP-2 · connector 1" in sheet  # no code: the id
