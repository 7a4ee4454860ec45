"""What the management app's handlers share, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from ocpp_core.clock import Clock
from ocpp_core.config import Settings
from ocpp_core.db.session import Database
from ocpp_core.domain.operator_sessions import SessionPolicy
from ocpp_core.domain.report_snapshots import Snapshots
from ocpp_core.management.export_slots import ExportSlots
from ocpp_core.management.server_api import ServerApi
from ocpp_core.management.throttle import Limits


@dataclass
class ManagementContext:
    settings: Settings
    db: Database
    server: ServerApi
    templates: Jinja2Templates
    limits: Limits
    sessions: SessionPolicy
    clock: Clock
    snapshots: Snapshots
    exports: ExportSlots = field(default_factory=ExportSlots)


def get_context(request: Request) -> ManagementContext:
    context: ManagementContext = request.app.state.management
    return context


ContextDep = Annotated[ManagementContext, Depends(get_context)]
