"""The dashboard's board: the fleet's totals and one page of tiles, and what changed since.

The live refresh must not send the whole board every few seconds. The browser
sends back what it shows: the page's *layout* (which tiles, in which order),
each tile's version and the totals' version. When the layout is the same, the
answer holds only the tiles and totals whose versions differ (swapped in out
of band); when nothing differs it is a 204. Every answer is one page at most.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocpp_core.management.context import ManagementContext
from ocpp_core.management.fleet import TileQuery, Totals, page, totals
from ocpp_core.management.live import version_of
from ocpp_core.management.tiles import Tile, build_tiles
from ocpp_core.payments.reservations import unpaid_cutoff

SEPARATOR = "."


@dataclass(frozen=True, slots=True)
class Board:
    tiles: tuple[Tile, ...]
    totals: Totals
    server_reachable: bool
    query: TileQuery
    next_after: tuple[str, int] | None

    @property
    def layout(self) -> str:
        keys = tuple(tile.key for tile in self.tiles)
        return version_of((keys, self.query, self.next_after, self.server_reachable))

    @property
    def tile_versions(self) -> str:
        return SEPARATOR.join(tile.version for tile in self.tiles)

    @property
    def totals_version(self) -> str:
        return version_of(self.totals)[:8]

    @property
    def version(self) -> str:
        """Changes whenever anything shown changes."""
        return version_of((self.layout, self.tile_versions, self.totals_version))


@dataclass(frozen=True, slots=True)
class Shown:
    """What the browser says it shows (all empty: a browser that shows nothing yet)."""

    layout: str = ""
    tiles: str = ""
    totals: str = ""


@dataclass(frozen=True, slots=True)
class Changes:
    """What to send: every tile and the totals, or only those that changed."""

    tiles: tuple[Tile, ...]
    totals: bool
    whole: bool


def changes(board: Board, shown: Shown) -> Changes:
    if not shown.layout or shown.layout != board.layout:
        return Changes(board.tiles, totals=True, whole=True)
    seen = shown.tiles.split(SEPARATOR) if shown.tiles else []
    if len(seen) != len(board.tiles):
        return Changes(board.tiles, totals=True, whole=True)
    changed = tuple(
        tile for tile, version in zip(board.tiles, seen, strict=True) if tile.version != version
    )
    return Changes(changed, totals=shown.totals != board.totals_version, whole=False)


async def load_board(context: ManagementContext, query: TileQuery) -> Board:
    # The database knows who is connected, but only while the server's nodes keep it so.
    reachable = await context.server.reachable()
    now = context.clock()
    cutoff = unpaid_cutoff(now, context.settings.payments.unpaid_hold_minutes)
    async with context.db.reading() as session:
        counted = await totals(session, cutoff, now)
        snapshot, next_after = await page(session, cutoff, query)
    tiles = build_tiles(snapshot, now, online_known=reachable)
    return Board(tiles, counted, reachable, query, next_after)
