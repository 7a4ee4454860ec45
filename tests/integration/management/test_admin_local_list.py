"""The local-list page over real HTTP: an admin chooses the list's tags, brings it up to date
on a real 1.6 charger, reads and sets its authorization settings and clears its cache."""

from __future__ import annotations

import httpx
import pytest

from builders import add_charge_point, add_tag
from integration.management.admin_helpers import follow, post_form
from integration.management.pages import ADMIN, VIEWER, log_in
from ocpp_core.config import OcppSettings
from servers import ConnectCharger, RunningServer

EDIT = "/Home/ChargePoint/CP1"
PAGE = f"{EDIT}/LocalList"


@pytest.fixture
def ocpp_settings() -> OcppSettings:
    return OcppSettings(
        command_timeout=3, keepalive_interval=5, keepalive_timeout=5, local_list_sync_interval=0
    )


async def act(client: httpx.AsyncClient, form: dict[str, str]) -> str:
    return await follow(client, await post_form(client, PAGE, form))


def flash_of(html: str) -> str:
    start = html.index(">", html.index('id="flash"')) + 1
    return html[start : html.index("</p>", start)]


async def test_an_admin_keeps_a_group_list_on_a_charger(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_tag(db, "CAR1", parent="FLEET")
    await add_tag(db, "OTHER")
    cp = await charger("CP1")
    await log_in(client, *ADMIN)
    assert f'href="{PAGE}"' in (await client.get(EDIT)).text
    assert "keeps no list" in (await client.get(PAGE)).text

    saved = await act(client, {"action": "assign", "tags": "Group", "group": "FLEET"})
    assert flash_of(saved).startswith("Saved")
    assert "Group FLEET" in saved

    synced = await act(client, {"action": "sync"})
    assert flash_of(synced) == "Bring the list up to date: Accepted."
    assert set(cp.local_list) == {"CAR1"}
    assert "<dd>1</dd>" in synced  # the version, and the one entry

    assert "<dd>yes</dd>" in synced  # up to date
    # A tag of the group blocked on the tag page: the list is due again, then up to date.
    tag_form = {"action": "save", "name": "", "parent": "FLEET", "expires": "", "blocked": "on"}
    await post_form(client, "/Home/ChargeTag/CAR1", tag_form)
    assert "<dd>no</dd>" in (await client.get(PAGE)).text
    await act(client, {"action": "sync"})
    assert cp.local_list["CAR1"]["status"] == "Blocked"

    refused = await act(client, {"action": "assign", "tags": "Group", "group": ""})
    assert flash_of(refused) == "Name the tag group: 1-20 characters."
    dropped = await act(client, {"action": "assign", "tags": "None"})
    assert "keeps no list" in dropped


async def test_an_admin_chooses_the_tags_of_one_chargers_list(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    for tag in ("A", "B", "C"):
        await add_tag(db, tag)
    cp = await charger("CP1")
    await log_in(client, *ADMIN)
    assert 'name="add"' not in (await client.get(PAGE)).text  # no chosen tags to change yet

    saved = await act(client, {"action": "assign", "tags": "Tags", "tag_ids": "B,\nA"})
    assert flash_of(saved).startswith("Saved")
    assert "2 chosen tags" in saved
    assert ">A, B</textarea>" in saved
    await act(client, {"action": "sync"})
    assert set(cp.local_list) == {"A", "B"}

    changed = await act(client, {"action": "change_tags", "add": "C", "remove": "A"})
    assert flash_of(changed).startswith("Saved")
    assert ">B, C</textarea>" in changed
    assert "<dd>no</dd>" in changed  # due until it is sent
    await act(client, {"action": "sync"})
    assert set(cp.local_list) == {"B", "C"}

    refused = await act(client, {"action": "change_tags", "add": "NOPE", "remove": ""})
    assert flash_of(refused) == "Not saved: no tag &#39;NOPE&#39;."
    assert ">B, C</textarea>" in refused
    grouped = await act(client, {"action": "assign", "tags": "Group", "group": "FLEET"})
    assert "Group FLEET" in grouped
    assert 'name="add"' not in grouped


async def test_an_admin_reads_and_sets_the_auth_settings_and_clears_the_cache(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    keys = [{"key": "AuthorizationCacheEnabled", "readonly": False, "value": "true"}]
    cp.answers["GetConfiguration"] = {"configuration_key": keys}
    await log_in(client, *ADMIN)

    read = await act(client, {"action": "settings"})
    assert flash_of(read) == (
        "AuthorizationCacheEnabled = true, LocalAuthListEnabled = ?, "
        "LocalAuthListMaxLength = ?, SendLocalListMaxLength = ?"
    )
    changed = await act(client, {"action": "settings", "change": "1", "list": "on"})
    assert flash_of(changed).startswith(
        "AuthorizationCacheEnabled: Accepted, LocalAuthListEnabled: Accepted."
    )
    written = [r for a, r in cp.requests if a == "ChangeConfiguration"]
    assert written == [
        {"key": "AuthorizationCacheEnabled", "value": "false"},
        {"key": "LocalAuthListEnabled", "value": "true"},
    ]
    cleared = await act(client, {"action": "clear_cache"})
    assert flash_of(cleared) == "Clear cache: Accepted."


async def test_a_viewer_sees_the_list_but_cannot_change_it(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await log_in(client, *VIEWER)
    shown = await client.get(PAGE)
    assert shown.status_code == 200
    assert 'value="assign"' not in shown.text
    refused = await post_form(client, PAGE, {"action": "sync"})
    assert refused.status_code == 403
    assert (await client.get("/Home/ChargePoint/NOPE/LocalList")).status_code == 404


async def test_the_settings_of_an_offline_charger_are_not_read(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await log_in(client, *ADMIN)
    read = await act(client, {"action": "settings"})
    assert flash_of(read) == "Settings: ChargerOffline (the charger is not connected)."


async def test_an_unknown_action_is_refused(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await log_in(client, *ADMIN)
    assert (await post_form(client, PAGE, {"action": "explode"})).status_code == 400
    bad = await post_form(client, PAGE, {"action": "assign", "tags": "Some"})
    assert bad.status_code == 400
