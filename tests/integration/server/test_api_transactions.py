"""``GET /API/Transactions`` (filters) and ``GET /API/Transactions/{id}``.

The transactions are made the real way: chargers send StartTransaction,
MeterValues and StopTransaction over their websockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call

from builders import NOW, add_charge_point, add_tag, timestamp
from chargers import TestCharger
from servers import ConnectCharger, RunningServer

Row = dict[str, Any]


@dataclass
class Fleet:
    """Four transactions on two chargers, started an hour apart, the newest still open."""

    ids: dict[str, int]


async def _session(
    cp: TestCharger,
    connector: int,
    tag: str,
    start: datetime,
    meter_start: int,
    meter_stop: int | None,
) -> int:
    started = await cp.call(call.StartTransaction(connector, tag, meter_start, timestamp(start)))
    tx_id: int = started.transaction_id
    if meter_stop is not None:
        await cp.call(
            call.StopTransaction(
                meter_stop,
                timestamp(start + timedelta(minutes=30)),
                tx_id,
                id_tag=tag,
                reason="Local",
            )
        )
    return tx_id


@pytest.fixture
async def fleet(server: RunningServer, charger: ConnectCharger) -> Fleet:
    db = server.runtime.db
    for cp_id in ("CP1", "CP2"):
        await add_charge_point(db, cp_id)
    for tag in ("ALICE", "BOB"):
        await add_tag(db, tag)
    one, two = await charger("CP1"), await charger("CP2")
    return Fleet(
        {
            "a": await _session(one, 1, "ALICE", NOW, 1_000, 8_000),
            "b": await _session(one, 2, "BOB", NOW + timedelta(hours=1), 0, 11_000),
            "c": await _session(two, 1, "ALICE", NOW + timedelta(hours=2), 50_000, 52_500),
            "d": await _session(one, 1, "BOB", NOW + timedelta(hours=3), 8_000, None),
        }
    )


async def _search(server: RunningServer, **params: str | int) -> list[Row]:
    response = await server.api.get("/API/Transactions", params=params)
    assert response.status_code == 200, response.text
    rows: list[Row] = response.json()
    return rows


def _names(fleet: Fleet, rows: list[Row]) -> list[str]:
    by_id = {tx_id: name for name, tx_id in fleet.ids.items()}
    return [by_id[row["id"]] for row in rows]


async def test_all_transactions_newest_first(server: RunningServer, fleet: Fleet) -> None:
    assert _names(fleet, await _search(server)) == ["d", "c", "b", "a"]


FILTERS: list[tuple[dict[str, str | int], list[str]]] = [
    ({"cp": "CP1"}, ["d", "b", "a"]),
    ({"cp": "CP2"}, ["c"]),
    ({"cp": "CP9"}, []),
    ({"cp": "CP1", "conn": 1}, ["d", "a"]),
    ({"conn": 2}, ["b"]),
    ({"tag": "ALICE"}, ["c", "a"]),
    ({"tag": "BOB", "cp": "CP1", "conn": 1}, ["d"]),
    ({"since": "2026-11-28T13:00:00Z"}, ["d", "c", "b"]),
    ({"until": "2026-11-28T13:00:00Z"}, ["a"]),
    ({"since": "2026-11-28T13:00:00Z", "until": "2026-11-28T15:00:00Z"}, ["c", "b"]),
    ({"since": "2026-11-28T15:00:00+02:00"}, ["d", "c", "b"]),  # 13:00 UTC
    ({"since": "2026-11-28T12:30:00Z", "tag": "ALICE"}, ["c"]),
    ({"limit": 2}, ["d", "c"]),
]


async def test_filters(server: RunningServer, fleet: Fleet) -> None:
    for params, expected in FILTERS:
        assert _names(fleet, await _search(server, **params)) == expected, params


async def test_a_finished_transaction_in_full(server: RunningServer, fleet: Fleet) -> None:
    response = await server.api.get(f"/API/Transactions/{fleet.ids['a']}")
    assert response.status_code == 200
    assert response.json() == {
        "id": fleet.ids["a"],
        "uid": None,
        "chargePointId": "CP1",
        "connectorId": 1,
        "startTag": "ALICE",
        "startAt": "2026-11-28T12:00:00Z",
        "meterStartWh": 1_000,
        "startResult": "Accepted",
        "stopTag": "ALICE",
        "stopAt": "2026-11-28T12:30:00Z",
        "meterStopWh": 8_000,
        "stopReason": "Local",
        "energyWh": 7_000,
        "reviewReason": None,
    }


async def test_an_open_transaction_has_no_energy_yet(server: RunningServer, fleet: Fleet) -> None:
    row = (await server.api.get(f"/API/Transactions/{fleet.ids['d']}")).json()
    assert (row["stopAt"], row["meterStopWh"], row["energyWh"]) == (None, None, None)
    assert row["startAt"] == "2026-11-28T15:00:00Z"


async def test_the_search_and_the_single_view_agree(server: RunningServer, fleet: Fleet) -> None:
    for row in await _search(server):
        assert (await server.api.get(f"/API/Transactions/{row['id']}")).json() == row
    energies = {row["id"]: row["energyWh"] for row in await _search(server)}
    assert energies == {
        fleet.ids["a"]: 7_000,
        fleet.ids["b"]: 11_000,
        fleet.ids["c"]: 2_500,
        fleet.ids["d"]: None,
    }


async def test_an_implausible_stop_is_kept_for_review_without_energy(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_tag(server.runtime.db, "ALICE")
    cp = await charger("CP1")
    # 10 MWh in half an hour: no charger delivers 20 MW.
    tx_id = await _session(cp, 1, "ALICE", NOW, 0, 10_000_000)
    row = (await server.api.get(f"/API/Transactions/{tx_id}")).json()
    assert row["meterStopWh"] == 10_000_000
    assert row["energyWh"] is None
    assert row["reviewReason"]


async def test_a_rejected_start_is_listed_with_its_result(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    started = await cp.call(call.StartTransaction(1, "STRANGER", 0, timestamp()))
    [row] = await _search(server, tag="STRANGER")
    assert (row["id"], row["startResult"]) == (started.transaction_id, "Invalid")


async def test_an_unknown_id_is_404(server: RunningServer) -> None:
    response = await server.api.get("/API/Transactions/424242")
    assert response.status_code == 404
    assert response.json()["status"] == "NotFound"


async def test_a_time_without_zone_is_400(server: RunningServer) -> None:
    for name in ("since", "until"):
        response = await server.api.get("/API/Transactions", params={name: "2026-11-28T12:00:00"})
        assert response.status_code == 400
        assert response.json()["status"] == "InvalidTime"
        assert name in response.json()["error"]


async def test_a_malformed_filter_or_id_is_400(server: RunningServer) -> None:
    for query in (
        "since=yesterday",
        "until=2026-13-45T00:00:00Z",
        "conn=-1",
        "conn=one",
        "limit=0",
        f"cp={'c' * 101}",
        f"tag={'t' * 51}",
    ):
        response = await server.api.get(f"/API/Transactions?{query}")
        assert (response.status_code, response.json()["status"]) == (400, "InvalidParameter")
        assert query.split("=")[0] in response.json()["error"], query
    for transaction_id in ("abc", "1.5"):
        response = await server.api.get(f"/API/Transactions/{transaction_id}")
        assert (response.status_code, response.json()["status"]) == (400, "InvalidParameter")
