"""Who gets a charger websocket: subprotocol, known id, Basic auth; answered in HTTP."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response
from websockets.typing import Subprotocol

from builders import NOW, PASSWORD, add_charge_point
from ocpp_core.config import OcppSettings
from ocpp_core.db.models import ChargePoint
from ocpp_core.security import verify_secret
from servers import RunningServer, basic_auth

OCPP16 = [Subprotocol("ocpp1.6")]


async def refused(
    url: str,
    *,
    subprotocols: Sequence[Subprotocol] | None = OCPP16,
    headers: dict[str, str] | None = None,
) -> Response:
    """Attempt the upgrade, expecting an HTTP refusal, and return that response."""
    with pytest.raises(InvalidStatus) as refusal:
        async with connect(url, subprotocols=subprotocols, additional_headers=headers):
            pass
    return refusal.value.response


async def heartbeat_over(url: str, headers: dict[str, str] | None = None) -> str | None:
    """Connect, send a Heartbeat, return the negotiated subprotocol after a CALLRESULT."""
    async with connect(url, subprotocols=OCPP16, additional_headers=headers) as websocket:
        await websocket.send(json.dumps([2, "hb-1", "Heartbeat", {}]))
        answer = json.loads(await websocket.recv())
        assert answer[:2] == [3, "hb-1"]
        assert answer[2]["currentTime"].endswith("Z")
        return websocket.subprotocol


async def rejected_count(server: RunningServer, status: int) -> float:
    metrics = (await server.api.get("/metrics")).text
    prefix = f'ocpp_rejected_connections_total{{status="{status}"}} '
    lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


async def test_without_a_supported_subprotocol_the_upgrade_is_a_400(
    server: RunningServer,
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    url = f"{server.ws_url}/CP1"
    assert (await refused(url, subprotocols=None)).status_code == 400
    assert (await refused(url, subprotocols=[Subprotocol("ocpp2.0")])).status_code == 400
    assert await rejected_count(server, 400) == 2
    assert "CP1" not in server.runtime.registry


async def negotiated(url: str, offered: Sequence[str]) -> str | None:
    async with connect(url, subprotocols=[Subprotocol(p) for p in offered]) as websocket:
        return websocket.subprotocol


async def test_the_first_supported_subprotocol_in_our_order_wins(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    url = f"{server.ws_url}/CP1"
    assert await negotiated(url, ["ocpp2.1", "ocpp2.0.1", "ocpp1.6"]) == "ocpp1.6"
    assert await negotiated(url, ["ocpp2.1", "ocpp2.0.1"]) == "ocpp2.0.1"
    assert await negotiated(url, ["ocpp2.1"]) == "ocpp2.1"


@pytest.mark.parametrize(
    "ocpp_settings", [OcppSettings(subprotocols=("ocpp2.0.1", "ocpp1.6"))], indirect=False
)
async def test_the_preference_order_comes_from_the_settings(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    url = f"{server.ws_url}/CP1"
    assert await negotiated(url, ["ocpp1.6", "ocpp2.0.1"]) == "ocpp2.0.1"
    assert await negotiated(url, ["ocpp1.6"]) == "ocpp1.6"
    assert (await refused(url, subprotocols=[Subprotocol("ocpp2.1")])).status_code == 400


async def test_refusals_are_not_logged_as_server_errors(
    server: RunningServer, server_errors: list[logging.LogRecord]
) -> None:
    await add_charge_point(server.runtime.db, "CP1", password=PASSWORD)
    assert (await refused(f"{server.ws_url}/CP1", subprotocols=None)).status_code == 400
    assert (await refused(f"{server.ws_url}/NOBODY")).status_code == 412
    assert (await refused(f"{server.ws_url}/CP1")).status_code == 401
    assert [record.getMessage() for record in server_errors] == []


async def test_an_unknown_charger_is_a_412(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    assert (await refused(f"{server.ws_url}/NOBODY")).status_code == 412
    assert await rejected_count(server, 412) == 1
    assert len(server.runtime.registry) == 0


async def test_a_missing_id_is_a_400(server: RunningServer) -> None:
    assert (await refused(f"{server.ws_url}/")).status_code == 400


async def test_plain_http_on_the_ocpp_path_is_a_400(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.http_url}/OCPP/CP1")
    assert response.status_code == 400
    assert "websocket" in response.text


@pytest.mark.parametrize("path", ["CP1", "x/CP1", "CP1/", "some/deeper/prefix/CP1"])
async def test_the_id_is_the_last_path_segment(server: RunningServer, path: str) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    assert await heartbeat_over(f"{server.ws_url}/{path}") == "ocpp1.6"
    await server.runtime.presence.flush()
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
    assert row is not None
    assert row.last_seen_at is not None


async def test_the_subprotocol_is_chosen_from_several_offered(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    offered = [Subprotocol("ocpp2.0.1"), Subprotocol("ocpp1.6")]
    async with connect(f"{server.ws_url}/CP1", subprotocols=offered) as websocket:
        assert websocket.subprotocol == "ocpp1.6"


@pytest.mark.parametrize(
    "headers",
    [
        None,
        basic_auth("CP1", "wrong-password-0123456789"),
        basic_auth("CP2", PASSWORD),
        basic_auth("CP1", ""),
        {"Authorization": "Bearer " + PASSWORD},
        {"Authorization": "Basic not-base64!"},
        basic_auth("CPü", PASSWORD),
        {"Authorization": "Basic CPü"},
        {"Authorization": "Basic " + base64.b64encode(b"CP1\xfc:" + PASSWORD.encode()).decode()},
        {"Authorization": "Basic " + base64.b64encode(f"CP1{PASSWORD}".encode()).decode()},
        basic_auth("CP1", "x" * 5000),
    ],
    ids=[
        "none",
        "wrong-password",
        "wrong-user",
        "empty-password",
        "not-basic",
        "malformed",
        "non-ascii-user",
        "non-ascii-header",
        "not-utf8",
        "no-colon",
        "huge",
    ],
)
async def test_wrong_credentials_are_a_401_with_a_challenge(
    server: RunningServer,
    headers: dict[str, str] | None,
    server_errors: list[logging.LogRecord],
) -> None:
    await add_charge_point(server.runtime.db, "CP1", password=PASSWORD)
    await add_charge_point(server.runtime.db, "CP2", password=PASSWORD)
    answer = await refused(f"{server.ws_url}/CP1", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic ")
    assert await rejected_count(server, 401) == 1
    assert "CP1" not in server.runtime.registry
    assert [record.getMessage() for record in server_errors] == []


async def test_right_credentials_connect(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1", password=PASSWORD)
    assert await heartbeat_over(f"{server.ws_url}/CP1", basic_auth("CP1", PASSWORD)) == "ocpp1.6"


async def test_the_password_is_stored_hashed(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1", password=PASSWORD)
    await add_charge_point(server.runtime.db, "CP2", password=PASSWORD)
    async with server.runtime.db.session() as session:
        first = await session.get(ChargePoint, "CP1")
        second = await session.get(ChargePoint, "CP2")
    assert first is not None
    assert first.password_hash is not None
    assert second is not None
    assert second.password_hash is not None
    assert PASSWORD not in first.password_hash
    assert first.password_hash != second.password_hash  # salted
    assert verify_secret(PASSWORD, first.password_hash)
    assert not verify_secret(PASSWORD + "x", first.password_hash)


async def test_a_charger_without_a_password_needs_no_credentials(server: RunningServer) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    assert await heartbeat_over(f"{server.ws_url}/CP1") == "ocpp1.6"


async def test_credentials_too_large_for_the_handshake_are_a_431_at_once(
    server: RunningServer, server_errors: list[logging.LogRecord]
) -> None:
    await add_charge_point(server.runtime.db, "CP1", password=PASSWORD)
    headers = basic_auth("CP1", "x" * 100_000)

    # Without an answer the client gives up with a TimeoutError instead.
    answer = await refused(f"{server.ws_url}/CP1", headers=headers)

    assert answer.status_code == 431
    assert "CP1" not in server.runtime.registry
    assert [record.getMessage() for record in server_errors] == []


@pytest.mark.parametrize(
    "path",
    ["%2E", "%2E%2E", "CP%201", "CP%3F1", "C" * 49, "Zo%C3%AB"],
    ids=["dot", "dot-dot", "space", "question-mark", "too-long", "non-ascii"],
)
async def test_an_id_outside_the_charge_point_id_rule_is_a_400_before_any_lookup(
    server: RunningServer, path: str, server_errors: list[logging.LogRecord]
) -> None:
    # Rows made before the rule (or by hand) must not let such an id in.
    async with server.runtime.db.session() as session:
        for odd in ("..", ".", "CP 1", "CP?1", "C" * 49, "Zoë"):
            session.add(ChargePoint(id=odd, name=odd, created_at=NOW))

    answer = await refused(f"{server.ws_url}/{path}")

    assert answer.status_code == 400
    assert b"not a charge point id: use 1-48 of the characters" in answer.body
    assert await rejected_count(server, 400) == 1
    assert len(server.runtime.registry) == 0
    assert [record.getMessage() for record in server_errors] == []
