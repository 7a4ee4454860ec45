"""``python -m bench.fleet``: issue 12's fleet in a database, at any scale, in minutes.

At ``--scale 1``: 20,000 charge points, 40,000 connectors, 5,000 tags, 500,000
transactions over a year, 50,000 payment reservations and 2,000,000 message
log entries; ``--scale 0.01`` is a hundredth of each. The schema comes from the
project's migrations; the rows (see :mod:`bench.fleet_rows`) are bulk-loaded
(see :mod:`bench.fleet_load`) into an empty database, which the server and the
management app then run on as on any other. The same seed and ``--now`` give
the same rows; times are relative to ``--now`` (by default this minute), so the
data set always ends today: running sessions, a fresh message log.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from bench import fleet_messages, fleet_money
from bench import fleet_rows as rows
from bench.fleet_load import Loader, loader_for
from bench.fleet_rows import Counts, Fleet
from ocpp_core.db.migrate import upgrade

MAX_SCALE = 5.0

# What each table is filled with, in an order the foreign keys allow.
TABLES: tuple[tuple[str, list[str], Callable[[Fleet], Iterable[rows.Row]]], ...] = (
    ("charge_points", rows.CHARGE_POINT_COLUMNS, Fleet.charge_point_rows),
    ("charge_tags", rows.TAG_COLUMNS, Fleet.tag_rows),
    ("transactions", rows.TRANSACTION_COLUMNS, Fleet.transaction_rows),
    ("payment_reservations", fleet_money.COLUMNS, Fleet.reservation_rows),
    ("connectors", rows.CONNECTOR_COLUMNS, Fleet.connector_rows),
    ("message_log", fleet_messages.COLUMNS, Fleet.message_rows),
)


class NotEmpty(Exception):
    """The database already holds charge points: a data set goes into an empty one."""


async def build(
    url: str, scale: float, *, seed: int = 12, now: datetime | None = None, quiet: bool = False
) -> dict[str, int]:
    """Migrate ``url`` and load the fleet; the rows written, by table."""
    await upgrade(url)
    fleet = Fleet(Counts.at(scale), now or _this_minute(), seed)
    written: dict[str, int] = {}
    async with loader_for(url) as loader:
        if await loader.count("charge_points"):
            raise NotEmpty(f"{url} already holds charge points; give an empty database")
        await loader.begin()
        for table, columns, make in TABLES:
            started = time.perf_counter()
            written[table] = await loader.load(table, columns, make(fleet))
            if not quiet:
                seconds = time.perf_counter() - started
                print(f"{table}: {written[table]:,} rows in {seconds:.1f} s", file=sys.stderr)
        await loader.finish()
    return written


def _this_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


async def counts(url: str) -> dict[str, int]:
    """The rows each table of the data set holds now."""
    loader: Loader
    async with loader_for(url) as loader:
        return {table: await loader.count(table) for table, _, _ in TABLES}


def _scale(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_SCALE:
        raise argparse.ArgumentTypeError(f"a scale in (0, {MAX_SCALE}]")
    return value


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument(
        "--database",
        required=True,
        metavar="URL",
        help="an empty database: sqlite:///path/to/file or postgresql://user@host/name",
    )
    parser.add_argument("--scale", type=_scale, default=1.0, help="share of issue 12's fleet")
    parser.add_argument("--seed", type=int, default=12, help="the same seed, the same rows")
    parser.add_argument("--now", type=_moment, help="where the year ends (default: now, UTC)")
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        asyncio.run(build(args.database, args.scale, seed=args.seed, now=args.now))
    except NotEmpty as error:
        parser.exit(1, f"{error}\n")
    print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
