"""``/``: the dashboard, and the tiles fragment htmx polls to keep it live."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.management.auth import Viewer
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.templating import render
from ocpp_core.management.tiles import Board, build_board, load_snapshot

router = APIRouter(include_in_schema=False)

TILES_PATH = "/Home/Tiles"


async def current_board(context: ManagementContext) -> Board:
    live = await context.server.status()
    async with context.db.session() as session:
        snapshot = await load_snapshot(session)
    return build_board(snapshot, live, context.clock())


@router.get("/")
async def index(request: Request, user: Viewer, context: ContextDep) -> Response:
    """One tile per connector with its live status."""
    board = await current_board(context)
    return render(request, "dashboard/index.html", _values(context, board))


@router.get(TILES_PATH)
async def tiles(request: Request, user: Viewer, context: ContextDep, v: str = "") -> Response:
    """The tiles alone; 204 when the browser already shows this board (``v``)."""
    board = await current_board(context)
    if v == board.version:
        return Response(status_code=204)
    return render(request, "dashboard/_tiles.html", _values(context, board))


def _values(context: ManagementContext, board: Board) -> dict[str, object]:
    seconds = context.settings.management.dashboard_refresh_seconds
    return {"board": board, "tiles_path": TILES_PATH, "refresh": f"{seconds:g}s"}
