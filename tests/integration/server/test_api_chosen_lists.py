"""Local lists of tags chosen for one charger, through the API, on the ``ocpp`` library's
chargers (1.6 and 2.0.1) that keep their list as real chargers do (``chargers._LocalList``).

The sweep runs as the server's loop runs it (``Lists.sync_due``), called by the test.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from builders import add_charge_point, add_tag
from chargers import TestCharger, TestCharger201
from ocpp_core.config import OcppSettings
from ocpp_core.db.models import LocalList
from ocpp_core.domain.local_lists import MAX_CHANGE
from ocpp_core.server.api_local_lists import lists_of
from servers import ConnectCharger, ConnectCharger201, RunningServer

Charger = TestCharger | TestCharger201


@pytest.fixture
def ocpp_settings() -> OcppSettings:
    return OcppSettings(
        command_timeout=3, keepalive_interval=5, keepalive_timeout=5, local_list_sync_interval=0
    )


@pytest.fixture(params=["1.6", "2.0.1"])
async def pair(
    request: pytest.FixtureRequest,
    server: RunningServer,
    charger: ConnectCharger,
    charger201: ConnectCharger201,
) -> tuple[Charger, Charger]:
    """CP1 and CP2, connected on one OCPP version."""
    for charge_point_id in ("CP1", "CP2"):
        await add_charge_point(server.runtime.db, charge_point_id)
    if request.param == "1.6":
        return await charger("CP1"), await charger("CP2")
    return await charger201("CP1"), await charger201("CP2")


def held(cp: Charger) -> dict[str, str]:
    return {tag: info["status"] for tag, info in cp.local_list.items()}


def sent_lists(cp: Charger) -> list[dict[str, Any]]:
    return [request for action, request in cp.requests if action == "SendLocalList"]


def entries_of(request: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Each entry's tag and status (None: removed), on either version."""
    found = []
    for entry in request["local_authorization_list"]:
        tag = entry.get("id_tag") or entry["id_token"]["id_token"]
        info = entry.get("id_tag_info") or entry.get("id_token_info") or {}
        found.append((tag, info.get("status")))
    return found


async def post(server: RunningServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await server.api.post(path, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def choose(server: RunningServer, charge_point_id: str, tags: list[str]) -> dict[str, Any]:
    body = {"chargePointId": charge_point_id, "tags": "Tags", "tagIds": tags}
    return await post(server, "/API/LocalList/Assign", body)


async def test_each_charger_gets_its_own_tags_and_only_their_changes(
    server: RunningServer, pair: tuple[Charger, Charger]
) -> None:
    cp1, cp2 = pair
    db = server.runtime.db
    for tag in ("A", "B", "C"):
        await add_tag(db, tag)
    state = await choose(server, "CP1", ["B", "A"])
    assert (state["tags"], state["tagIds"], state["upToDate"]) == ("Tags", ["A", "B"], False)
    await choose(server, "CP2", ["C"])
    assert await lists_of(server.runtime).sync_due() == 2
    assert held(cp1) == {"A": "Accepted", "B": "Accepted"}
    assert held(cp2) == {"C": "Accepted"}
    assert [r["update_type"] for r in sent_lists(cp1)] == ["Full"]

    # A tag of CP1's list is blocked: CP1 gets that difference, CP2 nothing at all.
    await post(server, "/API/Tags", {"id": "A", "blocked": True})
    before = len(cp2.requests)
    assert await lists_of(server.runtime).sync_due() == 1
    last = sent_lists(cp1)[-1]
    assert last["update_type"] == "Differential"
    assert entries_of(last) == [("A", "Blocked")]
    assert held(cp1) == {"A": "Blocked", "B": "Accepted"}
    assert cp2.requests[before:] == []

    # Members change: the charger gets the tag added and the one removed.
    state = await post(
        server, "/API/LocalList/Tags", {"chargePointId": "CP1", "add": ["C"], "remove": ["B"]}
    )
    assert (state["tagIds"], state["upToDate"]) == (["A", "C"], False)
    assert await lists_of(server.runtime).sync_due() == 1
    assert entries_of(sent_lists(cp1)[-1]) == [("B", None), ("C", "Accepted")]
    assert held(cp1) == {"A": "Blocked", "C": "Accepted"}

    state = (await server.api.get("/API/LocalList/CP1")).json()
    assert state["tags"] == "Tags"
    assert state["tagIds"] == ["A", "C"]
    assert (state["listVersion"], state["entries"], state["upToDate"]) == (3, 2, True)


async def test_a_deleted_tag_leaves_the_lists_that_chose_it(
    server: RunningServer, pair: tuple[Charger, Charger]
) -> None:
    cp1, cp2 = pair
    await add_tag(server.runtime.db, "A")
    await add_tag(server.runtime.db, "B")
    await choose(server, "CP1", ["A", "B"])
    await choose(server, "CP2", ["B"])
    assert await lists_of(server.runtime).sync_due() == 2
    await post(server, "/API/Tags/Delete", {"id": "A"})
    assert await lists_of(server.runtime).sync_due() == 1
    assert entries_of(sent_lists(cp1)[-1]) == [("A", None)]
    assert held(cp1) == {"B": "Accepted"}
    assert len(sent_lists(cp2)) == 1
    assert (await server.api.get("/API/LocalList/CP1")).json()["tagIds"] == ["B"]


async def test_no_more_tags_than_the_charger_said_it_holds(
    server: RunningServer, charger: ConnectCharger
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    cp = await charger("CP1")
    keys = [{"key": "LocalAuthListMaxLength", "readonly": True, "value": "2"}]
    cp.answers["GetConfiguration"] = {"configuration_key": keys}
    for tag in ("A", "B", "C"):
        await add_tag(db, tag)
    await choose(server, "CP1", ["A"])
    assert await lists_of(server.runtime).sync_due() == 1
    assert (await server.api.get("/API/LocalList/CP1")).json()["maxLength"] == 2
    body = {"chargePointId": "CP1", "add": ["B", "C"]}
    refused = await server.api.post("/API/LocalList/Tags", json=body)
    assert refused.status_code == 409
    assert refused.json() == {
        "status": "TooLong",
        "error": "CP1's list would hold 3 tags; it takes at most 2",
    }
    assert (await server.api.get("/API/LocalList/CP1")).json()["tagIds"] == ["A"]


async def test_the_api_document_types_the_chosen_tags(server: RunningServer) -> None:
    document = (await server.api.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "/API/LocalList/Tags" in document["paths"]
    assert schemas["TagChanges"]["properties"]["add"]["maxItems"] == MAX_CHANGE
    assert "Tags" in schemas["Assignment"]["properties"]["tags"]["enum"]


@pytest.mark.parametrize(
    ("path", "body", "code", "status"),
    [
        (
            "/API/LocalList/Assign",
            {"chargePointId": "CP1", "tags": "Tags"},
            400,
            "InvalidParameter",
        ),
        (
            "/API/LocalList/Assign",
            {"chargePointId": "CP1", "tags": "All", "tagIds": ["A"]},
            400,
            "InvalidParameter",
        ),
        (
            "/API/LocalList/Assign",
            {"chargePointId": "CP1", "tags": "Tags", "tagIds": ["T" * 21]},
            400,
            "InvalidParameter",
        ),
        (
            "/API/LocalList/Assign",
            {"chargePointId": "CP1", "tags": "Tags", "tagIds": ["A"] * (MAX_CHANGE + 1)},
            400,
            "InvalidParameter",
        ),
        (
            "/API/LocalList/Assign",
            {"chargePointId": "CP1", "tags": "Tags", "tagIds": ["NOPE"]},
            404,
            "NotFound",
        ),
        (
            "/API/LocalList/Assign",
            {"chargePointId": "NOPE", "tags": "Tags", "tagIds": []},
            404,
            "NotFound",
        ),
        ("/API/LocalList/Tags", {"chargePointId": "CP1", "add": "A"}, 400, "InvalidParameter"),
        ("/API/LocalList/Tags", {"add": ["A"]}, 400, "InvalidParameter"),
        ("/API/LocalList/Tags", {"chargePointId": "CP1", "add": ["A"]}, 409, "NotChosen"),
        ("/API/LocalList/Tags", {"chargePointId": "NOPE", "add": ["A"]}, 404, "NotFound"),
    ],
)
async def test_bad_input_is_refused(
    server: RunningServer, path: str, body: dict[str, Any], code: int, status: str
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "A")
    response = await server.api.post(path, json=body)
    assert response.status_code == code, response.text
    assert response.json()["status"] == status


async def test_a_bad_change_to_chosen_tags_changes_nothing(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "A")
    await choose(server, "CP1", ["A"])
    async with server.runtime.db.session() as session:
        await session.execute(update(LocalList).values(revision=7))
    for body, status in (
        ({"chargePointId": "CP1", "add": ["A", "NOPE"]}, "NotFound"),
        ({"chargePointId": "CP1", "add": ["A"], "remove": ["A"]}, "InvalidParameter"),
    ):
        response = await server.api.post("/API/LocalList/Tags", json=body)
        assert response.json()["status"] == status
    async with server.runtime.db.session() as session:
        row = await session.get(LocalList, "CP1")
        assert row is not None
        assert row.revision == 7
