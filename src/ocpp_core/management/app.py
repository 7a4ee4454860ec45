"""``create_management_app(settings)``: the operator UI (login, dashboard) on its own ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.body_limit import BodyLimit
from ocpp_core.clock import Clock, utc_now
from ocpp_core.config import Settings
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.migrate import bring_up_to_date
from ocpp_core.db.session import Database
from ocpp_core.domain.report_snapshots import Snapshots
from ocpp_core.logs import hide_secrets
from ocpp_core.management import (
    account,
    admin_pages,
    dashboard,
    figures_warmer,
    operators,
    public,
    session_sweep,
    transaction_exports,
)
from ocpp_core.management.auth import LoginRequired, session_policy, to_login
from ocpp_core.management.context import ManagementContext
from ocpp_core.management.csrf import CsrfMiddleware
from ocpp_core.management.headers import SecurityHeaders
from ocpp_core.management.i18n import N_, LanguageMiddleware, gettext
from ocpp_core.management.server_api import ServerApi
from ocpp_core.management.templating import STATIC_PREFIX, StaticAssets, build_templates, render
from ocpp_core.management.throttle import Limits
from ocpp_core.shared_routes import add_routes

SESSION_COOKIE = "ocpp_core_session"


def create_management_app(settings: Settings, clock: Clock = utc_now) -> FastAPI:
    settings.require_api_key()
    settings.management.require_session_secret()
    hide_secrets()
    context = _build_context(settings, clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await bring_up_to_date(context.db, settings.database_url)
        background = [
            asyncio.create_task(
                session_sweep.sweep_forever(context.db, clock), name="operator-session-purge"
            ),
            asyncio.create_task(figures_warmer.warm_forever(context), name="figures-warmer"),
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await context.server.close()
            await context.snapshots.close()
            await context.db.close()

    app = FastAPI(
        title="ocpp-core management",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # pages, not an API
    )
    app.state.management = context
    add_routes(app, account.router, operators.router, dashboard.router)
    admin_pages.install(app)  # charge points, connectors, tags, transactions, payments, log
    public.install(app)  # the anonymous driver pages
    app.mount(STATIC_PREFIX, StaticAssets(), name="static")
    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(HTTPException, _error_page)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    _add_middleware(app, settings)
    return app


def _build_context(settings: Settings, clock: Clock) -> ManagementContext:
    management = settings.management
    server = ServerApi(
        management.server_api_url,
        settings.api_key.get_secret_value(),
        management.server_api_timeout,
    )
    db = Database(settings.database_url, limits=settings.database)
    return ManagementContext(
        settings=settings,
        db=db,
        server=server,
        templates=build_templates(),
        limits=Limits.from_settings(management),
        sessions=session_policy(management),
        clock=clock,
        snapshots=Snapshots(db, timedelta(seconds=management.figures_max_age_seconds)),
    )


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Outermost last: compression, headers, the session, the language, the body's size, CSRF.

    One body limit for every form, logged in or not: the app takes no uploads (a
    charge point file is imported with the CLI), so no caller needs a large one.

    The signed session cookie holds the CSRF token and flash messages, never who
    is logged in (that is the login cookie, see :mod:`.auth`).
    """
    management = settings.management
    app.add_middleware(CsrfMiddleware, rejected=_csrf_rejected)
    max_body = settings.http.management_max_body
    app.add_middleware(BodyLimit, limit_for=lambda _: max_body, too_large=_too_large)
    app.add_middleware(LanguageMiddleware, secure_cookie=management.secure_cookies)
    app.add_middleware(
        SessionMiddleware,
        secret_key=management.session_secret.get_secret_value(),
        # __Host-: the browser refuses it unless Secure, for this host alone, path /.
        session_cookie=f"__Host-{SESSION_COOKIE}" if management.secure_cookies else SESSION_COOKIE,
        max_age=management.session_hours * 3600,
        same_site="lax",
        https_only=management.secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    # A spreadsheet is a zip already: compressing it again only costs CPU.
    skipped = (*DEFAULT_EXCLUDED_CONTENT_TYPES, transaction_exports.XLSX_TYPE)
    app.add_middleware(GZipMiddleware, minimum_size=1024, exclude_content_types=skipped)


async def _error_page(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = gettext(_MESSAGES.get(error.status_code, error.detail))
    return _error(request, error.status_code, message, headers=error.headers)


async def _bad_request(request: Request, _: Exception) -> Response:
    return _error(request, 400, gettext(_MESSAGES[400]))


async def _too_large(request: Request, limit: int) -> Response:
    return _error(request, 413, gettext(_MESSAGES[413]))


async def _database_unavailable(request: Request, _: Exception) -> Response:
    # The database's health logs the outage, once; no traceback per page.
    return _error(request, 503, gettext(_DATABASE_MESSAGE))


async def _csrf_rejected(request: Request) -> Response:
    return _error(request, 403, gettext(_CSRF_MESSAGE))


def _error(
    request: Request, status: int, message: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    values = {"status": status, "message": message}
    return render(request, "errors/error.html", values, status_code=status, headers=headers)


_MESSAGES = {
    400: N_("The request was not understood."),
    404: N_("There is no such page."),
    405: N_("That is not how this page is used."),
    413: N_("That was more than this page takes. Go back and send less."),
}
_DATABASE_MESSAGE = N_("The database can't be reached at the moment. Please try again in a minute.")
_CSRF_MESSAGE = N_(
    "The form has expired or was sent from another site. Go back, reload the page and try again."
)
