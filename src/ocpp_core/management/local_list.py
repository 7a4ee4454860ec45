"""``/Home/ChargePoint/{id}/LocalList``: the charger's local list and authorization settings.

Which tags the list holds (every tag, a group's, or tags chosen for this charger, added and
removed here) is stored here directly (the server's sweep sends it); bringing
it up to date now, reading and changing the charger's settings and clearing its cache go
through the server's API like every other command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.domain import chargepoints, local_lists
from ocpp_core.domain.local_lists import ListError, typed_tags
from ocpp_core.management import admin_api
from ocpp_core.management.admin_forms import checked, page, path_part, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext

router = APIRouter(include_in_schema=False)

PATH = "/Home/ChargePoint/{cp_id}/LocalList"
ALL, GROUP, TAGS, NONE = "All", "Group", "Tags", "None"
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
        kept = await local_lists.summary(session, cp_id)
    values = {
        "cp_id": cp_id,
        "state": kept.row,
        "kind": kept.kind,
        "chosen": kept.tags,
        "up_to_date": kept.up_to_date,
        "action": url_of(cp_id),
    }
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
    if tags not in (ALL, GROUP, TAGS, NONE):
        raise HTTPException(400)
    if tags == GROUP and not 0 < len(group) <= 20:
        return False, gettext("Name the tag group: 1-20 characters.")
    if tags == NONE:
        async with context.db.session() as session:
            await local_lists.unassign(session, cp_id)
        return True, gettext("The server no longer keeps this charger's list.")
    chosen = typed_tags(text(form, "tag_ids")) if tags == TAGS else None
    return await _saved(
        context,
        lambda session: local_lists.assign(
            session, cp_id, group=group if tags == GROUP else None, tags=chosen, now=context.clock()
        ),
    )


async def _change_tags(context: ManagementContext, cp_id: str, form: FormData) -> tuple[bool, str]:
    add, remove = typed_tags(text(form, "add")), typed_tags(text(form, "remove"))
    return await _saved(
        context, lambda session: local_lists.change_tags(session, cp_id, add=add, remove=remove)
    )


async def _saved(
    context: ManagementContext, change: Callable[[AsyncSession], Awaitable[object]]
) -> tuple[bool, str]:
    """Store a change of the list's tags, or nothing and the reason."""
    try:
        async with context.db.session() as session:
            await change(session)
    except ListError as error:
        return False, gettext("Not saved: %(reason)s.", reason=str(error))
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
    "change_tags": _change_tags,
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
