"""What a caller can make the server hold: no body without the key, none over the limit.

Each refusal must come back while the client is still sending, so the tests send
only the start of a large body and wait for the answer: a server that read the
whole body first would never answer them.
"""

from __future__ import annotations

import json

import pytest

from ocpp_core.config import HttpSettings
from rawhttp import chunk, header, raw_connection, request_head
from servers import API_KEY, RunningServer

LIMIT = HttpSettings().api_max_body
CREATE = "/API/Payments/Create"
HUGE = 200 * 1024 * 1024


@pytest.mark.parametrize("key", [None, "wrong-key-0123456789"])
async def test_a_big_post_without_the_key_is_refused_before_its_body_is_read(
    server: RunningServer, key: str | None
) -> None:
    keyed = {"X_API_Key": key} if key else {}
    head = request_head("POST", CREATE, Content_Type="application/json", **keyed)
    head = head.replace(b"\r\n\r\n", f"\r\nContent-Length: {HUGE}\r\n\r\n".encode())
    async with raw_connection(server.port) as connection:
        await connection.send(head + b'{"chargePointId": "' + b"x" * 65_536)

        status, answer = await connection.json_response()

        assert (status, answer["status"]) == (401, "Unauthorized")
        assert await connection.closed_by_server()  # the rest of the body is never read


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(
    server: RunningServer,
) -> None:
    head = request_head(
        "POST",
        CREATE,
        X_API_Key=API_KEY,
        Content_Type="application/json",
        Content_Length=str(LIMIT + 1),
    )
    async with raw_connection(server.port) as connection:
        await connection.send(head + b"{")

        status, answer = await connection.json_response()

        assert (status, answer["status"]) == (413, "PayloadTooLarge")
        assert answer["error"] == f"request body over {LIMIT} bytes"
        assert await connection.closed_by_server()


async def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit(
    server: RunningServer,
) -> None:
    head = request_head(
        "POST",
        CREATE,
        X_API_Key=API_KEY,
        Content_Type="application/json",
        Transfer_Encoding="chunked",
    )
    async with raw_connection(server.port) as connection:
        # More than the limit, and no end: the answer can only come from counting.
        await connection.send(head + chunk(b"[" + b" " * (LIMIT // 2)) + chunk(b" " * LIMIT))

        status, answer = await connection.json_response()

        assert (status, answer["status"]) == (413, "PayloadTooLarge")
        assert await connection.closed_by_server()


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_just_under_the_limit_is_answered_as_usual(
    server: RunningServer, chunked: bool
) -> None:
    request = {"chargePointId": "NOPE", "connectorId": 1, "chargeTagId": "T1"}
    plain = await server.api.post(CREATE, json=request)
    body = json.dumps(request).encode()
    body += b" " * (LIMIT - len(body))
    head = request_head("POST", CREATE, X_API_Key=API_KEY, Content_Type="application/json")
    length = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(len(body))}
    extra = "".join(f"{name}: {value}\r\n" for name, value in length.items())
    head = head.replace(b"\r\n\r\n", f"\r\n{extra}\r\n".encode())
    payload = chunk(body[:100]) + chunk(body[100:]) + b"0\r\n\r\n" if chunked else body
    async with raw_connection(server.port) as connection:
        await connection.send(head + payload)

        status, head_bytes, answer = await connection.response()

    assert plain.status_code != 413
    assert (status, json.loads(answer)) == (plain.status_code, plain.json())
    assert header(head_bytes, b"connection") is None  # kept alive, as any answer


async def test_a_body_of_unknown_fields_is_answered_with_the_first_few_problems(
    server: RunningServer,
) -> None:
    request: dict[str, object] = {"chargePointId": "CP1", "chargeTagId": "T1"}
    request |= {f"unknown{n}": n for n in range(500)}

    response = await server.api.post(CREATE, json=request)

    assert response.status_code == 400
    problems = response.json()["error"].split("; ")
    assert problems[0] == "body.unknown0: Extra inputs are not permitted"
    assert problems[10:] == ["and 490 more"]
