"""``/Home/ChargeTag``: charge tags with their group, expiry, block and free-charging privilege.

The page keeps one privilege per tag (everywhere, or one station), as the
original did; saving replaces whatever the tag had, including grants made
from the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from fastapi import APIRouter
from sqlalchemy import Select, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.folded import starts_with
from ocpp_core.db.models import ChargeTag, ChargeTagPrivilege
from ocpp_core.domain import tags, tariffs
from ocpp_core.domain.pricing import TariffError
from ocpp_core.domain.tags import MAX_NAME_LENGTH, MAX_TAG_LENGTH, NewTag, TagError
from ocpp_core.management.admin_forms import (
    DATE_ERROR,
    checked,
    day_start,
    page,
    parse_date,
    path_part,
    redirect,
    text,
)
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext
from ocpp_core.management.listing import Keyset, PageKey, SearchText

router = APIRouter(include_in_schema=False)

LIST_PATH = "/Home/ChargeTag"
NEW = "@"
NO_PRIVILEGE = ""
ALL_STATIONS = "(all)"  # never a charge point id: ids have no parentheses
ONE_STATION = "(one)"  # the one in the form's station field
PAGE_SIZE = 50
KEYSET = Keyset((ChargeTag.id,), PAGE_SIZE)


@dataclass
class TagForm:
    id: str = ""
    name: str = ""
    parent: str = ""
    expires: str = ""
    blocked: bool = False
    privilege: str = NO_PRIVILEGE  # "", "*" or a charge point id
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def read(cls, request: Request) -> TagForm:
        form = await request.form()
        return cls(
            id=text(form, "id"),
            name=text(form, "name"),
            parent=text(form, "parent"),
            expires=text(form, "expires"),
            blocked=checked(form, "blocked"),
            privilege=_privilege(text(form, "privilege"), text(form, "privilege_cp")),
            note=text(form, "note"),
        )

    @classmethod
    def of(cls, row: ChargeTag, privilege: ChargeTagPrivilege | None) -> TagForm:
        where = NO_PRIVILEGE
        if privilege is not None:
            where = privilege.charge_point_id or ALL_STATIONS
        return cls(
            id=row.id,
            name=row.name or "",
            parent=row.parent_id or "",
            expires=row.expires_at.date().isoformat() if row.expires_at else "",
            blocked=row.blocked,
            privilege=where,
            note=(privilege.note or "") if privilege else "",
        )

    def check(self, *, new: bool) -> date | None:
        """Field problems into ``errors``; the expiry day when it is valid."""
        if new and not 0 < len(self.id) <= MAX_TAG_LENGTH:
            self.errors["id"] = f"1-{MAX_TAG_LENGTH} characters (an OCPP 1.6 IdToken)."
        if len(self.parent) > MAX_TAG_LENGTH:
            self.errors["parent"] = gettext("At most %(n)s characters.", n=MAX_TAG_LENGTH)
        if len(self.name) > MAX_NAME_LENGTH:
            self.errors["name"] = gettext("At most %(n)s characters.", n=MAX_NAME_LENGTH)
        if len(self.note) > tariffs.MAX_NOTE_LENGTH:
            self.errors["note"] = gettext("At most %(n)s characters.", n=tariffs.MAX_NOTE_LENGTH)
        if self.privilege == ONE_STATION:
            self.errors["privilege"] = gettext("Type the charge point's id.")
        try:
            return parse_date(self.expires)
        except ValueError:
            self.errors["expires"] = gettext(DATE_ERROR)
            return None


def _privilege(chosen: str, station: str) -> str:
    """The privilege: the station typed beside it when "one station" is chosen (if typed)."""
    return (station or ONE_STATION) if chosen == ONE_STATION else chosen


class _Refused(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Row:
    tag: ChargeTag
    privileges: list[ChargeTagPrivilege]


@router.get(LIST_PATH)
async def list_page(
    request: Request,
    user: Viewer,
    context: ContextDep,
    q: SearchText = "",
    before: PageKey = "",
    after: PageKey = "",
) -> Response:
    """A page of the tags whose id or name begin with ``q``, in id order."""
    search = q.strip()
    at = KEYSET.at(before, after)
    async with context.db.reading() as session:
        found = await KEYSET.page(session, listed(search), **at)
        rows = [row.ChargeTag for row in found.rows]
        privileges = await _privileges(session, [row.id for row in rows])
    filters = {"q": search}
    values = {
        "rows": [Row(row, privileges.get(row.id, [])) for row in rows],
        "now": context.clock(),
        "filters": filters,
        **KEYSET.links(found, filters),
    }
    return page(request, "admin/tags.html", values)


def listed(search: str) -> Select[ChargeTag]:
    """The tags whose id or name begin with ``search`` (all for none)."""
    query = select(ChargeTag)
    if not search:
        return query
    return query.where(or_(starts_with(ChargeTag.id, search), starts_with(ChargeTag.name, search)))


async def _privileges(
    session: AsyncSession, tag_ids: list[str]
) -> dict[str, list[ChargeTagPrivilege]]:
    query = select(ChargeTagPrivilege).where(ChargeTagPrivilege.tag_id.in_(tag_ids))
    found: dict[str, list[ChargeTagPrivilege]] = {}
    for row in await session.scalars(query.order_by(ChargeTagPrivilege.id)):
        found.setdefault(row.tag_id, []).append(row)
    return found


@router.get(f"{LIST_PATH}/{NEW}")
async def new_page(request: Request, user: Admin, context: ContextDep) -> Response:
    return await _edit_page(request, context, TagForm(), new=True)


@router.post(f"{LIST_PATH}/{NEW}")
async def create(request: Request, user: Admin, context: ContextDep) -> Response:
    form = await TagForm.read(request)
    expires = form.check(new=True)
    if form.errors:
        return await _edit_page(request, context, form, new=True, status_code=400)
    try:
        async with context.db.session() as session:
            new = NewTag(
                form.id,
                form.name or None,
                form.parent or None,
                day_start(expires) if expires else None,
                form.blocked,
            )
            try:
                await tags.add(session, new, now=context.clock())
            except TagError as error:
                form.errors["id"] = str(error)[:1].upper() + str(error)[1:]
                raise _Refused from None
            await session.flush()
            await _set_privilege(session, context, form)
    except _Refused:
        return await _edit_page(request, context, form, new=True, status_code=400)
    return redirect(
        request, f"{LIST_PATH}/{path_part(form.id)}", gettext("Tag %(id)s added.", id=form.id)
    )


@router.get(LIST_PATH + "/{tag_id:path}")
async def edit_page(
    request: Request, tag_id: str, user: Viewer, context: ContextDep, confirm: str = ""
) -> Response:
    async with context.db.session() as session:
        row = await _get(session, tag_id)
        privileges = (await _privileges(session, [tag_id])).get(tag_id, [])
    if confirm == "delete":
        return page(request, "admin/tag_delete.html", {"row": row})
    form = TagForm.of(row, privileges[0] if privileges else None)
    return await _edit_page(request, context, form, new=False, extra=len(privileges) > 1)


@router.post(LIST_PATH + "/{tag_id:path}")
async def save(request: Request, tag_id: str, user: Admin, context: ContextDep) -> Response:
    submitted = await request.form()
    if submitted.get("action") == "delete":
        async with context.db.session() as session:
            if not await tags.remove(session, tag_id):
                raise HTTPException(404)
        return redirect(request, LIST_PATH, gettext("Tag %(id)s deleted.", id=tag_id))
    form = await TagForm.read(request)
    form.id = tag_id
    expires = form.check(new=False)
    try:
        async with context.db.session() as session:
            row = await _get(session, tag_id)
            if form.errors:
                raise _Refused
            changed = NewTag(
                tag_id,
                form.name or None,
                form.parent or None,
                day_start(expires) if expires else None,
                form.blocked,
            )
            await tags.update(session, row, changed)
            await _set_privilege(session, context, form)
    except _Refused:
        return await _edit_page(request, context, form, new=False, status_code=400)
    return redirect(
        request, f"{LIST_PATH}/{path_part(tag_id)}", gettext("Tag %(id)s saved.", id=tag_id)
    )


async def _set_privilege(session: AsyncSession, context: ManagementContext, form: TagForm) -> None:
    """Replace the tag's privileges with the one chosen (or none)."""
    await session.execute(delete(ChargeTagPrivilege).where(ChargeTagPrivilege.tag_id == form.id))
    if form.privilege == NO_PRIVILEGE:
        return
    station = None if form.privilege == ALL_STATIONS else form.privilege
    try:
        await tariffs.grant_free_charging(
            session,
            tag_id=form.id,
            charge_point_id=station,
            note=form.note or None,
            now=context.clock(),
        )
    except TariffError as error:
        form.errors["privilege"] = str(error).split(":")[0].capitalize() + "."
        raise _Refused from None


async def _get(session: AsyncSession, tag_id: str) -> ChargeTag:
    row = await session.get(ChargeTag, tag_id)
    if row is None:
        raise HTTPException(404)
    return row


async def _edit_page(
    request: Request,
    context: ManagementContext,
    form: TagForm,
    *,
    new: bool,
    extra: bool = False,
    status_code: int = 200,
) -> Response:
    async with context.db.session() as session:
        groups = (
            await session.scalars(
                select(ChargeTag.parent_id)
                .where(ChargeTag.parent_id.is_not(None))
                .distinct()
                .order_by(ChargeTag.parent_id)
            )
        ).all()
    values = {
        "form": form,
        "new": new,
        "groups": groups,
        "all_stations": ALL_STATIONS,
        "one_station": ONE_STATION,
        "several_privileges": extra,
        "action": f"{LIST_PATH}/{NEW if new else path_part(form.id)}",
    }
    return page(request, "admin/tag_edit.html", values, status_code=status_code)
