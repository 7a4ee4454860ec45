"""``/Home/ChargePoint/{id}/Profiles``: a charger's charging profiles and its composite schedule.

The list is the records the server keeps (:mod:`ocpp_core.domain.charging_profiles`);
making, sending and deleting a profile, and asking for the composite schedule, go
through the server's API like every other command, so its checks (the profile's shape,
what the charger said it can take) hold here too and come back as the page's message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import ChargePoint
from ocpp_core.domain import chargepoints, charging_profiles
from ocpp_core.domain.charging_profiles import MAX_PERIODS
from ocpp_core.management import admin_api
from ocpp_core.management.admin_api import part
from ocpp_core.management.admin_forms import page, path_part, query_string, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.charts import Chart, Point, Shape
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext

router = APIRouter(include_in_schema=False)

PATH = "/Home/ChargePoint/{cp_id}/Profiles"
PER_PAGE = 50
PURPOSES = ("TxDefaultProfile", "TxProfile", "ChargePointMaxProfile")
KINDS = ("Absolute", "Recurring", "Relative")
DURATIONS = (3600, 6 * 3600, 24 * 3600)
_NUMBER = re.compile(r"\d{1,7}")
_PROFILE_ID = re.compile(r"\d{1,10}")
_PERIOD = re.compile(r"(\d{1,7})\s+(\d{1,7}(?:\.\d)?)(?:\s+([123]))?")
_START = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def url_of(cp_id: str) -> str:
    return PATH.format(cp_id=path_part(cp_id))


@dataclass(frozen=True, slots=True)
class ProfileForm:
    """The new profile's fields as typed; it comes back filled in when the server refuses."""

    connector: str = "0"
    stack_level: str = "0"
    purpose: str = PURPOSES[0]
    kind: str = KINDS[0]
    recurrency: str = ""
    unit: str = "A"
    start: str = ""
    periods: str = "0 16"

    @classmethod
    def read(cls, source: Mapping[str, object]) -> ProfileForm:
        return cls(**{name: text(source, name) for name in cls.__dataclass_fields__})

    def body(self) -> dict[str, Any] | str:
        """The API's JSON for the profile, or what is wrong with the form."""
        if not _NUMBER.fullmatch(self.connector) or not _NUMBER.fullmatch(self.stack_level):
            return gettext("Connector and stack level: whole numbers.")
        if self.purpose not in PURPOSES or self.kind not in KINDS or self.unit not in ("A", "W"):
            raise HTTPException(400)  # the form's own choices: only a forged post has others
        if self.start and not _START.fullmatch(self.start):
            return gettext("Start: a UTC time as YYYY-MM-DDTHH:MM, or empty.")
        periods = periods_of(self.periods)
        if isinstance(periods, str):
            return periods
        body: dict[str, Any] = {
            "connectorId": int(self.connector),
            "stackLevel": int(self.stack_level),
            "chargingProfilePurpose": self.purpose,
            "chargingProfileKind": self.kind,
            "chargingRateUnit": self.unit,
            "chargingSchedulePeriod": periods,
        }
        if self.recurrency in ("Daily", "Weekly"):
            body["recurrencyKind"] = self.recurrency
        if self.start:
            body["startSchedule"] = f"{self.start}:00Z"
        return body


def periods_of(lines: str) -> list[dict[str, Any]] | str:
    """One period a line, ``start-seconds limit [phases]``; or what is wrong with them."""
    rows = [line.strip() for line in lines.splitlines() if line.strip()]
    if not 1 <= len(rows) <= MAX_PERIODS:
        return gettext("Periods: one to %(n)s lines.", n=MAX_PERIODS)
    periods = []
    for row in rows:
        match = _PERIOD.fullmatch(row)
        if match is None:
            return gettext("Each period: seconds from the start, the limit, optionally phases.")
        start, limit, phases = match.groups()
        period: dict[str, Any] = {"startPeriod": int(start), "limit": str(Decimal(limit))}
        if phases:
            period["numberPhases"] = int(phases)
        periods.append(period)
    return periods


def composite_chart(schedule: Mapping[str, Any]) -> Chart:
    """A column per period, as high as its limit, labelled by when it begins."""
    unit = str(schedule.get("chargingRateUnit", ""))
    points = [
        Point(_offset(int(p["startPeriod"])), round(float(p["limit"]) * 10))
        for p in schedule.get("chargingSchedulePeriod", [])
    ]
    return Chart("composite", Shape.COLUMNS, points, lambda tenths: f"{tenths / 10:g} {unit}")


def _offset(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"+{hours}:{rest // 60:02d}"


async def _charger(session: AsyncSession, cp_id: str) -> ChargePoint:
    row = await chargepoints.find(session, cp_id)
    if row is None:
        raise HTTPException(404)
    return row


async def _composite(
    context: ManagementContext, cp_id: str, query: Mapping[str, str]
) -> tuple[Chart | None, str | None]:
    """The chart asked for (``?composite={connector}&duration=``), or why there is none."""
    connector, duration = query.get("composite", ""), query.get("duration", "")
    if not connector:
        return None, None
    if not _NUMBER.fullmatch(connector) or duration not in {str(d) for d in DURATIONS}:
        raise HTTPException(400)
    body = {"connectorId": int(connector), "duration": int(duration)}
    answer = await admin_api.post_json(context, f"GetCompositeSchedule/{part(cp_id)}", body)
    if isinstance(answer, dict) and answer.get("schedule"):
        return composite_chart(answer["schedule"]), None
    return None, admin_api.outcome_of(gettext("Composite schedule"), answer).message


@router.get(PATH)
async def profiles_page(
    request: Request, cp_id: str, user: Viewer, context: ContextDep
) -> Response:
    offset = request.query_params.get("offset", "0")
    if not _NUMBER.fullmatch(offset):
        raise HTTPException(400)
    async with context.db.session() as session:
        row = await _charger(session, cp_id)
        records = await charging_profiles.listed(
            session, cp_id, offset=int(offset), limit=PER_PAGE + 1
        )
    chart, composite_error = await _composite(context, cp_id, request.query_params)
    values = {
        "row": row,
        "records": records[:PER_PAGE],
        "next_page": query_string({"offset": int(offset) + PER_PAGE})
        if len(records) > PER_PAGE
        else None,
        "form": ProfileForm.read(request.query_params)
        if "purpose" in request.query_params
        else ProfileForm(),
        "purposes": PURPOSES,
        "kinds": KINDS,
        "durations": DURATIONS,
        "chart": chart,
        "chart_title": gettext(
            "Composite schedule of connector %(n)s", n=request.query_params.get("composite")
        ),
        "composite_error": composite_error,
        "composite_connector": request.query_params.get("composite", "1"),
        "action": url_of(cp_id),
    }
    return page(request, "admin/profiles.html", values)


@router.post(PATH)
async def act(request: Request, cp_id: str, user: Admin, context: ContextDep) -> Response:
    """Save (and send) a new profile, or send or delete one; the answer is the message."""
    async with context.db.session() as session:
        await _charger(session, cp_id)
    here = url_of(cp_id)
    form = await request.form()
    action = text(form, "action")
    if action in ("save", "send"):
        return await _save(request, context, cp_id, ProfileForm.read(form), send=action == "send")
    profile_id = text(form, "profile")
    if action not in ("send-one", "delete") or not _PROFILE_ID.fullmatch(profile_id):
        raise HTTPException(400)
    where = f"ChargingProfiles/{part(cp_id)}/{profile_id}"
    if action == "send-one":
        what = gettext("Send profile %(id)s", id=profile_id)
        answer = await admin_api.post_json(context, f"{where}/Send", {})
    else:
        what = gettext("Delete profile %(id)s", id=profile_id)
        answer = await admin_api.post_json(context, f"{where}/Delete", {})
    outcome = admin_api.outcome_of(what, answer)
    return redirect(request, here, outcome.message, ok=outcome.ok)


async def _save(
    request: Request, context: ManagementContext, cp_id: str, form: ProfileForm, *, send: bool
) -> Response:
    back = url_of(cp_id) + query_string(
        {name: getattr(form, name) for name in ProfileForm.__dataclass_fields__}
    )
    body = form.body()
    if isinstance(body, str):
        return redirect(request, back, body, ok=False)
    path = f"SetChargingProfile/{part(cp_id)}" if send else f"ChargingProfiles/{part(cp_id)}"
    answer = await admin_api.post_json(context, path, body)
    if isinstance(answer, dict) and answer.get("status") == "new":  # saved, not sent
        message = gettext("Profile %(id)s saved.", id=answer.get("chargingProfileId"))
        return redirect(request, url_of(cp_id), message)
    outcome = admin_api.outcome_of(gettext("Send the new profile"), answer)
    return redirect(request, url_of(cp_id) if outcome.ok else back, outcome.message, ok=outcome.ok)
