"""Who is logged in: the login cookie names a session in the database.

The cookie holds a random token; the session row (see
:mod:`ocpp_core.domain.operator_sessions`) and the user are looked up together on
every request, so a logout, an expired session, or a change to the user (their
password, role or access) takes effect at once, whatever copies of the cookie
exist. The signed Starlette session beside it carries no identity, only the
CSRF token and flash messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from ocpp_core.config import ManagementSettings
from ocpp_core.domain import operator_sessions, users
from ocpp_core.domain.operator_sessions import SessionPolicy
from ocpp_core.domain.users import Operator, Role
from ocpp_core.management import csrf
from ocpp_core.management.context import ManagementContext
from ocpp_core.management.i18n import N_

LOGIN_COOKIE = "ocpp_core_login"
LOGIN_PATH = "/Account/Login"


class LoginRequired(Exception):
    """An anonymous request reached a page that needs a user; answered by :func:`to_login`."""


def session_policy(settings: ManagementSettings) -> SessionPolicy:
    return SessionPolicy(
        idle=timedelta(hours=settings.session_hours),
        lifetime=timedelta(days=settings.session_max_days),
    )


def cookie_name(settings: ManagementSettings) -> str:
    # __Host-: the browser refuses it unless Secure, for this host alone, path /.
    return f"__Host-{LOGIN_COOKIE}" if settings.secure_cookies else LOGIN_COOKIE


def login_token(connection: HTTPConnection) -> str | None:
    context: ManagementContext = connection.app.state.management
    return connection.cookies.get(cookie_name(context.settings.management))


async def log_in(request: Request, response: Response, user: Operator) -> None:
    """A new session with a new token: nothing from before the login carries over."""
    context: ManagementContext = request.app.state.management
    management = context.settings.management
    async with context.db.session() as session:
        if (previous := login_token(request)) is not None:
            await operator_sessions.end(session, token=previous)
        token = await operator_sessions.start(
            session, user_id=user.id, policy=context.sessions, now=context.clock()
        )
    request.session.clear()
    csrf.rotate(request.session)
    response.set_cookie(
        cookie_name(management),
        token,
        max_age=management.session_max_days * 86_400,  # the server ends it sooner when idle
        **_cookie_options(request, management),
    )


async def log_out(request: Request, response: Response) -> None:
    """End the session in the database: the cookie, wherever copied, opens nothing more."""
    context: ManagementContext = request.app.state.management
    if (token := login_token(request)) is not None:
        async with context.db.session() as session:
            await operator_sessions.end(session, token=token)
    request.session.clear()
    management = context.settings.management
    response.delete_cookie(cookie_name(management), **_cookie_options(request, management))


def _cookie_options(request: Request, management: ManagementSettings) -> dict[str, Any]:
    secure = management.secure_cookies or request.url.scheme == "https"
    return {"path": "/", "httponly": True, "samesite": "lax", "secure": secure}


async def session_user(request: Request) -> Operator | None:
    token = login_token(request)
    if token is None:
        return None
    context: ManagementContext = request.app.state.management
    async with context.db.session() as session:
        row = await operator_sessions.resolve(
            session, token=token, policy=context.sessions, now=context.clock()
        )
        return users.operator_of(row) if row is not None else None


def require_user(role: Role = Role.VIEWER) -> Callable[[Request], Awaitable[Operator]]:
    """A dependency: the logged-in operator, if they hold ``role`` (admins hold every role)."""

    async def guard(request: Request) -> Operator:
        user = await session_user(request)
        if user is None:
            raise LoginRequired
        request.state.user = user
        if role is Role.ADMIN and not user.is_admin:
            raise HTTPException(403, N_("This page is for administrators."))
        return user

    return guard


Viewer = Annotated[Operator, Depends(require_user(Role.VIEWER))]
Admin = Annotated[Operator, Depends(require_user(Role.ADMIN))]


def safe_return_url(value: str | None) -> str:
    """A path on this site to go back to after login; anything else goes to the dashboard."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return "/"
    return value


def login_url(return_to: str) -> str:
    target = safe_return_url(return_to)
    return LOGIN_PATH if target == "/" else f"{LOGIN_PATH}?{urlencode({'ReturnUrl': target})}"


async def to_login(request: Request, _: Exception) -> Response:
    """Send an anonymous visitor to the login page, and back here afterwards."""
    if request.headers.get("HX-Request") == "true":
        # A poll or click from a page whose session ended: take the whole page there.
        current = urlsplit(request.headers.get("HX-Current-URL", "/"))
        back = current.path + (f"?{current.query}" if current.query else "")
        return Response(status_code=401, headers={"HX-Redirect": login_url(back)})
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(login_url(back if request.method == "GET" else "/"), 303)
