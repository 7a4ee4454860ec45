"""CSRF: the session's token, and the middleware that checks every unsafe request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ocpp_core.management import csrf
from ocpp_core.management.csrf import CsrfMiddleware

TOKEN = "session-token-0123456789abcdefghijklmnop"


def test_a_token_is_made_once_per_session() -> None:
    session: dict[str, Any] = {}

    first = csrf.token(session)

    assert len(first) >= 43  # 32 random bytes
    assert csrf.token(session) == first


def test_rotating_replaces_the_token() -> None:
    session: dict[str, Any] = {}
    before = csrf.token(session)

    after = csrf.rotate(session)

    assert after != before
    assert csrf.token(session) == after


@pytest.mark.parametrize(
    ("session", "given", "ok"),
    [
        ({"csrf": TOKEN}, TOKEN, True),
        ({"csrf": TOKEN}, TOKEN + "x", False),
        ({"csrf": TOKEN}, "", False),
        ({"csrf": TOKEN}, None, False),
        ({}, "", False),  # no session token matches nothing, not even nothing
        ({"csrf": 42}, "42", False),
        ({"csrf": TOKEN}, "ünïcode", False),
    ],
)
def test_matching(session: dict[str, Any], given: str | None, ok: bool) -> None:
    assert csrf.matches(session, given) is ok


class FakeSession:
    """Puts a fixed session into the scope, as SessionMiddleware would."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["session"] = {"csrf": TOKEN}
        await self.app(scope, receive, send)


async def echo(request: Request) -> Response:
    async with request.form() as form:
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
    return PlainTextResponse(f"{request.method} {fields}")


async def rejected(request: Request) -> Response:
    return PlainTextResponse("forged", status_code=403)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        routes=[Route("/", echo, methods=["GET", "POST", "PUT", "DELETE"])],
        middleware=[Middleware(FakeSession), Middleware(CsrfMiddleware, rejected=rejected)],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_safe_methods_pass_without_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_unsafe_methods_need_the_token(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/", data={"a": "1"})

    assert (response.status_code, response.text) == (403, "forged")


async def test_the_form_field_is_accepted_and_the_body_still_reaches_the_app(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/", data={"csrf_token": TOKEN, "a": "1"})

    assert response.status_code == 200
    assert response.text == f"POST {{'csrf_token': '{TOKEN}', 'a': '1'}}"


async def test_a_multipart_form_is_read_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/", data={"csrf_token": TOKEN}, files={"f": ("a.txt", b"hello", "text/plain")}
    )

    assert response.status_code == 200


async def test_the_header_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/", headers={"X-CSRF-Token": TOKEN}, data={"a": "1"})

    assert response.status_code == 200


async def test_a_json_body_cannot_carry_the_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/", json={"csrf_token": TOKEN})

    assert response.status_code == 403
