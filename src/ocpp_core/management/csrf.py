"""Cross-site request forgery: a token bound to the session, checked on every unsafe request.

The token lives in the signed session cookie and is echoed by each form (a
hidden ``csrf_token`` field) or by htmx (an ``X-CSRF-Token`` header). Another
site can make a browser send the cookie, but can't read the token to echo it.
The check is a middleware, not a per-route dependency, so no form can forget it.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpp_core.security import keys_equal

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

Rejection = Callable[[Request], Awaitable[Response]]


def token(session: MutableMapping[str, Any]) -> str:
    """The session's token, made on first use."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str):
        value = rotate(session)
    return value


def rotate(session: MutableMapping[str, Any]) -> str:
    """A fresh token, e.g. at login, so one seen before it is worth nothing after."""
    value = secrets.token_urlsafe(32)
    session[SESSION_KEY] = value
    return value


def matches(session: Mapping[str, Any], given: str | None) -> bool:
    expected = session.get(SESSION_KEY)
    if not isinstance(expected, str) or not given:
        return False
    return keys_equal(given, expected)


class CsrfMiddleware:
    """Rejects unsafe requests whose token doesn't match the session's; runs inside sessions."""

    def __init__(self, app: ASGIApp, *, rejected: Rejection) -> None:
        self.app = app
        self.rejected = rejected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replaying(body, receive)
        given = Request(scope).headers.get(HEADER) or await _form_token(scope, body)
        if not matches(scope["session"], given):
            response = await self.rejected(Request(scope, replay))
            await response(scope, replay, send)
            return
        await self.app(scope, replay, send)


async def _read_body(receive: Receive) -> bytes:
    """The whole body; its size is bounded by the app's BodyLimit, outside this middleware."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _form_token(scope: Scope, body: bytes) -> str | None:
    request = Request(scope, _replaying(body, _no_more))
    if not request.headers.get("content-type", "").startswith(_FORM_TYPES):
        return None
    try:
        async with request.form() as form:
            value = form.get(FORM_FIELD)
    except HTTPException:  # a malformed multipart body
        return None
    return value if isinstance(value, str) else None


def _replaying(body: bytes, receive: Receive) -> Receive:
    """Hands the body read once to the app, then whatever the client sends next."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _no_more() -> Message:
    return {"type": "http.disconnect"}
