"""The management app's client of the server's API, against a real server."""

from __future__ import annotations

import pytest

from builders import add_charge_point
from ocpp_core.management.server_api import MAX_STATUS_IDS, ServerApi
from servers import API_KEY, ConnectCharger, RunningServer


async def test_status_asks_for_the_chargers_given_and_gets_the_connected_ones(
    server: RunningServer, charger: ConnectCharger
) -> None:
    for cp_id in ("CP1", "CP2", "CP3"):
        await add_charge_point(server.runtime.db, cp_id)
        await charger(cp_id)
    await add_charge_point(server.runtime.db, "CP4")
    api = ServerApi(server.http_url, API_KEY, timeout=10)
    try:
        asked = await api.status({"CP3", "CP1", "CP4"})
        nothing = await api.status(set())
        with pytest.raises(ValueError, match="at most 500"):
            await api.status({f"CP{n}" for n in range(MAX_STATUS_IDS + 1)})
    finally:
        await api.close()

    assert asked is not None
    assert [c.id for c in asked] == ["CP1", "CP3"]  # CP2 not asked for, CP4 offline
    assert nothing == []


async def test_status_is_none_while_the_server_can_not_be_reached() -> None:
    api = ServerApi("http://127.0.0.1:9", API_KEY, timeout=2)
    try:
        assert await api.status({"CP1", "CP2"}) is None
    finally:
        await api.close()
