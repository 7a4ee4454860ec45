"""``/Account``: log in, log out (at the URLs of the original), and change one's own password."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ocpp_core.domain import users
from ocpp_core.domain.users import Operator
from ocpp_core.management import auth, throttle
from ocpp_core.management.admin_forms import page, redirect
from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext
from ocpp_core.management.templating import render
from ocpp_core.proxies import client_address
from ocpp_core.security import (
    MAX_OPERATOR_PASSWORD,
    MIN_OPERATOR_PASSWORD,
    operator_password_problem,
)

router = APIRouter(prefix="/Account", include_in_schema=False)
PASSWORD_URL = "/Account/Password"  # noqa: S105 -- a page, not a secret

FormText = Annotated[str, Form()]
PASSWORD_RULE = {"min_password": MIN_OPERATOR_PASSWORD, "max_password": MAX_OPERATOR_PASSWORD}


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
    cost = context.settings.management.password_hash_cost
    outcome = await _attempt(
        context,
        name=name,
        address=address,
        check=lambda s: users.authenticate(
            s, name=name, password=password, now=context.clock(), cost=cost
        ),
    )
    if isinstance(outcome, timedelta):
        return _throttled(request, outcome, name=name, target=target)
    if outcome is None:
        error = gettext("Wrong name or password.")
        return _login_form(request, target=target, name=name, error=error, status_code=401)
    response = RedirectResponse(target, 303)
    await auth.log_in(request, response, outcome)
    return response


Check = Callable[[AsyncSession], Awaitable[Operator | None]]


async def _attempt(
    context: ManagementContext, *, name: str, address: str, check: Check
) -> Operator | timedelta | None:
    """The user, the wait imposed by throttling, or None for a wrong name or password.

    Every password check counts towards the login limits, the login's and the
    one that guards a password change alike, so neither is a faster oracle.
    """
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
        user = await check(session)
        if user is not None:
            await throttle.forget(session, name=name, address=address)
    return user


def _throttled(request: Request, wait: timedelta, *, name: str, target: str) -> Response:
    error, headers = _wait_notice(wait)
    return _login_form(
        request, target=target, name=name, error=error, status_code=429, headers=headers
    )


def _wait_notice(wait: timedelta) -> tuple[str, dict[str, str]]:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    error = gettext("Too many failed logins. Try again in %(minutes)s min.", minutes=minutes)
    return error, {"Retry-After": str(math.ceil(wait.total_seconds()))}


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
    response = RedirectResponse(auth.LOGIN_PATH, 303)
    await auth.log_out(request, response)
    return response


@router.get("/Password")
async def password_page(request: Request, user: Viewer) -> Response:
    """The form to change one's own password."""
    return _password_form(request, {})


@router.post("/Password")
async def change_password(
    request: Request,
    user: Viewer,
    context: ContextDep,
    current: FormText = "",
    new: FormText = "",
    again: FormText = "",
) -> Response:
    """A new password, given the current one; the user's other sessions end."""
    if errors := new_password_problems(new, again):
        return _password_form(request, errors, status_code=400)
    cost = context.settings.management.password_hash_cost
    outcome = await _attempt(
        context,
        name=user.name,
        address=client_address(request),
        check=lambda s: users.check_password(s, name=user.name, password=current, cost=cost),
    )
    if isinstance(outcome, timedelta):
        error, headers = _wait_notice(outcome)
        return _password_form(request, {"current": error}, status_code=429, headers=headers)
    if outcome is None:
        error = gettext("That is not your current password.")
        return _password_form(request, {"current": error}, status_code=400)
    async with context.db.session() as session:
        await users.set_password(
            session,
            user_id=user.id,
            password=new,
            cost=cost,
            keep_session=auth.login_token(request),
        )
    message = gettext("Password changed. Your other sessions have been logged out.")
    return redirect(request, PASSWORD_URL, message)


def new_password_problems(new: str, again: str) -> dict[str, str]:
    """Errors of a new password typed twice, by field (``new``, ``again``), translated."""
    if operator_password_problem(new):
        rule = gettext(
            "A password has %(min)s to %(max)s characters.",
            min=MIN_OPERATOR_PASSWORD,
            max=MAX_OPERATOR_PASSWORD,
        )
        return {"new": rule}
    if new != again:
        return {"again": gettext("The two passwords differ.")}
    return {}


def _password_form(
    request: Request,
    errors: dict[str, str],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    values = {"errors": errors, **PASSWORD_RULE}
    return page(request, "account/password.html", values, status_code=status_code, headers=headers)
