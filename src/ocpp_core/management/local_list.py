"""``/Home/ChargePoint/{id}/LocalList``: the charger's local list and authorization settings.

Which tags the list holds is stored here directly (the server's sweep sends it); bringing
it up to date now, reading and changing the charger's settings and clearing its cache go
through the server's API like every other command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import LocalList
from ocpp_core.domain import chargepoints, local_lists
from ocpp_core.domain.local_lists import ListError
from ocpp_core.management import admin_api
from ocpp_core.management.admin_forms import checked, page, path_part, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext

router = APIRouter(include_in_schema=False)

PATH = "/Home/ChargePoint/{cp_id}/LocalList"
ALL, GROUP, NONE = "All", "Group", "None"
_SETTINGS = (
    ("authorizationCacheEnabled", "AuthorizationCacheEnabled"),
    ("localAuthListEnabled", "LocalAuthListEnabled"),
    ("localAuthListMaxLength", "LocalAuthListMaxLength"),
    ("sendLocalListMaxLength", "SendLocalListMaxLength"),
)


def url_of(cp_id: str) -> str:
    return PATH.format(cp_id=path_part(cp_id))


@router.get(PATH)
async def list_page(request: Request, cp_id: str, user: Viewer, context: ContextDep) -> Response:
    async with context.db.session() as session:
        if await chargepoints.find(session, cp_id) is None:
            raise HTTPException(404)
        row = await session.get(LocalList, cp_id)
        fresh = row is not None and await local_lists.up_to_date(session, row)
    values = {"cp_id": cp_id, "state": row, "up_to_date": fresh, "action": url_of(cp_id)}
    return page(request, "admin/local_list.html", values)


@router.post(PATH)
async def act(request: Request, cp_id: str, user: Admin, context: ContextDep) -> Response:
    """Choose the list's tags, sync it now, read or change the settings, clear the cache."""
    async with context.db.session() as session:
        if await chargepoints.find(session, cp_id) is None:
            raise HTTPException(404)
    form = await request.form()
    action = _ACTIONS.get(text(form, "action"))
    if action is None:
        raise HTTPException(400)
    ok, message = await action(context, cp_id, form)
    return redirect(request, url_of(cp_id), message, ok=ok)


async def _assign(context: ManagementContext, cp_id: str, form: FormData) -> tuple[bool, str]:
    tags, group = text(form, "tags"), text(form, "group")
    if tags not in (ALL, GROUP, NONE):
        raise HTTPException(400)
    async with context.db.session() as session:
        if tags == NONE:
            await local_lists.unassign(session, cp_id)
            return True, gettext("The server no longer keeps this charger's list.")
        try:
            await local_lists.assign(
                session, cp_id, group=group if tags == GROUP else None, now=context.clock()
            )
        except ListError:
            return False, gettext("Name the tag group: 1-20 characters.")
    return True, gettext("Saved: the list is sent to the charger while it is connected.")


async def _sync(context: ManagementContext, cp_id: str, form: FormData) -> tuple[bool, str]:
    body = {"chargePointId": cp_id}
    answer = await admin_api.post_json(
        context, "LocalList/Sync", body, timeout=admin_api.LIST_SYNC_TIMEOUT
    )
    outcome = admin_api.outcome_of(gettext("Bring the list up to date"), answer)
    return outcome.ok, outcome.message


async def _settings(context: ManagementContext, cp_id: str, form: FormData) -> tuple[bool, str]:
    body: dict[str, Any] = {"chargePointId": cp_id}
    if text(form, "change"):
        body |= {
            "authorizationCacheEnabled": checked(form, "cache"),
            "localAuthListEnabled": checked(form, "list"),
        }
    return _settings_message(await admin_api.post_json(context, "AuthSettings", body))


async def _clear_cache(context: ManagementContext, cp_id: str, form: FormData) -> tuple[bool, str]:
    outcome = await admin_api.command(
        context, gettext("Clear cache"), f"ClearCache/{admin_api.part(cp_id)}"
    )
    return outcome.ok, outcome.message


_ACTIONS: dict[str, Callable[[ManagementContext, str, FormData], Awaitable[tuple[bool, str]]]] = {
    "assign": _assign,
    "sync": _sync,
    "settings": _settings,
    "clear_cache": _clear_cache,
}


def _settings_message(answer: dict[str, Any] | str) -> tuple[bool, str]:
    if isinstance(answer, str):
        return False, answer
    if "status" in answer:  # the charger could not be asked
        return False, admin_api.outcome_of(gettext("Settings"), answer).message
    changes = ", ".join(f"{key}: {status}" for key, status in answer["changes"].items())
    read = ", ".join(f"{key} = {_shown(answer.get(field))}" for field, key in _SETTINGS)
    ok = all(status == "Accepted" for status in answer["changes"].values())
    return ok, f"{changes}. {read}" if changes else read


def _shown(value: object) -> str:
    if value is None:
        return "?"
    return str(value).lower() if isinstance(value, bool) else str(value)
