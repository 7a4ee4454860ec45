"""Load generators as processes of their own: one, or several sharing one fleet's load.

One process holds as many chargers as its file limit allows (about 19,000 here),
so a bigger fleet is split over several, each with its own range of charger
numbers. They then run ``--paced``: each phase begins once every generator has
reached it, and the server (and whatever ``on_phase`` reads: Redis, the
database, a node to kill) is read in between, so a phase's figures are the
whole fleet's.
"""

from __future__ import annotations

import queue
import resource
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import IO, Any

import orjson

from bench.loadgen import MAX_COUNT, latency_figures
from bench.proc import Sample, sample
from bench.targets import Running

COMPANION = "@companion"  # a phase's sample of the target's helper process (Stripe simulator)
_SPARE_FILES = 1_000  # a generator's own files besides its chargers' sockets

PhaseHook = Callable[[str], None]


def processes_for(count: int, at_least: int = 1) -> int:
    """Generators needed for ``count`` chargers under this machine's file limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    each = min(MAX_COUNT, hard - _SPARE_FILES if hard != resource.RLIM_INFINITY else MAX_COUNT)
    return max(at_least, -(-count // each))


def split(count: int, processes: int) -> list[list[str]]:
    """Each generator's ``--first`` and ``--count``: consecutive ranges covering ``count``."""
    bounds = [count * n // processes for n in range(processes + 1)]
    return [
        [f"--first={bounds[n]}", f"--count={bounds[n + 1] - bounds[n]}"] for n in range(processes)
    ]


def run_generators(
    running: Running,
    module: str,
    option_sets: list[list[str]],
    *,
    env: dict[str, str] | None = None,
    on_phase: PhaseHook | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Sample]]:
    """Each generator's result, and a sample of the server as every phase begins.

    With several generators, or an ``on_phase`` that acts between phases, they
    run ``--paced``: a phase they wait at (``loadgen.phase_together``) begins once
    all announced it and the server was read. A phase they only announce gets no
    go: an unread one would let the next wait pass early, and a generator that
    ended meanwhile would break the pipe.
    """
    paced = len(option_sets) > 1 or on_phase is not None
    argv = [sys.executable, "-m", module, "--url", running.url, *(["--paced"] if paced else [])]
    phases = {"start": running.sample()}
    results: dict[int, dict[str, Any]] = {}
    with ExitStack() as stack:
        generators = [
            stack.enter_context(
                subprocess.Popen(
                    [*argv, *options],
                    stdin=subprocess.PIPE if paced else None,
                    stdout=subprocess.PIPE,
                    env=env,
                )
            )
            for options in option_sets
        ]
        lines: queue.Queue[tuple[int, bytes | None]] = queue.Queue()
        for number, generator in enumerate(generators):
            assert generator.stdout is not None
            threading.Thread(target=_pump, args=(number, generator.stdout, lines)).start()
        announced: Counter[str] = Counter()
        for number, message in _messages(lines, len(generators), generators, results):
            if "phase" not in message:
                results[number] = message["result"]
                continue
            name = message["phase"]
            announced[name] += 1
            if announced[name] < len(generators):
                continue
            phases[name] = running.sample()
            if running.companion is not None:
                phases[name + COMPANION] = sample(running.companion.pid)
            if on_phase is not None:
                on_phase(name)
            if message.get("waiting"):
                _go(generators)
    if any(g.returncode != 0 for g in generators) or len(results) < len(generators):
        raise RuntimeError(f"{module} {option_sets} failed against {running.name}")
    return [results[n] for n in range(len(generators))], phases


def _pump(number: int, stream: IO[bytes], lines: queue.Queue[tuple[int, bytes | None]]) -> None:
    try:
        for line in stream:
            lines.put((number, line))
    finally:  # its end must be seen, or the others would wait for it forever
        lines.put((number, None))


def _messages(
    lines: queue.Queue[tuple[int, bytes | None]],
    count: int,
    generators: list[subprocess.Popen[bytes]],
    results: dict[int, dict[str, Any]],
) -> Iterable[tuple[int, dict[str, Any]]]:
    """Every generator's messages until all have ended; one that ends without a result
    stops the others, which would wait for it at the next phase forever."""
    ended = 0
    while ended < count:
        number, line = lines.get()
        if line is not None:
            yield number, orjson.loads(line)
            continue
        ended += 1
        if number not in results:
            for generator in generators:
                generator.kill()


def _go(generators: list[subprocess.Popen[bytes]]) -> None:
    for generator in generators:
        assert generator.stdin is not None
        generator.stdin.write(b"\n")
        generator.stdin.flush()


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result for several generators: counts summed, latency figures of all latencies."""
    if len(results) == 1:
        return results[0]
    merged: dict[str, Any] = {}
    for key, first in results[0].items():
        values = [result[key] for result in results]
        if key == "errors":
            merged[key] = dict(sum((Counter(value) for value in values), Counter()))
        elif key.startswith("seconds"):
            merged[key] = max((v for v in values if v is not None), default=None)
        elif isinstance(first, int | float) and not key.endswith("_ms"):
            merged[key] = sum(values)
        elif not isinstance(first, list):
            merged[key] = first
    every = [latency for result in results for latency in result.get("latencies_ns", [])]
    return merged | latency_figures(every)
