"""The charging-profiles page over real HTTP, its commands reaching real chargers."""

from __future__ import annotations

import html as html_lib

import httpx
import pytest

from builders import add_charge_point, timestamp
from integration.management.admin_helpers import follow, post_form
from integration.management.pages import ADMIN, VIEWER, log_in
from ocpp_core.domain import charging_profiles
from ocpp_core.domain.charging_profiles import ProfileRecord
from ocpp_core.management.profiles import periods_of
from servers import ConnectCharger, ConnectCharger201, RunningServer

EDIT = "/Home/ChargePoint/CP1"
PAGE = f"{EDIT}/Profiles"
FORM = {
    "connector": "1",
    "stack_level": "2",
    "purpose": "TxDefaultProfile",
    "kind": "Absolute",
    "recurrency": "",
    "unit": "A",
    "start": "2026-12-01T06:00",
    "periods": "0 16\n3600 8.5 3",
}


def flash_of(page: str) -> str:
    start = page.index(">", page.index('id="flash"')) + 1
    return html_lib.unescape(page[start : page.index("</p>", start)])


async def test_an_admin_saves_sends_and_deletes_a_profile(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await log_in(client, *ADMIN)
    assert f'href="{PAGE}"' in (await client.get(EDIT)).text
    assert 'id="no-profiles"' in (await client.get(PAGE)).text

    saved = await follow(client, await post_form(client, PAGE, {**FORM, "action": "save"}))
    assert flash_of(saved).startswith("Profile ")
    [record] = await _records(server)
    profile_id = record.profile.profile_id
    assert [(p.start_s, p.limit_tenths, p.phases) for p in record.profile.periods] == [
        (0, 160, None),
        (3600, 85, 3),
    ]
    assert f'id="profile-{profile_id}"' in saved

    sent = await follow(
        client,
        await post_form(client, PAGE, {"action": "send-one", "profile": str(profile_id)}),
    )
    assert flash_of(sent) == f"Send profile {profile_id}: Accepted."
    [(action, request)] = cp.requests
    schedule = request["cs_charging_profiles"]["charging_schedule"]
    assert (action, schedule["start_schedule"]) == (
        "SetChargingProfile",
        "2026-12-01T06:00:00.000Z",
    )

    deleted = await follow(
        client, await post_form(client, PAGE, {"action": "delete", "profile": str(profile_id)})
    )
    assert flash_of(deleted) == f"Delete profile {profile_id}: Accepted."
    assert cp.requests[-1] == ("ClearChargingProfile", {"id": profile_id})
    assert await _records(server) == []


async def test_a_refused_profile_comes_back_with_the_servers_reason(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await charger("CP1")
    await log_in(client, *ADMIN)
    wrong = {**FORM, "purpose": "ChargePointMaxProfile", "action": "send"}
    refused = await follow(client, await post_form(client, PAGE, wrong))
    assert "a ChargePointMaxProfile is for connector 0" in flash_of(refused)
    assert 'value="2026-12-01T06:00"' in refused  # the form comes back filled in
    bad = await follow(
        client, await post_form(client, PAGE, {**FORM, "periods": "soon 16", "action": "save"})
    )
    assert flash_of(bad).startswith("Each period")
    assert await _records(server) == []


async def test_the_composite_schedule_is_drawn_from_the_chargers_answer(
    server: RunningServer, charger201: ConnectCharger201, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger201("CP1")
    cp.answers["GetCompositeSchedule"] = {
        "status": "Accepted",
        "schedule": {
            "evse_id": 1,
            "duration": 3600,
            "schedule_start": timestamp(),
            "charging_rate_unit": "A",
            "charging_schedule_period": [
                {"start_period": 0, "limit": 16},
                {"start_period": 1800, "limit": 6.5},
            ],
        },
    }
    await log_in(client, *VIEWER)
    shown = (await client.get(f"{PAGE}?composite=1&duration=3600")).text
    figure = shown[shown.index('id="composite"') :]
    assert "<svg" in figure
    assert '<th scope="row">+0:30</th><td>6.5 A</td>' in figure
    assert 'id="profile-form"' not in shown  # a viewer sees, and makes nothing
    cp.answers["GetCompositeSchedule"] = {"status": "Rejected"}
    rejected = (await client.get(f"{PAGE}?composite=1&duration=3600")).text
    assert "Composite schedule: Rejected." in rejected


@pytest.mark.parametrize(
    "query", ["?offset=x", "?composite=1&duration=5", "?composite=a&duration=3600"]
)
async def test_bad_page_parameters_are_refused(
    server: RunningServer, client: httpx.AsyncClient, query: str
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await log_in(client, *VIEWER)
    assert (await client.get(PAGE + query)).status_code == 400
    assert (await client.get("/Home/ChargePoint/NOPE/Profiles")).status_code == 404


async def test_bad_posts_are_refused(server: RunningServer, client: httpx.AsyncClient) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await log_in(client, *ADMIN)
    for form in (
        {"action": "delete", "profile": "x"},
        {"action": "other"},
        {**FORM, "action": "save", "unit": "kW"},
    ):
        assert (await post_form(client, PAGE, form)).status_code == 400
    bad_start = await follow(
        client, await post_form(client, PAGE, {**FORM, "start": "soon", "action": "save"})
    )
    assert flash_of(bad_start).startswith("Start:")
    bad_numbers = await follow(
        client, await post_form(client, PAGE, {**FORM, "connector": "-1", "action": "save"})
    )
    assert flash_of(bad_numbers).startswith("Connector and stack level")


def test_periods_are_bounded() -> None:
    assert isinstance(periods_of(""), str)
    assert isinstance(periods_of("0 1\n" * 49), str)
    assert periods_of("0 16\n60 7.5 1") == [
        {"startPeriod": 0, "limit": "16"},
        {"startPeriod": 60, "limit": "7.5", "numberPhases": 1},
    ]


async def _records(server: RunningServer) -> list[ProfileRecord]:
    async with server.runtime.db.session() as session:
        return await charging_profiles.listed(session, "CP1")
