"""``GET /health`` of a single process: its database only, and no API key asked."""

from __future__ import annotations

import httpx

from servers import RunningServer


async def test_health_answers_without_a_key_when_the_database_does(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "accepting": True, "chargers": 0}
    assert response.headers["cache-control"] == "no-store"
