"""``/Account``: log in, log out (at the URLs of the original), and the list of operators."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ocpp_core.domain import users
from ocpp_core.domain.users import Operator
from ocpp_core.management import auth, throttle
from ocpp_core.management.auth import Admin
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext
from ocpp_core.management.templating import render
from ocpp_core.proxies import client_address

router = APIRouter(prefix="/Account", include_in_schema=False)

FormText = Annotated[str, Form()]


@router.get("/Login")
async def login_page(request: Request, ReturnUrl: str = "/") -> Response:  # noqa: N803
    """The login form; a logged-in user goes straight on."""
    target = auth.safe_return_url(ReturnUrl)
    if await auth.session_user(request) is not None:
        return RedirectResponse(target, 303)
    return _login_form(request, target=target)


@router.post("/Login")
async def login(
    request: Request,
    context: ContextDep,
    name: FormText = "",
    password: FormText = "",
    ReturnUrl: FormText = "/",  # noqa: N803
) -> Response:
    """Check the password, within the throttling limits; on success start a new session."""
    target = auth.safe_return_url(ReturnUrl)
    address = client_address(request)
    outcome = await _attempt(context, name=name, password=password, address=address)
    if isinstance(outcome, timedelta):
        return _throttled(request, outcome, name=name, target=target)
    if outcome is None:
        error = gettext("Wrong name or password.")
        return _login_form(request, target=target, name=name, error=error, status_code=401)
    auth.log_in(request, outcome)
    return RedirectResponse(target, 303)


async def _attempt(
    context: ManagementContext, *, name: str, password: str, address: str
) -> Operator | timedelta | None:
    """The user, the wait imposed by throttling, or None for a wrong name or password."""
    now = context.clock()
    async with context.db.session() as session:  # committed, so concurrent tries see it
        attempt = await throttle.begin(session, name=name, address=address, now=now)
    async with context.db.session() as session:
        wait = await throttle.check(
            session, attempt=attempt, name=name, address=address, limits=context.limits, now=now
        )
    if wait is not None:
        return wait
    async with context.db.session() as session:
        user = await users.authenticate(session, name=name, password=password, now=now)
        if user is not None:
            await throttle.forget(session, name=name, address=address)
    return user


def _throttled(request: Request, wait: timedelta, *, name: str, target: str) -> Response:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    error = gettext("Too many failed logins. Try again in %(minutes)s min.", minutes=minutes)
    headers = {"Retry-After": str(math.ceil(wait.total_seconds()))}
    return _login_form(
        request, target=target, name=name, error=error, status_code=429, headers=headers
    )


def _login_form(
    request: Request,
    *,
    target: str,
    name: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    values = {"return_url": target, "name": name[:100], "error": error}
    return render(request, "account/login.html", values, status_code=status_code, headers=headers)


@router.post("/Logout")
async def logout(request: Request) -> Response:
    """End the session (a POST with the form's token, so no other site can log you out)."""
    auth.log_out(request)
    return RedirectResponse(auth.LOGIN_PATH, 303)


@router.get("/Users")
async def user_list(request: Request, user: Admin, context: ContextDep) -> Response:
    """Operators and their roles (administrators only)."""
    async with context.db.session() as session:
        rows = await users.list_all(session)
    return render(request, "account/users.html", {"users": rows})
