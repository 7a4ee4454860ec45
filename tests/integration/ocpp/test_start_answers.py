"""A start's answer follows the tag as an operator set it through the API, on both versions:
Accepted, Blocked, Expired, Invalid, and ConcurrentTx when the server denies a second
session of a tag that charges already."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ocpp.v16 import call

from builders import NOW, add_charge_point, timestamp
from events201 import transaction_event
from ocpp_core.config import OcppSettings
from servers import ConnectCharger, ConnectCharger201, RunningServer


@pytest.fixture
def ocpp_settings() -> OcppSettings:
    return OcppSettings(
        command_timeout=3,
        keepalive_interval=5,
        keepalive_timeout=5,
        deny_concurrent_tx=True,
        local_list_sync_interval=0,
    )


async def set_tags(server: RunningServer) -> None:
    for body in (
        {"id": "GOOD"},
        {"id": "LOCKED", "blocked": True},
        {"id": "OLD", "expiresAt": "2020-01-01T00:00:00Z"},
    ):
        response = await server.api.post("/API/Tags", json=body)
        assert response.status_code == 200, response.text


async def test_16_start_answers(server: RunningServer, charger: ConnectCharger) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await set_tags(server)
    cp = await charger("CP1")
    answers = {}
    for connector, tag in enumerate(("GOOD", "LOCKED", "OLD", "UNKNOWN", "GOOD"), start=1):
        started = await cp.call(call.StartTransaction(connector, tag, 0, timestamp()))
        answers[connector] = started.id_tag_info["status"]
    assert answers == {
        1: "Accepted",
        2: "Blocked",
        3: "Expired",
        4: "Invalid",
        5: "ConcurrentTx",
    }
    # Authorize is no start: the tag that charges may still stop its session.
    assert (await cp.call(call.Authorize("GOOD"))).id_tag_info["status"] == "Accepted"


async def test_201_start_answers(server: RunningServer, charger201: ConnectCharger201) -> None:
    await add_charge_point(server.runtime.db, "CP2")
    await set_tags(server)
    cp = await charger201("CP2")
    answers = {}
    for evse, tag in enumerate(("GOOD", "LOCKED", "OLD", "UNKNOWN", "GOOD"), start=1):
        at = NOW + timedelta(minutes=evse)
        started = await transaction_event(
            cp, "Started", f"tx-{evse}", 0, at, trigger="Authorized", evse=evse, tag=tag
        )
        answers[evse] = started.id_token_info["status"]
    assert answers == {
        1: "Accepted",
        2: "Blocked",
        3: "Expired",
        4: "Invalid",
        5: "ConcurrentTx",
    }
