"""``/Account/Users``: administrators manage operators: role, access, password, deletion.

Every change goes through :mod:`ocpp_core.domain.users`, as the CLI's do, so the
same rules hold: there is always an enabled administrator, and whoever is
changed is logged out everywhere. Operators are added with ``ocpp-core user add``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import User
from ocpp_core.domain import users
from ocpp_core.domain.users import LastAdmin, NoSuchUser, Operator, Role
from ocpp_core.management.account import PASSWORD_RULE, PASSWORD_URL, new_password_problems
from ocpp_core.management.admin_forms import page, redirect, text
from ocpp_core.management.auth import Admin
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import N_, gettext
from ocpp_core.params import DbInt

LIST_PATH = "/Account/Users"
router = APIRouter(prefix=LIST_PATH, include_in_schema=False)
Change = Callable[[AsyncSession, int, FormData, ManagementContext], Awaitable[Operator]]


class _Refused(Exception):
    """A form that can't be acted on; the message is for the page."""


@router.get("")
async def user_list(request: Request, user: Admin, context: ContextDep) -> Response:
    """Operators, their roles and whether they may log in (administrators only)."""
    async with context.db.session() as session:
        rows = await users.list_all(session)
    return page(request, "account/users.html", {"users": rows})


@router.get("/{user_id}")
async def user_page(
    request: Request, user_id: DbInt, user: Admin, context: ContextDep, confirm: str = ""
) -> Response:
    """One operator's role, access and password; ``?confirm=delete`` asks before deleting."""
    row = await _get(context, user_id)
    template = "account/user_delete.html" if confirm == "delete" else "account/user.html"
    values = {"row": row, "is_self": row.id == user.id, "password_url": PASSWORD_URL}
    values.update(PASSWORD_RULE)
    return page(request, template, values)


@router.post("/{user_id}")
async def change(request: Request, user_id: DbInt, user: Admin, context: ContextDep) -> Response:
    form = await request.form()
    action = text(form, "action")
    if action not in _CHANGES:
        raise HTTPException(400)
    if action == "password" and user_id == user.id:
        return redirect(request, PASSWORD_URL)  # one's own needs the current one
    perform, done = _CHANGES[action]
    here = f"{LIST_PATH}/{user_id}"
    try:
        async with context.db.session() as session:
            changed = await perform(session, user_id, form, context)
    except NoSuchUser:
        raise HTTPException(404) from None
    except LastAdmin as error:
        message = gettext(_LAST_ADMIN, name=error.name)
        return redirect(request, here, message, ok=False)
    except _Refused as error:
        return redirect(request, here, str(error), ok=False)
    there = LIST_PATH if action == "delete" else here
    return redirect(request, there, gettext(done, name=changed.name))


async def _set_role(
    session: AsyncSession, user_id: int, form: FormData, _: ManagementContext
) -> Operator:
    try:
        role = Role(text(form, "role"))
    except ValueError:
        raise HTTPException(400) from None
    return await users.set_role(session, user_id=user_id, role=role)


async def _set_password(
    session: AsyncSession, user_id: int, form: FormData, context: ManagementContext
) -> Operator:
    new, again = _raw(form, "new"), _raw(form, "again")
    if problems := new_password_problems(new, again):
        raise _Refused(next(iter(problems.values())))
    cost = context.settings.management.password_hash_cost
    return await users.set_password(session, user_id=user_id, password=new, cost=cost)


async def _disable(
    session: AsyncSession, user_id: int, _: FormData, __: ManagementContext
) -> Operator:
    return await users.disable(session, user_id=user_id)


async def _enable(
    session: AsyncSession, user_id: int, _: FormData, __: ManagementContext
) -> Operator:
    return await users.enable(session, user_id=user_id)


async def _delete(
    session: AsyncSession, user_id: int, _: FormData, __: ManagementContext
) -> Operator:
    return await users.delete(session, user_id=user_id)


def _raw(form: FormData, name: str) -> str:
    """A password as typed: spaces are part of it."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _get(context: ManagementContext, user_id: int) -> User:
    async with context.db.session() as session:
        row = await session.get(User, user_id)
    if row is None:
        raise HTTPException(404)
    return row


_CHANGES: dict[str, tuple[Change, str]] = {
    "role": (_set_role, N_("Role of %(name)s saved.")),
    "password": (_set_password, N_("%(name)s has a new password and is logged out everywhere.")),
    "disable": (_disable, N_("%(name)s is disabled and logged out everywhere.")),
    "enable": (_enable, N_("%(name)s may log in again.")),
    "delete": (_delete, N_("%(name)s is deleted.")),
}
_LAST_ADMIN = N_(
    "%(name)s is the last enabled administrator. Make another user an administrator first."
)
