"""``/``: the dashboard (fleet totals, a page of tiles), and the fragment that keeps it live."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.management.admin_forms import query_string
from ocpp_core.management.auth import Viewer
from ocpp_core.management.board import Board, Shown, changes, load_board
from ocpp_core.management.context import ContextDep, ManagementContext
from ocpp_core.management.fleet import FILTERS, MAX_SEARCH, PAGE_SIZE, TileQuery
from ocpp_core.management.templating import render
from ocpp_core.params import parse_db_int

router = APIRouter(include_in_schema=False)

TILES_PATH = "/Home/Tiles"
_MAX_KEY = 111  # a charge point id (100), "/" and a connector number
_VERSION = r"^[0-9a-f]{0,16}$"
_VERSIONS = rf"^([0-9a-f]{{8}}(\.[0-9a-f]{{8}}){{0,{PAGE_SIZE - 1}}})?$"

Show = Annotated[str, Query(pattern=rf"^({'|'.join(FILTERS)})?$")]
Search = Annotated[str, Query(max_length=MAX_SEARCH)]
After = Annotated[str, Query(max_length=_MAX_KEY)]
Version = Annotated[str, Query(pattern=_VERSION)]


@router.get("/")
async def index(
    request: Request,
    user: Viewer,
    context: ContextDep,
    show: Show = "",
    q: Search = "",
    after: After = "",
) -> Response:
    """The fleet's totals and one page of tiles, filtered by status or searched."""
    board = await load_board(context, _query(show, q, after))
    return render(request, "dashboard/index.html", _values(context, board))


@router.get(TILES_PATH)
async def tiles(
    request: Request,
    user: Viewer,
    context: ContextDep,
    show: Show = "",
    q: Search = "",
    after: After = "",
    v: Version = "",
    k: Version = "",
    t: Annotated[str, Query(pattern=_VERSIONS)] = "",
    s: Version = "",
) -> Response:
    """What changed since the browser's versions (``v`` whole, ``k`` layout, ``t`` tiles, ``s``
    totals): 204 when nothing did, else only the changed tiles and totals."""
    board = await load_board(context, _query(show, q, after))
    if v and v == board.version:
        return Response(status_code=204)
    values = _values(context, board) | {"changes": changes(board, Shown(k, t, s))}
    return render(request, "dashboard/_changes.html", values)


def _query(show: str, search: str, after: str) -> TileQuery:
    return TileQuery(show, search.strip(), _key(after) if after else None)


def _key(text: str) -> tuple[str, int]:
    """A tile's key ``CP/connector``, as the next-page link writes it."""
    charge_point_id, _, number = text.rpartition("/")
    connector_id = parse_db_int(number)
    if not charge_point_id or connector_id is None:
        raise HTTPException(400, "after: a tile's key, charge point id/connector number")
    return charge_point_id, connector_id


def refresh(context: ManagementContext) -> str:
    """How often the operator pages poll their live fragments, as htmx writes it."""
    return f"{context.settings.management.dashboard_refresh_seconds:g}s"


def _values(context: ManagementContext, board: Board) -> dict[str, object]:
    return {
        "board": board,
        "filters": FILTERS,
        "tiles_path": TILES_PATH,
        "oob": False,  # the fragment's answer swaps its parts in out of band
        "refresh": refresh(context),
        "poll_values": _poll_values(board),
        "first_url": _page_url(board.query, None) if board.query.after else None,
        "next_url": _page_url(board.query, board.next_after) if board.next_after else None,
    }


def _page_url(query: TileQuery, after: tuple[str, int] | None) -> str:
    return "/" + query_string(_page_values(query, after))


def _page_values(query: TileQuery, after: tuple[str, int] | None) -> dict[str, str]:
    values = {"show": query.show, "q": query.search}
    if after is not None:
        values["after"] = "{}/{}".format(*after)
    return values


def _poll_values(board: Board) -> dict[str, str]:
    """What the poll sends back: the page it shows and the versions of what it shows."""
    page = _page_values(board.query, board.query.after)
    versions = {
        "v": board.version,
        "k": board.layout,
        "t": board.tile_versions,
        "s": board.totals_version,
    }
    return {name: value for name, value in (page | versions).items() if value}
