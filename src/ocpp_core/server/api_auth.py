"""The ``/API`` guard, the runtime dependency and the JSON error shape.

Every route under ``/API`` depends on :func:`require_api_key`, including the
catch-all at the end, so an unknown path without a key is a 401, not a 404
that would tell a scanner which paths exist. Every error, a bad parameter
included, answers ``{"status": ..., "error": ...}`` (a bad parameter is a 400,
not FastAPI's 422 with its own shape; an unreachable database a 503).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.routing import Match

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.runtime import Runtime
from ocpp_core.security import keys_equal

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


class ApiError(Exception):
    """An API answer other than 200, with the JSON body the caller gets."""

    def __init__(self, status_code: int, status: str, **details: Any) -> None:
        super().__init__(status)
        self.status_code = status_code
        self.body = {"status": status, **details}


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def require_api_key(
    runtime: RuntimeDep, key: Annotated[str | None, Security(_api_key_header)]
) -> None:
    expected = runtime.settings.api_key.get_secret_value()
    if key is None or not keys_equal(key, expected):
        raise ApiError(401, "Unauthorized", error="missing or wrong X-API-Key header")


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


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in error.errors()
    )
    return JSONResponse({"status": "InvalidParameter", "error": problems}, status_code=400)


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # The database's health logs the outage, once; no traceback per request.
    body = {"status": "DatabaseUnavailable", "error": "the database can't be reached; try later"}
    return JSONResponse(body, status_code=503)


def install_error_handler(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
