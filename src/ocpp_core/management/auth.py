"""Who is logged in: the session cookie names a user, the database says who they are.

The user is looked up on every request, so removing a user or changing a role
takes effect at once, whatever sessions are open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ocpp_core.domain import users
from ocpp_core.domain.users import Operator, Role
from ocpp_core.management import csrf
from ocpp_core.management.context import ManagementContext
from ocpp_core.management.i18n import N_

SESSION_USER = "uid"
LOGIN_PATH = "/Account/Login"


class LoginRequired(Exception):
    """An anonymous request reached a page that needs a user; answered by :func:`to_login`."""


def log_in(request: Request, user: Operator) -> None:
    """A fresh session for the user: nothing from before the login carries over."""
    request.session.clear()
    request.session[SESSION_USER] = user.id
    csrf.rotate(request.session)


def log_out(request: Request) -> None:
    request.session.clear()


async def session_user(request: Request) -> Operator | None:
    user_id = request.session.get(SESSION_USER)
    if not isinstance(user_id, int):
        return None
    context: ManagementContext = request.app.state.management
    async with context.db.session() as session:
        return await users.get(session, user_id)


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
