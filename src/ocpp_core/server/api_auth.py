"""The ``/API`` guard, the runtime dependency and the JSON error shape.

:class:`ApiKeyGate` refuses a request without the key before its body is read:
FastAPI reads and parses a body before it solves a route's dependencies, so a
keyless caller could otherwise make the server hold and parse whatever it sent.
Every route under ``/API`` also depends on :func:`require_api_key`, including
the catch-all at the end, so an unknown path without a key is a 401, not a 404
that would tell a scanner which paths exist, and the schema shows the key.
Every error, a bad parameter included, answers ``{"status": ..., "error": ...}``
(a bad parameter is a 400, not FastAPI's 422 with its own shape; an unreachable
database, or a cluster's unreachable Redis, a 503).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.domain.command_errors import RouteUnavailable
from ocpp_core.runtime import Runtime
from ocpp_core.security import keys_equal

API_KEY_HEADER = "X-API-Key"
_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
_UNAUTHORIZED = {"status": "Unauthorized", "error": "missing or wrong X-API-Key header"}


class ApiError(Exception):
    """An API answer other than 200, with the JSON body the caller gets."""

    def __init__(self, status_code: int, status: str, **details: Any) -> None:
        super().__init__(status)
        self.status_code = status_code
        self.body = {"status": status, **details}


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def require_api_key(
    runtime: RuntimeDep, key: Annotated[str | None, Security(_api_key_header)]
) -> None:
    if not key_matches(key, runtime.settings.api_key.get_secret_value()):
        raise ApiError(401, **_UNAUTHORIZED)


def key_matches(given: str | None, expected: str) -> bool:
    return given is not None and keys_equal(given, expected)


class ApiKeyGate:
    """Answers 401 to an ``/API`` request without the key, before one byte of its body is read.

    The Stripe webhook, which carries its own proof instead, is taken before this
    (see ``ServerApp``).
    """

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._refuses(scope):
            # Closed after the answer: the body the caller may still be sending is never read.
            headers = {"connection": "close"}
            await JSONResponse(_UNAUTHORIZED, 401, headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refuses(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if not (path == "/API" or path.startswith("/API/")):
            return False
        return not key_matches(Headers(scope=scope).get(API_KEY_HEADER), self.api_key)


def api_router(tag: str) -> APIRouter:
    return APIRouter(prefix="/API", tags=[tag], dependencies=[Depends(require_api_key)])


fallback = api_router("other")


_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@fallback.api_route("/{path:path}", methods=_ANY_METHOD, include_in_schema=False)
async def unknown_path(request: Request, path: str) -> None:
    # Reached, after the key check, by any request no other route takes in full.
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] is Match.PARTIAL:  # the path exists, not the method
            raise ApiError(405, "MethodNotAllowed", error=f"{request.method} /API/{path}")
    raise ApiError(404, "NotFound", error=f"no API endpoint /API/{path}")


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return JSONResponse(error.body, status_code=error.status_code)


# A body of unknown fields has one problem per field: describing thousands of them took
# longer than anything else the request cost, on the loop that serves the chargers.
_MAX_PROBLEMS = 10


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    found = error.errors()
    problems = [
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in found[:_MAX_PROBLEMS]
    ]
    if len(found) > _MAX_PROBLEMS:
        problems.append(f"and {len(found) - _MAX_PROBLEMS} more")
    body = {"status": "InvalidParameter", "error": "; ".join(problems)}
    return JSONResponse(body, status_code=400)


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # The database's health logs the outage, once; no traceback per request.
    body = {"status": "DatabaseUnavailable", "error": "the database can't be reached; try later"}
    return JSONResponse(body, status_code=503)


async def cluster_unavailable(request: Request, error: Exception) -> JSONResponse:
    # Whether the charger is connected to another node can't be known: not a 404.
    body = {
        "status": "ClusterUnavailable",
        "error": "the cluster's Redis can't be reached; try later",
    }
    return JSONResponse(body, status_code=503)


def install_error_handler(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(DatabaseUnavailable, database_unavailable)
    app.add_exception_handler(RouteUnavailable, cluster_unavailable)
