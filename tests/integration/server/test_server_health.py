"""``GET /health`` of a single process: its database only, and no API key asked.

Without the key it says only whether the node serves and which part fails; the
node's id and its charger count are for the holder of the API key.
"""

from __future__ import annotations

import httpx

from builders import add_charge_point
from servers import API_KEY, ConnectCharger, RunningServer


async def test_health_answers_without_a_key_when_the_database_does(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "accepting": True}
    assert response.headers["cache-control"] == "no-store"


async def test_health_counts_the_chargers_only_for_the_api_key(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP-HEALTH")
    await charger("CP-HEALTH")
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        wrong = await client.get("/health", headers={"X-API-Key": "not-the-key-0123456789abcdef"})
        right = await client.get("/health", headers={"X-API-Key": API_KEY})

    assert (wrong.status_code, wrong.json()) == (
        200,
        {"status": "ok", "database": "ok", "accepting": True},
    )
    assert (right.status_code, right.json()) == (
        200,
        {"status": "ok", "database": "ok", "accepting": True, "chargers": 1},
    )
