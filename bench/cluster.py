"""The cluster's scenarios (issue 13), on PostgreSQL and Redis, each with its baseline.

- **cluster steady** and **cluster storm**: ``--workers N`` with the whole
  fleet, after one process with 1/N of it (the baseline: the same figures per
  charger), the generator split over as many processes as the file limit asks.
  The steady rows also say what the fleet asks of Redis and PostgreSQL.
- **command through another node**: two nodes, the chargers on the first; the
  same API command asked of the first (the baseline) and of the second in turn.
- **kill -9 of one of 3 nodes**: through HAProxy when installed, else straight
  to the surviving nodes; the baseline is a third of the fleet reconnecting at
  once on the healthy cluster.

They run when ``--workers`` is 2 or more and a PostgreSQL ``--database`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import asyncpg
import redis
from sqlalchemy.engine import make_url

from bench import balancer, targets
from bench.generators import merge, processes_for, run_generators, split
from bench.scenarios import steady, storm
from bench.sizes import Row, Size
from bench.targets import Running

STEADY = "cluster steady"
STORM = "cluster storm"
COMMAND = "command through another node"
FAILOVER = "kill -9 of one of 3 nodes"
COMMAND_CHARGERS = 10


def cluster_rows(args: argparse.Namespace, size: Size) -> list[Row]:
    database = next((url for url in args.database or [] if url != "sqlite"), None)
    if database is None or args.workers < 2:
        return []
    scenarios: list[tuple[str, Callable[[argparse.Namespace, Size, str], list[Row]]]] = [
        (STEADY, spread_steady),
        (STORM, spread_storm),
        (COMMAND, command_elsewhere),
        (FAILOVER, node_killed),
    ]
    rows: list[Row] = []
    for name, measure in scenarios:
        if not args.only or any(word in name for word in args.only):
            print(f"… {name}", file=sys.stderr, flush=True)
            rows += measure(args, size, database)
    return rows


def _spread(args: argparse.Namespace, database: str, count: int) -> list[tuple[str, Any, int]]:
    """The baseline, one process with 1/N of the fleet; then N workers with all of it."""
    share = count // args.workers
    one = targets.ocpp_core(share, database)
    many = targets.ocpp_core(count, database, args.workers, args.redis)
    return [("1 process", one, share), (f"{args.workers} workers", many, count)]


def spread_steady(args: argparse.Namespace, size: Size, database: str) -> list[Row]:
    scenario = f"{STEADY}, {size.cluster_steady} chargers"
    rows = []
    for name, target, chargers in _spread(args, database, size.cluster_steady):
        with target as running:
            probe = Probe(running, args.redis)
            values = steady(running, size, chargers, processes_for(chargers, 2), probe.at)
            rows.append(Row(scenario, name, values | probe.figures(values, size)))
    base, spread = rows[0].values, rows[1].values
    for column in ("p99 ms", "KiB/conn", "idle CPU %/1k"):
        spread[f"{column} x 1 process"] = _ratio(spread[column], base[column])
    return rows


def spread_storm(args: argparse.Namespace, size: Size, database: str) -> list[Row]:
    scenario = f"{STORM} of {size.cluster_storm}"
    rows = []
    for name, target, chargers in _spread(args, database, size.cluster_storm):
        with target as running:
            values = storm(running, chargers, processes_for(chargers, 2))
        seconds = values["s to all"]
        boots = chargers / seconds if seconds else None
        rows.append(Row(scenario, name, values | {"boots/s": boots}))
    rows[1].values["boots/s x 1 process"] = _ratio(
        rows[1].values["boots/s"], rows[0].values["boots/s"]
    )
    return rows


def command_elsewhere(args: argparse.Namespace, size: Size, database: str) -> list[Row]:
    with targets.ocpp_core_nodes(COMMAND_CHARGERS, database, 2, args.redis) as (held, other):
        assert held.api_key is not None
        options = ["commands", f"--other={other.url}", f"--count={COMMAND_CHARGERS}"]
        options.append(f"--calls={size.cluster_commands}")
        env = os.environ | {"OCPP_CORE_API_KEY": held.api_key}
        (result,), _ = run_generators(held, "bench.cluster_load", [options], env=env)
    errors = sum(result["errors"].values())
    local = {k.removeprefix("local_"): v for k, v in result.items() if k.startswith("local_")}
    remote = {k.removeprefix("remote_"): v for k, v in result.items() if k.startswith("remote_")}
    rows = []
    for name, figures in (("on the node holding it", local), ("through the other node", remote)):
        values = {
            "commands": figures["messages"],
            "p50 ms": figures["p50_ms"],
            "p99 ms": figures["p99_ms"],
            "added p50 ms": figures["p50_ms"] - local["p50_ms"],
            "added p99 ms": figures["p99_ms"] - local["p99_ms"],
            "x local p50": _ratio(figures["p50_ms"], local["p50_ms"]),
            "x local p99": _ratio(figures["p99_ms"], local["p99_ms"]),
            "errors": errors,
        }
        rows.append(Row(f"{COMMAND}, TriggerMessage", name, values))
    return rows


def node_killed(args: argparse.Namespace, size: Size, database: str) -> list[Row]:
    count = size.cluster_failover
    with targets.ocpp_core_nodes(count, database, 3, args.redis) as nodes:
        victim = nodes[1].process

        def kill(phase: str) -> None:
            if phase == "kill":
                os.kill(victim.pid, signal.SIGKILL)

        parts = split(count, processes_for(count))
        if balancer.installed():
            with balancer.haproxies(nodes, count) as entries:
                via = f"through HAProxy x {len(entries)}"
                result = _failover(entries, parts, kill)
        else:
            via = "to the surviving nodes' ports"
            result = _failover(nodes, parts, kill)
    scenario = f"{FAILOVER}, {count} chargers, {via}"
    baseline = {
        "lost": result["lost_baseline"],
        "booted again": result["back_baseline"],
        "s to all": result["seconds_baseline"],
    }
    killed = {
        "lost": result["lost"],
        "booted again": result["back"],
        "s to all": result["seconds_to_all"],
        "x baseline": _ratio(result["seconds_to_all"], result["seconds_baseline"]),
        "failed tries": result["failures"],
    }
    return [
        Row(scenario, "a third reconnect, all nodes up", baseline),
        Row(scenario, "node 2 killed", killed),
    ]


def _failover(
    entries: list[Running], parts: list[list[str]], kill: Callable[[str], None]
) -> dict[str, Any]:
    """The chargers spread over ``entries`` (and coming back through the next ones)."""
    others = [f"--other={entry.url}" for entry in entries[1:]]
    option_sets = [["failover", *part, *others] for part in parts]
    results, _ = run_generators(entries[0], "bench.cluster_load", option_sets, on_phase=kill)
    return merge(results)


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


class Probe:
    """Redis and PostgreSQL as each phase of the steady scenario begins.

    Redis's figures are the whole server's (INFO), so they are another job's too
    when the Redis is shared: measure on a Redis of the bench's own (``--redis``).
    """

    def __init__(self, running: Running, redis_url: str) -> None:
        self.running = running
        self.redis = redis.Redis.from_url(redis_url) if running.redis_prefix else None
        self.samples: dict[str, dict[str, float]] = {}

    def at(self, phase: str) -> None:
        sample = asyncio.run(self._database())
        if self.redis is not None:
            stats = self.redis.info("commandstats")
            sample["redis calls"] = sum(entry["calls"] for entry in stats.values())
            sample["redis memory"] = self.redis.info("memory")["used_memory"]
            chargers = f"{self.running.redis_prefix}:chargers"
            sample["redis hash"] = self.redis.memory_usage(chargers) or 0
            sample["redis entries"] = self.redis.hlen(chargers)
        self.samples[phase] = sample

    async def _database(self) -> dict[str, float]:
        assert self.running.database_url is not None
        url = make_url(self.running.database_url)
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            row = await connection.fetchrow(
                "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS written"
                " FROM pg_stat_database WHERE datname = $1",
                url.database,
            )
        finally:
            await connection.close()
        assert row is not None
        return {"pg commits": row["xact_commit"], "pg rows written": row["written"]}

    def figures(self, values: dict[str, Any], size: Size) -> dict[str, Any]:
        """Per charger (and per minute of the load), and the idle CPU per 1,000 chargers."""
        connected, idle, load, done = (
            self.samples[p] for p in ("connecting", "idle", "load", "done")
        )
        chargers = max(1, values["connections"])
        minutes = size.steady_seconds / 60
        figures: dict[str, Any] = {
            "idle CPU %/1k": values["idle CPU %"] * 1000 / chargers,
            "PG commits/charger/min": (done["pg commits"] - load["pg commits"])
            / chargers
            / minutes,
            "PG rows/charger/min": (done["pg rows written"] - load["pg rows written"])
            / chargers
            / minutes,
        }
        if self.redis is None:
            return figures
        messages = values["msg/s"] * size.steady_seconds
        return figures | {
            "Redis cmds/connect": (idle["redis calls"] - connected["redis calls"]) / chargers,
            "Redis cmds/s idle": (load["redis calls"] - idle["redis calls"]) / size.steady_idle,
            "Redis cmds/msg": (done["redis calls"] - load["redis calls"]) / max(1, messages),
            "Redis B/charger": idle["redis hash"] / max(1, idle["redis entries"]),
            "Redis used B/charger": (idle["redis memory"] - connected["redis memory"]) / chargers,
        }
