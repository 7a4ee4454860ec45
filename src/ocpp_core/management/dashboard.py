"""``/``: the dashboard, and the tiles fragment htmx polls to keep it live."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.live import VERSION, fragment
from ocpp_core.management.templating import render
from ocpp_core.management.tiles import Board, build_board, load_snapshot
from ocpp_core.payments.reservations import unpaid_cutoff

router = APIRouter(include_in_schema=False)

TILES_PATH = "/Home/Tiles"


async def current_board(context: ManagementContext) -> Board:
    live = await context.server.status()
    now = context.clock()
    cutoff = unpaid_cutoff(now, context.settings.payments.unpaid_hold_minutes)
    async with context.db.session() as session:
        snapshot = await load_snapshot(session, cutoff)
    return build_board(snapshot, live, now)


@router.get("/")
async def index(request: Request, user: Viewer, context: ContextDep) -> Response:
    """One tile per connector with its live status."""
    board = await current_board(context)
    return render(request, "dashboard/index.html", _values(context, board))


@router.get(TILES_PATH)
async def tiles(request: Request, user: Viewer, context: ContextDep, v: str = "") -> Response:
    """The tiles alone; 204 when the browser already shows this board (``v``)."""
    board = await current_board(context)
    return fragment(request, "dashboard/_tiles.html", _values(context, board), seen=v)


def refresh(context: ManagementContext) -> str:
    """How often the operator pages poll their live fragments, as htmx writes it."""
    return f"{context.settings.management.dashboard_refresh_seconds:g}s"


def _values(context: ManagementContext, board: Board) -> dict[str, object]:
    return {
        "board": board,
        VERSION: board.version,
        "tiles_path": TILES_PATH,
        "refresh": refresh(context),
    }
