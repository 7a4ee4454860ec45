"""``python -m bench`` (``make bench``): every scenario against ocpp-core and the two baselines.

Each scenario runs against a fresh server process: the raw websockets echo
(the floor), the bare ``ocpp`` library central system (the usual start), and
ocpp-core on SQLite and/or PostgreSQL (``--database``); the paid session runs
against ocpp-core alone, as the baselines take no payments. The smoke size
(which measures nothing, and which the test suite runs) starts each server once
and runs every scenario of its kind against it. The load
generator is a process of its own; the server's CPU and memory are read from
/proc at each phase the generator announces. The result is a table (and JSON
with ``--json``); every figure of ocpp-core is also a ratio to the echo's.
With ``--workers`` 2 or more and a PostgreSQL database, the cluster's scenarios
follow (``bench.cluster``), each with a baseline of its own.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from bench import targets
from bench.cluster import cluster_rows
from bench.fleet_pages import BASELINE
from bench.generators import COMPANION
from bench.paid import LEGS
from bench.proc import Sample
from bench.scenarios import closed_loop, run_generator, steady, storm
from bench.sizes import SIZES, Row, Size
from bench.targets import Running

PAID = "paid session"  # the scenario's name starts so; --only paid picks it
FLEET = "fleet pages"  # --only fleet picks it
PAID_RATE = 10.0  # sessions begun a second in the paced paid scenario
PAID_CONNECTORS = 10  # each charger's: a session on each, none waits for a cancel


def paid_session(running: Running, size: Size) -> dict[str, Any]:
    result, phases = _paid(
        running, f"--chargers={size.paid_chargers}", f"--sessions={size.paid_sessions}"
    )
    return {
        "reached": f"{result['reached']}/{result['sessions']}",
        "sessions/s": result["per_second"],
        **_paid_figures(result),
        # The cancel that frees the connector for the next session included.
        **_paid_cpu(result, phases, "sessions", "done"),
        "errors": sum(result["errors"].values()),
    }


def paid_paced(running: Running, size: Size) -> dict[str, Any]:
    chargers = f"--chargers={_paced_chargers(size)}"
    options = (f"--connectors={PAID_CONNECTORS}", f"--rate={PAID_RATE}")
    result, phases = _paid(running, chargers, f"--sessions={size.paid_paced}", *options)
    cancels = _paid_cpu(result, phases, "settled", "cancelled")
    return {
        "reached": f"{result['reached']}/{result['sessions']}",
        **_paid_figures(result),
        **_paid_cpu(result, phases, "sessions", "settled"),
        "cancel CPU ms": cancels["CPU ms/session"],
        "errors": sum(result["errors"].values()),
    }


def _paced_chargers(size: Size) -> int:
    """A connector for every session, and one spare for the unmeasured warm-up session."""
    return size.paid_paced // PAID_CONNECTORS + 1


def _paid(running: Running, *options: str) -> tuple[dict[str, Any], dict[str, Sample]]:
    assert running.api_key is not None, "only ocpp-core takes payments"
    env = {**os.environ, "OCPP_CORE_API_KEY": running.api_key}
    return run_generator(running, "bench.paid", *options, "--seconds=600", env=env)


def _paid_figures(result: dict[str, Any]) -> dict[str, Any]:
    legs = [result[f"{leg}_p50_ms"] for leg in LEGS]
    return {
        "p50 ms": result["p50_ms"],
        "p99 ms": result["p99_ms"],
        # Create (checkout made) / hosted page paid / Confirm or webhook until the charger hears.
        "p50 ms: create / pay / start": " / ".join(_cell(ms) for ms in legs),
        "started by webhook": result["started_by_webhook"],
    }


def _paid_cpu(
    result: dict[str, Any], phases: dict[str, Sample], since: str, until: str
) -> dict[str, Any]:
    """The server's CPU per session, and as a multiple of the Stripe simulator's (the baseline).

    The simulator answers as many requests for each session (the API calls, the
    hosted page, four signed webhooks) on the same stack with its state in memory,
    in the same run: the ratio holds however loaded the machine was.
    """
    reached = result["reached"]
    cpu = phases[until].cpu_seconds - phases[since].cpu_seconds
    simulator = phases[until + COMPANION].cpu_seconds - phases[since + COMPANION].cpu_seconds
    return {
        "CPU ms/session": 1e3 * cpu / reached if reached else None,
        "x simulator": cpu / simulator if simulator else None,
    }


def fleet_pages(running: Running, size: Size) -> list[tuple[str, dict[str, Any]]]:
    """Each page's times and size, and the heartbeats' p99 meanwhile against the baseline's."""
    assert running.management_url is not None
    assert running.operator is not None
    result, phases = run_generator(
        running,
        "bench.fleet_probe",
        f"--management={running.management_url}",
        f"--chargers={size.fleet_chargers}",
        f"--repeat={size.fleet_repeat}",
        f"--baseline={size.fleet_baseline}",
        f"--pause={size.fleet_pause}",
        env={**os.environ, "OCPP_CORE_BENCH_OPERATOR": running.operator},
    )
    baseline, baseline_p50 = result["baseline_hb_p99_ms"], result["baseline_hb_p50_ms"]
    lines = []
    for page in result["pages"]:
        start, done = phases[f"page:{page['page']}"], phases[f"done:{page['page']}"]
        during, during_p50 = page["hb_p99_ms"], page["hb_p50_ms"]
        values = {
            "requests": page["requests"],
            "first ms": page["first_ms"],
            "figures ms": page["figures_ms"],
            "p50 ms": page["p50_ms"],
            "p95 ms": page["p95_ms"],
            "KiB": page["bytes"] / 1024,
            "HTTP": "/".join(str(code) for code in page["status"]),
            "server CPU s": (done.cpu_seconds - start.cpu_seconds) / page["requests"],
            "hb p50 ms": during_p50,
            "x baseline hb p50": _ratio(during_p50, baseline_p50),
            "hb p99 ms": during,
            "x baseline hb p99": _ratio(during, baseline),
            "heartbeats": page["heartbeats"],
            "RSS +MiB": (done.rss_bytes - start.rss_bytes) / 2**20 if page["export"] else None,
        }
        lines.append((page["page"], values))
    alone = {
        "hb p50 ms": baseline_p50,
        "hb p99 ms": baseline,
        "heartbeats": result["baseline_heartbeats"],
    }
    alone["errors"] = sum(result["errors"].values())
    lines.insert(0, (BASELINE, dict.fromkeys(lines[0][1]) | alone))
    return lines


def _ratio(during: float | None, baseline: float | None) -> float | None:
    return during / baseline if during and baseline else None


def fleet_rows(args: argparse.Namespace, size: Size) -> list[Row]:
    """The fleet pages scenario: one row per page, against ``ocpp-core serve`` per database."""
    scale = args.fleet_scale or size.fleet_scale
    rows: list[Row] = []
    for database in [args.fleet] if args.fleet else args.database or ["sqlite"]:
        kind = "sqlite" if database.startswith("sqlite") else "postgresql"
        where = "the given data set" if args.fleet else f"scale {scale:g}"
        apart = ", management apart" if args.fleet_apart else ""
        scenario = f"{FLEET} on {kind}, {where}{apart}"
        print(f"… {scenario}", file=sys.stderr, flush=True)
        fleet_target = targets.ocpp_core_fleet(
            database, scale=scale, built=args.fleet, apart=args.fleet_apart
        )
        with fleet_target as running:
            rows += [Row(scenario, page, values) for page, values in fleet_pages(running, size)]
    return rows


Target = Callable[[int], AbstractContextManager[Running]]


def plan(args: argparse.Namespace, *, paid: bool = False) -> Iterator[tuple[str, Target]]:
    if not paid and args.baselines:
        yield "echo", lambda _: targets.echo()
        yield "ocpp lib", lambda _: targets.ocpp_library()
    server = targets.ocpp_core_paid if paid else targets.ocpp_core
    for database in args.database or ["sqlite"]:
        kind = "sqlite" if database == "sqlite" else "postgresql"
        yield f"ocpp-core {kind}", partial(server, database=database)
        if args.workers > 1 and kind == "postgresql" and not paid:
            workers = partial(
                targets.ocpp_core, database=database, workers=args.workers, redis_url=args.redis
            )
            yield f"ocpp-core {kind}, {args.workers} workers", workers


class Servers:
    """The targets: a fresh one for each scenario, or when ``shared`` one of each kind for all.

    A shared server is started for the most chargers any scenario of its kind
    (paid or not) among ``scenarios`` asks for, and stops when the last is done.
    """

    def __init__(self, shared: bool, scenarios: list[tuple[str, int, Any]]) -> None:
        self.shared = shared
        self.most = {
            paid: max((n for name, n, _ in scenarios if name.startswith(PAID) == paid), default=0)
            for paid in (False, True)
        }
        self.started: dict[tuple[str, bool], Running] = {}
        self.stack = ExitStack()

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def running(
        self, name: str, target: Target, chargers: int, *, paid: bool
    ) -> AbstractContextManager[Running]:
        if not self.shared:
            return target(chargers)
        if (name, paid) not in self.started:
            self.started[name, paid] = self.stack.enter_context(target(self.most[paid]))
        return nullcontext(self.started[name, paid])


def run(args: argparse.Namespace) -> list[Row]:
    size = SIZES[args.size]
    scenarios: list[tuple[str, int, Callable[[Running], dict[str, Any]]]] = [
        (
            "heartbeat closed loop",
            size.closed_loop_connections,
            lambda r: closed_loop(r, size, "Heartbeat"),
        ),
        (
            "meter values closed loop",
            size.closed_loop_connections,
            lambda r: closed_loop(r, size, "MeterValues"),
        ),
        (f"storm of {size.storm}", size.storm, lambda r: storm(r, size.storm)),
        (f"steady, {size.steady} chargers", size.steady, lambda r: steady(r, size, size.steady)),
        (
            f"{PAID}, {size.paid_paced} at {PAID_RATE:g}/s",
            _paced_chargers(size),
            lambda r: paid_paced(r, size),
        ),
        (
            f"{PAID}, closed loop, {size.paid_sessions} on {size.paid_chargers} chargers",
            size.paid_chargers,
            lambda r: paid_session(r, size),
        ),
    ]
    chosen = [s for s in scenarios if not args.only or any(word in s[0] for word in args.only)]
    rows: list[Row] = []
    with Servers(size.shared_servers, chosen) as servers:
        for scenario, chargers, measure in chosen:
            paid = scenario.startswith(PAID)
            for name, target in plan(args, paid=paid):
                print(f"… {scenario} against {name}", file=sys.stderr, flush=True)
                with servers.running(name, target, chargers, paid=paid) as running:
                    rows.append(Row(scenario, name, measure(running)))
    if not args.only or any(word in FLEET for word in args.only):
        rows += fleet_rows(args, size)
    return rows + cluster_rows(args, size)


def ratios(rows: list[Row]) -> None:
    """ocpp-core's (and the library's) throughput as a share of the echo's in the same scenario."""
    floor = {row.scenario: row.values.get("msg/s") for row in rows if row.target == "echo"}
    for row in rows:
        base = floor.get(row.scenario)
        if base and row.values.get("msg/s") and row.scenario.endswith("closed loop"):
            row.values["x echo"] = row.values["msg/s"] / base


def table(rows: list[Row]) -> str:
    lines: list[str] = []
    for scenario in dict.fromkeys(row.scenario for row in rows):
        group = [row for row in rows if row.scenario == scenario]
        columns = list(dict.fromkeys(key for row in group for key in row.values))
        lines.append(f"\n{scenario}\n")
        lines.append("| target | " + " | ".join(columns) + " |")
        lines.append("|---|" + "---:|" * len(columns))
        for row in group:
            cells = [_cell(row.values.get(column)) for column in columns]
            lines.append(f"| {row.target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} x {cpu}, Python {platform.python_version()}, {system}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument(
        "--database",
        action="append",
        metavar="sqlite|URL",
        help="ocpp-core's database: sqlite (the default) or a postgresql:// URL; repeatable",
    )
    parser.add_argument("--only", nargs="*", help="scenarios whose name holds one of these words")
    parser.add_argument(
        "--fleet",
        metavar="URL",
        help="fleet pages: a data set built before (python -m bench.fleet), not a new one",
    )
    parser.add_argument(
        "--fleet-scale", type=float, help="fleet pages: the data set's scale (default by --size)"
    )
    parser.add_argument(
        "--fleet-apart",
        action="store_true",
        help="fleet pages: ocpp-core server and management as two processes, not serve",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="on PostgreSQL, also ocpp-core server --workers N right after one process",
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/0",
        help="the Redis of the --workers cluster (default %(default)s)",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument(
        "--no-baselines",
        dest="baselines",
        action="store_false",
        help="ocpp-core alone, e.g. to re-measure it after a change (no ratios then)",
    )
    args = parser.parse_args()
    rows = run(args)
    ratios(rows)
    print(f"\nmachine: {machine()}")
    print(table(rows))
    if args.json:
        args.json.write_bytes(
            orjson.dumps([row.__dict__ for row in rows], option=orjson.OPT_INDENT_2)
        )


if __name__ == "__main__":
    main()
