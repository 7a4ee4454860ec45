"""Local lists in a cluster: the sweep of one node brings up to date the list of a charger
connected to another, its SendLocalList going through the cluster's router."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cli_harness import provision
from cluster_harness import api, charger16, in_process_node, node
from ocpp_core.config import OcppSettings, Settings

pytestmark = [pytest.mark.postgresql, pytest.mark.long]

CP = "CL-LIST"
SCENARIO_TIMEOUT = 90.0


@pytest.fixture
def ocpp_settings() -> OcppSettings:
    # Node b (this process) does not sweep: only node a's sweep can send the list.
    return OcppSettings(local_list_sync_interval=0)


@pytest.fixture
def fleet(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, [CP], ["CARD1", "CARD2"])
    return database_url


async def test_a_nodes_sweep_sends_the_list_to_a_charger_on_another_node(
    fleet: str, tmp_path: Path, prefix: str, settings: Settings
) -> None:
    sweeping = {"OCPP_CORE_OCPP__LOCAL_LIST_SYNC_INTERVAL": "0.5"}
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        node(fleet, tmp_path, "a", prefix, env=sweeping),
        in_process_node(settings, "b", prefix) as b,
        api(b) as api_b,
        charger16(b.ws_url(CP)) as charger,
    ):
        assign = await api_b.post(
            "/API/LocalList/Assign", json={"chargePointId": CP, "tags": "All"}
        )
        assert assign.status_code == 200
        while True:
            action, request = await charger.received.get()
            if action == "SendLocalList":
                break
        assert request["update_type"] == "Full"
        assert [entry["id_tag"] for entry in request["local_authorization_list"]] == [
            "CARD1",
            "CARD2",
        ]
        # A tag blocked through node b: node a's sweep sends the difference.
        await api_b.post("/API/Tags", json={"id": "CARD2", "blocked": True})
        while True:
            action, request = await charger.received.get()
            if action == "SendLocalList":
                break
        assert request["update_type"] == "Differential"
        assert request["local_authorization_list"] == [
            {"id_tag": "CARD2", "id_tag_info": {"status": "Blocked"}}
        ]
