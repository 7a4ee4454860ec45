"""``/API/Tags``: an operator's script creates, changes and deletes tags."""

from __future__ import annotations

from typing import Any

import pytest

from servers import RunningServer


async def test_a_tag_is_created_changed_read_and_deleted(server: RunningServer) -> None:
    body = {"id": "CARD1", "name": "Ann", "parentId": "FLEET", "expiresAt": "2030-05-01T00:00:00Z"}
    created = await server.api.post("/API/Tags", json=body)
    assert created.status_code == 200
    assert created.json() == {
        "id": "CARD1",
        "name": "Ann",
        "parentId": "FLEET",
        "expiresAt": "2030-05-01T00:00:00Z",
        "blocked": False,
        "created": True,
    }
    changed = await server.api.post("/API/Tags", json={"id": "CARD1", "blocked": True})
    assert changed.json() == {
        "id": "CARD1",
        "name": None,
        "parentId": None,
        "expiresAt": None,
        "blocked": True,
        "created": False,
    }
    read = await server.api.get("/API/Tags/CARD1")
    assert read.json()["blocked"] is True
    deleted = await server.api.post("/API/Tags/Delete", json={"id": "CARD1"})
    assert deleted.json() == {"status": "Deleted"}
    gone = await server.api.get("/API/Tags/CARD1")
    assert (gone.status_code, gone.json()["status"]) == (404, "NotFound")
    again = await server.api.post("/API/Tags/Delete", json={"id": "CARD1"})
    assert again.status_code == 404


async def test_tags_are_listed_a_page_at_a_time(server: RunningServer) -> None:
    for tag, group in (("A", "FLEET"), ("B", None), ("C", "FLEET")):
        body = {"id": tag, "parentId": group}
        assert (await server.api.post("/API/Tags", json=body)).status_code == 200
    first = (await server.api.get("/API/Tags", params={"limit": 2})).json()
    assert [tag["id"] for tag in first] == ["A", "B"]
    rest = (await server.api.get("/API/Tags", params={"after": "B"})).json()
    assert [tag["id"] for tag in rest] == ["C"]
    fleet = (await server.api.get("/API/Tags", params={"group": "FLEET"})).json()
    assert [tag["id"] for tag in fleet] == ["A", "C"]
    for bad in ({"limit": 0}, {"limit": 1001}, {"after": "X" * 21}):
        refused = await server.api.get("/API/Tags", params=bad)
        assert refused.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"id": ""},
        {"id": "X" * 21},
        {"id": "CARD", "parentId": "P" * 21},
        {"id": "CARD", "name": "n" * 201},
        {"id": "CARD", "expiresAt": "2030-05-01T00:00:00"},  # no time zone
        {"id": "CARD", "blocked": "perhaps"},
        {"name": "no id"},
    ],
)
async def test_bad_tags_are_refused(server: RunningServer, body: dict[str, Any]) -> None:
    response = await server.api.post("/API/Tags", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == "InvalidParameter"
    assert (await server.api.post("/API/Tags/Delete", json={"id": "X" * 21})).status_code == 400
