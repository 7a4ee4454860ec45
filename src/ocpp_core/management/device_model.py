"""``/Home/ChargePoint/{id}/DeviceModel``: an OCPP 2.x charger's device model.

The table is the report the charger last sent (NotifyReport parts, joined by
:mod:`ocpp_core.domain.reports`); asking for a new one, and reading or setting a
variable, go through the server's API like every other command. Only chargers
that last spoke OCPP 2.x have a device model, so for the others there is no page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.db.models import ChargePoint
from ocpp_core.domain import chargepoints, reports
from ocpp_core.domain.protocols import has_device_model
from ocpp_core.domain.redaction import HIDDEN, is_secret_variable
from ocpp_core.management import admin_api
from ocpp_core.management.admin_api import part
from ocpp_core.management.admin_forms import page, path_part, query_string, redirect, text
from ocpp_core.management.auth import Admin, Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.i18n import gettext

router = APIRouter(include_in_schema=False)

PATH = "/Home/ChargePoint/{cp_id}/DeviceModel"
REPORT_BASES = ("FullInventory", "ConfigurationInventory", "SummaryInventory")
_NUMBER = re.compile(r"\d{1,5}")


def url_of(row: ChargePoint) -> str | None:
    """The page's address, or None for a charger without a device model."""
    if not has_device_model(row.protocol):
        return None
    return PATH.format(cp_id=path_part(row.id))


@dataclass(frozen=True, slots=True)
class ReportRow:
    component: str
    instance: str
    evse: str  # "1", or "1/2" for a connector of EVSE 1
    variable: str
    attribute: str  # Actual, Target, MinSet or MaxSet
    value: str
    mutability: str
    unit: str


def report_rows(entries: Sequence[Any]) -> list[ReportRow]:
    """One row per attribute, since a variable may report its limits beside its value.

    The server checked each NotifyReport against the OCPP schema, so the required
    parts (component, variable, at least one attribute) are there.
    """
    rows = []
    for entry in entries:
        component, variable = entry["component"], entry["variable"]
        unit = (entry.get("variableCharacteristics") or {}).get("unit", "")
        for attribute in entry["variableAttribute"]:
            rows.append(
                ReportRow(
                    component=component["name"],
                    instance=component.get("instance", ""),
                    evse=_evse(component.get("evse")),
                    variable=_with_instance(variable),
                    attribute=attribute.get("type", "Actual"),
                    value=attribute.get("value", ""),
                    mutability=attribute.get("mutability", ""),
                    unit=unit,
                )
            )
    return rows


def _evse(evse: Mapping[str, Any] | None) -> str:
    if evse is None:
        return ""
    connector = evse.get("connectorId")
    return str(evse["id"]) if connector is None else f"{evse['id']}/{connector}"


def _with_instance(variable: Mapping[str, Any]) -> str:
    instance = variable.get("instance")
    return f"{variable['name']} ({instance})" if instance else str(variable["name"])


@dataclass(frozen=True, slots=True)
class VariableForm:
    """The Get/Set form; it comes back filled in after each command."""

    component: str = ""
    variable: str = ""
    evse: str = ""
    connector: str = ""
    instance: str = ""
    value: str = ""

    @classmethod
    def read(cls, source: Mapping[str, object]) -> VariableForm:
        return cls(**{name: text(source, name) for name in cls.__dataclass_fields__})

    def problem(self, *, setting: bool) -> str | None:
        if not self.component or not self.variable:
            return gettext("Name the component and the variable.")
        if any(n and not _NUMBER.fullmatch(n) for n in (self.evse, self.connector)):
            return gettext("EVSE and connector: whole numbers, or empty.")
        if self.connector and not self.evse:
            return gettext("A connector needs its EVSE.")
        if setting and not self.value:
            return gettext("Set: enter the new value.")
        return None

    def shown(self) -> VariableForm:
        """The form as it may come back in a URL or a message: without a write-only value."""
        if is_secret_variable(self.component, self.variable):
            return replace(self, value="")
        return self

    @property
    def label(self) -> str:
        return f"{self.component}.{self.variable}"

    def api_path(self, cp_id: str, *, setting: bool) -> str:
        name = f"{part(cp_id)}/{part(self.component)}/{part(self.variable)}"
        where = query_string(
            {"evse": self.evse, "connector": self.connector, "instance": self.instance}
        )
        if setting:
            return f"SetVariables/{name}/{part(self.value)}{where}"
        return f"GetVariables/{name}{where}"


async def _charger(session: AsyncSession, cp_id: str) -> ChargePoint:
    row = await chargepoints.find(session, cp_id)
    if row is None or url_of(row) is None:
        raise HTTPException(404)
    return row


@router.get(PATH)
async def device_model_page(
    request: Request, cp_id: str, user: Viewer, context: ContextDep
) -> Response:
    async with context.db.session() as session:
        row = await _charger(session, cp_id)
        report = await reports.latest(session, cp_id)
    values = {
        "row": row,
        "report": report,
        "rows": report_rows(report.entries) if report else [],
        "form": VariableForm.read(request.query_params),
        "bases": REPORT_BASES,
        "action": url_of(row),
    }
    return page(request, "admin/device_model.html", values)


@router.post(PATH)
async def act(request: Request, cp_id: str, user: Admin, context: ContextDep) -> Response:
    """Ask for a report, or read or set one variable; the answer is the page's message."""
    async with context.db.session() as session:
        row = await _charger(session, cp_id)
    here = url_of(row) or ""
    form = await request.form()
    action = text(form, "action")
    if action == "report":
        return await _request_report(request, context, here, cp_id, text(form, "report"))
    if action not in ("get", "set"):
        raise HTTPException(400)
    variable = VariableForm.read(form)
    setting = action == "set"
    shown = variable.shown()
    back = here + query_string(asdict(shown))
    problem = variable.problem(setting=setting)
    if problem:
        return redirect(request, back, problem, ok=False)
    what = (
        gettext("Set %(name)s to %(value)s", name=variable.label, value=shown.value or HIDDEN)
        if setting
        else gettext("Get %(name)s", name=variable.label)
    )
    outcome = await admin_api.command(context, what, variable.api_path(cp_id, setting=setting))
    return redirect(request, back, outcome.message, ok=outcome.ok)


async def _request_report(
    request: Request, context: ManagementContext, here: str, cp_id: str, base: str
) -> Response:
    if base not in REPORT_BASES:
        raise HTTPException(400)
    what = gettext("Base report %(report)s", report=base)
    outcome = await admin_api.command(context, what, f"GetBaseReport/{part(cp_id)}/{base}")
    message = outcome.message
    if outcome.ok:
        message += " " + gettext("It is shown below once the charger has sent it: reload the page.")
    return redirect(request, here, message, ok=outcome.ok)
