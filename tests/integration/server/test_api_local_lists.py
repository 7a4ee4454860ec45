"""Local authorization lists through the API, on the ``ocpp`` library's chargers (1.6 and
2.0.1), which keep their list as real chargers do (see ``chargers._LocalList``).

The sweep that keeps lists up to date runs here as the server's loop runs it
(``Lists.sync_due``), called by the test instead of a timer; the loop itself is off.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import NotImplementedError
from ocpp.v16 import call
from sqlalchemy import update

from builders import add_charge_point, add_tag
from chargers import Late, TestCharger, TestCharger201
from ocpp_core.config import OcppSettings
from ocpp_core.db.models import ChargePoint, LocalList
from ocpp_core.domain.local_lists import Lists, up_to_date
from ocpp_core.server.api_local_lists import lists_of
from servers import ConnectCharger, ConnectCharger201, RunningServer

Charger = TestCharger | TestCharger201
LATER = datetime(2099, 1, 1, tzinfo=UTC)


@pytest.fixture
def ocpp_settings() -> OcppSettings:
    return OcppSettings(
        command_timeout=3, keepalive_interval=5, keepalive_timeout=5, local_list_sync_interval=0
    )


@pytest.fixture(params=["1.6", "2.0.1"])
async def cp(
    request: pytest.FixtureRequest,
    server: RunningServer,
    charger: ConnectCharger,
    charger201: ConnectCharger201,
) -> Charger:
    await add_charge_point(server.runtime.db, "CP1")
    if request.param == "1.6":
        return await charger("CP1")
    return await charger201("CP1")


def lists(server: RunningServer) -> Lists:
    return lists_of(server.runtime)


def held(cp: Charger) -> dict[str, str]:
    return {tag: info["status"] for tag, info in cp.local_list.items()}


def sent_lists(cp: Charger) -> list[dict[str, Any]]:
    return [request for action, request in cp.requests if action == "SendLocalList"]


def version_of(request: dict[str, Any]) -> int:
    return int(request.get("list_version", request.get("version_number", -1)))


async def post(server: RunningServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await server.api.post(path, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def assign_all(server: RunningServer) -> None:
    await post(server, "/API/LocalList/Assign", {"chargePointId": "CP1", "tags": "All"})


async def test_a_list_of_every_tag_is_sent_whole_then_by_differences(
    server: RunningServer, cp: Charger
) -> None:
    db = server.runtime.db
    await add_tag(db, "GOOD", parent="FLEET", expires_at=LATER)
    await add_tag(db, "LOCKED", blocked=True)
    await add_tag(db, "OLD", expires_at=datetime(2020, 1, 1, tzinfo=UTC))
    await assign_all(server)

    assert await lists(server).sync_due() == 1
    assert held(cp) == {"GOOD": "Accepted", "LOCKED": "Blocked", "OLD": "Expired"}
    good = cp.local_list["GOOD"]
    expiry = good.get("expiry_date") or good.get("cache_expiry_date_time")
    assert expiry == "2099-01-01T00:00:00.000Z"
    [full] = sent_lists(cp)
    assert full["update_type"] == "Full"
    assert version_of(full) == cp.list_version == 1

    # Tags change through the API: the list is due again, and only the differences go.
    await post(server, "/API/Tags", {"id": "GOOD", "parentId": "FLEET", "blocked": True})
    await post(server, "/API/Tags", {"id": "NEW"})
    await post(server, "/API/Tags/Delete", {"id": "OLD"})
    assert await lists(server).sync_due() == 1
    assert held(cp) == {"GOOD": "Blocked", "LOCKED": "Blocked", "NEW": "Accepted"}
    differential = sent_lists(cp)[-1]
    assert differential["update_type"] == "Differential"
    assert version_of(differential) == cp.list_version == 2
    assert len(differential["local_authorization_list"]) == 3  # GOOD, NEW, and OLD removed

    # Nothing changed: nothing is due, and the state says it is up to date.
    assert await lists(server).sync_due() == 0
    state = (await server.api.get("/API/LocalList/CP1")).json()
    assert state["tags"] == "All"
    assert state["listVersion"] == 2
    assert state["entries"] == 3
    assert state["upToDate"] is True
    assert state["result"] == "Accepted"


async def test_a_group_list_holds_only_the_group(server: RunningServer, cp: Charger) -> None:
    db = server.runtime.db
    await add_tag(db, "FLEET")
    await add_tag(db, "CAR1", parent="FLEET")
    await add_tag(db, "STRANGER")
    body = {"chargePointId": "CP1", "tags": "Group", "group": "FLEET"}
    assert (await post(server, "/API/LocalList/Assign", body))["group"] == "FLEET"
    synced = await post(server, "/API/LocalList/Sync", {"chargePointId": "CP1"})
    assert synced == {"status": "Accepted", "listVersion": 1, "entriesSent": 2}
    assert set(held(cp)) == {"FLEET", "CAR1"}

    # A tag outside the group changes: this list is not due.
    await post(server, "/API/Tags", {"id": "STRANGER", "blocked": True})
    assert await lists(server).sync_due() == 0
    # A tag joins the group.
    await post(server, "/API/Tags", {"id": "STRANGER", "parentId": "FLEET"})
    assert await lists(server).sync_due() == 1
    assert set(held(cp)) == {"FLEET", "CAR1", "STRANGER"}


async def test_updates_are_cut_to_the_chargers_message_length(
    server: RunningServer, cp: Charger
) -> None:
    db = server.runtime.db
    for number in range(5):
        await add_tag(db, f"T{number}")
    if isinstance(cp, TestCharger):
        keys = [
            {"key": "SendLocalListMaxLength", "readonly": True, "value": "2"},
            {"key": "LocalAuthListMaxLength", "readonly": True, "value": "100"},
        ]
        cp.answers["GetConfiguration"] = {"configuration_key": keys}
    else:
        cp.variables = {("LocalAuthListCtrlr", "ItemsPerMessage"): "2"}
    await assign_all(server)
    synced = await post(server, "/API/LocalList/Sync", {"chargePointId": "CP1"})
    assert synced == {"status": "Accepted", "listVersion": 3, "entriesSent": 5}
    kinds = [(r["update_type"], len(r["local_authorization_list"])) for r in sent_lists(cp)]
    assert kinds == [("Full", 2), ("Differential", 2), ("Differential", 1)]
    assert len(cp.local_list) == 5


async def test_a_list_longer_than_the_charger_takes_is_not_sent(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    cp = await charger("CP1")
    keys = [{"key": "LocalAuthListMaxLength", "readonly": True, "value": "1"}]
    cp.answers["GetConfiguration"] = {"configuration_key": keys}
    await add_tag(db, "A")
    await add_tag(db, "B")
    await assign_all(server)
    synced = await post(server, "/API/LocalList/Sync", {"chargePointId": "CP1"})
    assert synced["status"] == "TooLong"
    assert sent_lists(cp) == []


async def test_a_charger_whose_version_differs_gets_the_whole_list(
    server: RunningServer, cp: Charger
) -> None:
    db = server.runtime.db
    await add_tag(db, "A")
    await assign_all(server)
    assert await lists(server).sync_due() == 1
    # Something else wrote the charger's list meanwhile.
    cp.local_list, cp.list_version = {"ROGUE": {"status": "Accepted"}}, 7
    await add_tag(db, "B")
    assert await lists(server).sync_due() == 1
    assert sent_lists(cp)[-1]["update_type"] == "Full"
    assert set(held(cp)) == {"A", "B"}
    assert cp.list_version == 8


async def test_a_refused_differential_update_is_followed_by_the_whole_list(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    cp = await charger("CP1")
    await add_tag(db, "A")
    await assign_all(server)
    assert await lists(server).sync_due() == 1
    await add_tag(db, "B")
    cp.answers["SendLocalList"] = {"status": "Failed"}
    assert await lists(server).sync_due() == 1
    assert [r["update_type"] for r in sent_lists(cp)] == ["Full", "Differential", "Full"]
    async with db.session() as session:
        row = await session.get(LocalList, "CP1")
        assert row is not None
        assert (row.result, row.full_needed) == ("Failed", True)
        assert not await up_to_date(session, row)
        # A refused update is tried again a little later, not at the next sweep.
        assert row.retry_at is not None
        row.retry_at = None
    del cp.answers["SendLocalList"]
    assert await lists(server).sync_due() == 1
    assert sent_lists(cp)[-1]["update_type"] == "Full"
    assert set(held(cp)) == {"A", "B"}


async def test_an_offline_charger_is_brought_up_to_date_when_it_connects(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_tag(db, "A")
    await assign_all(server)
    assert await lists(server).sync_due() == 0  # not connected: stays due
    cp = await charger("CP1")
    assert await lists(server).sync_due() == 1
    assert set(held(cp)) == {"A"}


async def test_a_charger_that_booted_is_checked_again(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_tag(db, "A")
    cp = await charger("CP1")
    await assign_all(server)
    assert await lists(server).sync_due() == 1
    # A reset emptied it: the boot makes the list due, and the version tells.
    cp.local_list, cp.list_version = {}, 0
    async with db.session() as session:
        later = datetime.now(UTC) + timedelta(seconds=1)
        await session.execute(update(ChargePoint).values(booted_at=later))
    assert await lists(server).sync_due() == 1
    assert set(held(cp)) == {"A"}
    assert sent_lists(cp)[-1]["update_type"] == "Full"


async def test_a_list_being_synced_is_not_synced_twice_at_once(
    server: RunningServer, cp: Charger
) -> None:
    await assign_all(server)
    assert await lists(server).claim("CP1") == ["CP1"]  # as another node's sweep would
    busy = await server.api.post("/API/LocalList/Sync", json={"chargePointId": "CP1"})
    assert (busy.status_code, busy.json()["status"]) == (409, "SyncInProgress")
    # Its group changes while it waits: the next sync sends the group's list instead.
    body = {"chargePointId": "CP1", "tags": "Group", "group": "NOBODY"}
    assert (await post(server, "/API/LocalList/Assign", body))["upToDate"] is False


async def test_a_list_chosen_anew_while_a_sync_runs_stays_due_for_the_new_choice(
    server: RunningServer, cp: Charger
) -> None:
    db = server.runtime.db
    await add_tag(db, "BUSY")
    for tag in ("BUSY-1", "BUSY-2", "BUSY-3"):  # its group's revision 3
        await post(server, "/API/Tags", {"id": tag, "parentId": "BUSY"})
    await post(server, "/API/Tags", {"id": "CALM-1", "parentId": "CALM"})  # its revision 1
    await post(
        server, "/API/LocalList/Assign", {"chargePointId": "CP1", "tags": "Group", "group": "BUSY"}
    )
    cp.answers["GetLocalListVersion"] = Late(1.0)  # the sync waits on the charger meanwhile
    syncing = asyncio.create_task(lists(server).sync_due())
    async with asyncio.timeout(10):
        while not any(action == "GetLocalListVersion" for action, _ in cp.requests):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    body = {"chargePointId": "CP1", "tags": "Group", "group": "CALM"}
    await post(server, "/API/LocalList/Assign", body)
    assert await syncing == 1
    assert set(held(cp)) == {"BUSY", "BUSY-1", "BUSY-2", "BUSY-3"}  # as when it began

    del cp.answers["GetLocalListVersion"]
    state = (await server.api.get("/API/LocalList/CP1")).json()
    assert state["upToDate"] is False
    assert await lists(server).sync_due() == 1
    assert set(held(cp)) == {"CALM-1"}


async def test_a_charger_that_refuses_the_version_read(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    cp.answers["GetLocalListVersion"] = NotImplementedError(description="no lists here")
    answer = await post(server, "/API/GetLocalListVersion", {"chargePointId": "CP1"})
    assert answer == {"status": "NotSupported", "listVersion": None, "error": "NotImplemented"}


async def test_the_list_version_is_read_through_the_api(server: RunningServer, cp: Charger) -> None:
    cp.list_version = 5
    answer = await post(server, "/API/GetLocalListVersion", {"chargePointId": "CP1"})
    assert answer == {"status": "Accepted", "listVersion": 5, "error": None}


async def test_the_auth_settings_are_changed_and_read(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    keys = [
        {"key": "AuthorizationCacheEnabled", "readonly": False, "value": "false"},
        {"key": "LocalAuthListEnabled", "readonly": False, "value": "true"},
        {"key": "LocalAuthListMaxLength", "readonly": True, "value": "500"},
        {"key": "SendLocalListMaxLength", "readonly": True, "value": "50"},
    ]
    cp.answers["GetConfiguration"] = {"configuration_key": keys}
    body = {"chargePointId": "CP1", "authorizationCacheEnabled": False}
    answer = await post(server, "/API/AuthSettings", body)
    assert answer == {
        "changes": {"AuthorizationCacheEnabled": "Accepted"},
        "authorizationCacheEnabled": False,
        "localAuthListEnabled": True,
        "localAuthListMaxLength": 500,
        "sendLocalListMaxLength": 50,
    }
    assert ("ChangeConfiguration", {"key": "AuthorizationCacheEnabled", "value": "false"}) in (
        cp.requests
    )


async def test_the_auth_settings_of_a_201_charger_are_its_variables(
    server: RunningServer, charger201: ConnectCharger201
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger201("CP1")
    body = {"chargePointId": "CP1", "localAuthListEnabled": True}
    answer = await post(server, "/API/AuthSettings", body)
    assert answer["changes"] == {"LocalAuthListEnabled": "Accepted"}
    [(_, written)] = [r for r in cp.requests if r[0] == "SetVariables"]
    assert written["set_variable_data"] == [
        {
            "attribute_value": "true",
            "component": {"name": "LocalAuthListCtrlr"},
            "variable": {"name": "Enabled"},
        }
    ]
    read = [r["get_variable_data"][0] for a, r in cp.requests if a == "GetVariables"]
    assert [(v["component"]["name"], v["variable"]["name"]) for v in read] == [
        ("AuthCacheCtrlr", "Enabled"),
        ("LocalAuthListCtrlr", "Enabled"),
        ("LocalAuthListCtrlr", "Entries"),
        ("LocalAuthListCtrlr", "ItemsPerMessage"),
    ]
    assert answer["localAuthListMaxLength"] == 300  # the test charger's answer to every read


async def test_a_sync_needs_an_assigned_list_and_a_connected_charger(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    offline = await server.api.post("/API/LocalList/Sync", json={"chargePointId": "CP1"})
    assert offline.status_code == 404
    assert offline.json()["status"] == "ChargerOffline"
    await charger("CP1")
    unassigned = await server.api.post("/API/LocalList/Sync", json={"chargePointId": "CP1"})
    assert unassigned.status_code == 409
    assert unassigned.json()["status"] == "NotAssigned"
    body = {"chargePointId": "CP1", "tags": "None"}
    assert (await post(server, "/API/LocalList/Assign", body))["tags"] == "None"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/API/LocalList/Assign", {"chargePointId": "CP1", "tags": "Group"}, 400),
        ("/API/LocalList/Assign", {"chargePointId": "CP1", "tags": "All", "group": "G"}, 400),
        ("/API/LocalList/Assign", {"chargePointId": "CP1", "tags": "Some"}, 400),
        (
            "/API/LocalList/Assign",
            {"chargePointId": "CP1", "tags": "Group", "group": "G" * 21},
            400,
        ),
        ("/API/LocalList/Assign", {"chargePointId": "NOPE", "tags": "All"}, 404),
        ("/API/LocalList/Assign", {"chargePointId": "C" * 101, "tags": "All"}, 400),
        ("/API/LocalList/Sync", {"chargePointId": "CP1", "full": "maybe"}, 400),
        ("/API/GetLocalListVersion", {"chargePointId": "CP1"}, 404),
        ("/API/AuthSettings", {"chargePointId": "CP1", "localAuthListEnabled": "x"}, 400),
        ("/API/AuthSettings", {}, 400),
        ("/API/AuthSettings", {"chargePointId": "CP1"}, 404),
    ],
)
async def test_bad_input_is_refused(
    server: RunningServer, path: str, body: dict[str, Any], status: int
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    response = await server.api.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["status"] in ("InvalidParameter", "NotFound", "ChargerOffline")


async def test_a_charger_without_lists_is_left_alone_until_the_tags_change(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    cp.answers["GetLocalListVersion"] = {"list_version": -1}
    await assign_all(server)
    assert await lists(server).sync_due() == 1
    assert sent_lists(cp) == []
    assert await lists(server).sync_due() == 0
    state = (await server.api.get("/API/LocalList/CP1")).json()
    assert state["result"] == "NotSupported"


async def test_authorize_answers_as_the_list_says(server: RunningServer, cp: Charger) -> None:
    """The list and the server's own answers agree on a tag's status."""
    await add_tag(server.runtime.db, "LOCKED", blocked=True)
    await assign_all(server)
    assert await lists(server).sync_due() == 1
    assert held(cp) == {"LOCKED": "Blocked"}
    if isinstance(cp, TestCharger):
        answer = await cp.call(call.Authorize("LOCKED"))
        assert answer.id_tag_info["status"] == "Blocked"
