"""The load generator's scenarios (``bench.loadgen``) as the figures of the bench's table.

A fleet bigger than one generator's file limit is split over several
(``processes``); the figures are then those of all their chargers together.
"""

from __future__ import annotations

from typing import Any

from bench.generators import PhaseHook, merge, run_generators, split
from bench.proc import Sample
from bench.sizes import Size
from bench.targets import Running


def run_generator(
    running: Running, module: str, *options: str, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Sample]]:
    """The generator's result, and a sample of the server at the start of every phase."""
    results, phases = run_generators(running, module, [list(options)], env=env)
    return results[0], phases


def run_loadgen(
    running: Running,
    scenario: str,
    *options: str,
    count: int,
    processes: int = 1,
    on_phase: PhaseHook | None = None,
) -> tuple[dict[str, Any], dict[str, Sample]]:
    """``count`` chargers over ``processes`` generators, their results as one."""
    raw = ["--latencies"] if processes > 1 else []
    option_sets = [[scenario, *options, *part, *raw] for part in split(count, processes)]
    results, phases = run_generators(running, "bench.loadgen", option_sets, on_phase=on_phase)
    return merge(results), phases


def closed_loop(running: Running, size: Size, action: str) -> dict[str, Any]:
    result, phases = run_loadgen(
        running,
        "closed-loop",
        f"--action={action}",
        f"--seconds={size.closed_loop_seconds}",
        count=size.closed_loop_connections,
    )
    cpu = phases["done"].cpu_seconds - phases["measure"].cpu_seconds
    return {
        "msg/s": result["per_second"],
        "p50 ms": result["p50_ms"],
        "p99 ms": result["p99_ms"],
        "CPU µs/msg": 1e6 * cpu / result["messages"] if result["messages"] else None,
        "errors": sum(result["errors"].values()),
    }


def storm(running: Running, count: int, processes: int = 1) -> dict[str, Any]:
    result, phases = run_loadgen(
        running, "storm", "--seconds=120", count=count, processes=processes
    )
    return {
        "accepted": f"{result['accepted']}/{result['count']}",
        "s to all": result["seconds_to_all"],
        "p99 ms": result["p99_ms"],
        "CPU s": phases["booted"].cpu_seconds - phases["storm"].cpu_seconds,
        "errors": sum(result["errors"].values()),
    }


def steady(
    running: Running,
    size: Size,
    count: int,
    processes: int = 1,
    on_phase: PhaseHook | None = None,
) -> dict[str, Any]:
    result, phases = run_loadgen(
        running,
        "steady",
        f"--idle={size.steady_idle}",
        f"--seconds={size.steady_seconds}",
        f"--heartbeat={size.heartbeat}",
        f"--meter={size.meter}",
        f"--charging={size.charging}",
        count=count,
        processes=processes,
        on_phase=on_phase,
    )
    connections = result["connections"]
    idle_rss = phases["load"].rss_bytes
    return {
        "connections": connections,
        "msg/s": result["per_second"],
        "p50 ms": result["p50_ms"],
        "p99 ms": result["p99_ms"],
        "idle CPU %": 100 * phases["load"].cpu_share_since(phases["idle"]),
        "load CPU %": 100 * phases["done"].cpu_share_since(phases["load"]),
        "RSS MiB": max(idle_rss, phases["done"].rss_bytes) / 2**20,
        "KiB/conn": (idle_rss - phases["start"].rss_bytes) / 1024 / max(1, connections),
        "errors": sum(result["errors"].values()),
    }
