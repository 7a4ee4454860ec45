"""The ``X-API-Key`` guard in front of every ``/API`` path, known or not."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from builders import add_charge_point
from ocpp_core.security import keys_equal
from servers import API_KEY, ConnectCharger, RunningServer

PATHS = [
    "/API/Status",
    "/API/Transactions",
    "/API/Transactions/1",
    "/API/Reset/CP1",
    "/API/Reset/CP1/Hard",
    "/API/Reset/CP1/Bogus",
    "/API/UnlockConnector/CP1/1",
    "/API/UnlockConnector/CP1/0",
    "/API/SetChargingLimit/CP1/1/16A",
    "/API/ClearChargingLimit/CP1/1",
    "/API/StartTransaction/CP1/1/TAG1",
    "/API/StopTransaction/CP1/1",
    "/API/GetConfiguration/CP1",
    "/API/ChangeConfiguration/CP1/HeartbeatInterval/60",
    "/API/TriggerMessage/CP1/StatusNotification",
    "/API/ChangeAvailability/CP1/1/Inoperative",
    "/API/ClearCache/CP1",
    "/API/DataTransfer/CP1/com.acme?data=x",
    "/API/Nope",
    "/API/",
    "/API/Payments/Create",
    "/API/status",
]

WRONG_KEYS = [
    {},
    {"X-API-Key": ""},
    {"X-API-Key": "wrong"},
    {"X-API-Key": API_KEY[:-1]},
    {"X-API-Key": API_KEY + "x"},
    {"X-API-Key": API_KEY.upper()},
    {"X-API-Key": f"{API_KEY} {API_KEY}"},
    {"Authorization": f"Bearer {API_KEY}"},
]


@pytest.mark.parametrize("path", PATHS)
async def test_without_the_right_key_every_api_path_is_401(
    server: RunningServer, charger: ConnectCharger, path: str
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")  # a live charger, so a leaked command would show
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        for headers in WRONG_KEYS:
            response = await client.get(path, headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["content-type"] == "application/json"
            assert response.json()["status"] == "Unauthorized"
            assert API_KEY not in response.text
    assert cp.requests == []


METHODS = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def test_other_methods_without_a_key_are_401_too(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        for path in ("/API/Status", "/API/Reset/CP1", "/API/Nope"):
            for method in METHODS:
                response = await client.request(method, path)
                assert response.status_code == 401, (method, path)
                assert response.json()["status"] == "Unauthorized"


async def test_with_the_key_an_unknown_path_is_404(server: RunningServer) -> None:
    for path in ("/API/Nope", "/API/", "/API/status", "/API/Payments/Nope", "/API/Reset"):
        for method in ("GET", *METHODS):
            response = await server.api.request(method, path)
            assert response.status_code == 404, (method, path)
            assert response.json()["status"] == "NotFound"


async def test_with_the_key_a_known_path_with_another_method_is_405(server: RunningServer) -> None:
    for path in ("/API/Status", "/API/Reset/CP1", "/API/Transactions/1"):
        for method in METHODS:
            response = await server.api.request(method, path)
            assert response.status_code == 405, (method, path)
            assert response.json()["status"] == "MethodNotAllowed"


async def test_with_the_key_a_known_path_answers(server: RunningServer) -> None:
    response = await server.api.get("/API/Status")
    assert (response.status_code, response.json()) == (200, [])


async def test_the_key_header_name_is_case_insensitive(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.get("/API/Status", headers={"x-api-key": API_KEY})
    assert response.status_code == 200


async def test_pages_outside_the_api_need_no_key(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200


@pytest.mark.parametrize(
    ("given", "expected", "equal"),
    [
        ("key", "key", True),
        (API_KEY, API_KEY, True),
        ("ключ-ключ-ключ-ключ", "ключ-ключ-ключ-ключ", True),
        ("", "", True),
        ("", API_KEY, False),
        (API_KEY[:-1], API_KEY, False),
        (API_KEY + "0", API_KEY, False),
        (API_KEY.upper(), API_KEY, False),
        ("a" * 10_000, API_KEY, False),
        ("é", "e\u0301", False),  # no normalisation: bytes decide
    ],
)
def test_keys_equal(given: str, expected: str, equal: bool) -> None:
    assert keys_equal(given, expected) is equal
    assert keys_equal(expected, given) is equal


def test_keys_equal_compares_equal_length_digests_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the lengths, the comparison is ``hmac.compare_digest`` on two SHA-256 digests."""
    seen: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # looked up at each call by keys_equal
    assert not keys_equal("short", API_KEY)
    assert keys_equal(API_KEY, API_KEY)
    assert seen == [
        (hashlib.sha256(b"short").digest(), hashlib.sha256(API_KEY.encode()).digest()),
        (hashlib.sha256(API_KEY.encode()).digest(), hashlib.sha256(API_KEY.encode()).digest()),
    ]
