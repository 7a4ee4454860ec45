"""The cluster's load generator: chargers that stay connected, answer, and come back.

Two scenarios, each a process of its own (as ``bench.loadgen``):

- ``commands``: ``--count`` chargers connect to the node at ``--url`` and answer
  every CALL; then one API command after another (a TriggerMessage) asks for
  one of them, alternately on that node and on the node at ``--other``, which
  has to route it through Redis. Their latencies, apart.
- ``failover``: ``--count`` chargers connect (through a load balancer at
  ``--url``, or spread over ``--url`` and every ``--other``) and hold on; a
  charger whose socket closes connects again at once, then after a short,
  growing pause while it fails, trying the next address each time, and boots.
  First the baseline: a third of them close their sockets themselves and come
  back on the healthy cluster. Then the phase ``kill``, which the caller uses
  to kill a node: how long from the first socket lost until every lost charger
  has booted again.

Prints JSON lines as ``bench.loadgen`` does; loopback only, bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import uvloop
from websockets.exceptions import ConnectionClosed

from bench.loadgen import (
    CONNECT_BATCH,
    MAX_COUNT,
    MAX_SECONDS,
    Charger,
    charger_id,
    close_all,
    latency_figures,
    open_charger,
    phase_together,
)

FIRST_PAUSE = 0.25  # seconds before a charger that failed to come back tries again; doubles
MAX_PAUSE = 4.0
QUIET = 2.0  # seconds without a lost socket after which the lost ones are all known
COMMAND = "TriggerMessage/{cp}/Heartbeat"  # answered by the charger, nothing stored


async def answer_calls(charger: Charger) -> None:
    """Accept every CALL of the server until the socket closes."""
    async for raw in charger.socket:
        frame = orjson.loads(raw)
        if frame[0] == 2:
            await charger.socket.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())


async def commands(args: argparse.Namespace) -> dict[str, Any]:
    chargers = [await _connect(args.url, args.first + n) for n in range(args.count)]
    listening = [asyncio.create_task(answer_calls(charger)) for charger in chargers]
    local, remote = _api(args.url), _api(args.other[0])
    latencies: dict[str, list[int]] = {"local": [], "remote": []}
    errors: Counter[str] = Counter()
    await phase_together("commands", args.paced)
    for number in range(args.calls):
        where, client = ("local", local) if number % 2 == 0 else ("remote", remote)
        path = "/API/" + COMMAND.format(cp=charger_id(args.first + number % args.count))
        started = time.perf_counter_ns()
        answer = await client.get(path)
        elapsed = time.perf_counter_ns() - started
        if answer.status_code == 200 and answer.json().get("status") == "Accepted":
            latencies[where].append(elapsed)
        else:
            errors[f"{where} {answer.status_code}"] += 1
    await phase_together("done", args.paced)
    for client in (local, remote):
        await client.aclose()
    for task in listening:
        task.cancel()
    await close_all(chargers)
    return {
        **{f"{where}_{key}": v for where in latencies for key, v in _figures(latencies[where])},
        "errors": dict(errors),
    }


def _figures(latencies: list[int]) -> list[tuple[str, Any]]:
    return list(latency_figures(latencies).items())


def _api(ws_url: str) -> httpx.AsyncClient:
    parts = urlsplit(ws_url)
    return httpx.AsyncClient(
        base_url=f"http://{parts.netloc}",
        headers={"X-API-Key": os.environ["OCPP_CORE_API_KEY"]},
        timeout=30.0,
    )


async def _connect(url: str, number: int) -> Charger:
    charger = await open_charger(url, number)
    await charger.boot()
    return charger


@dataclass
class Fleet:
    """Chargers that hold on to their sockets and come back when one closes."""

    urls: list[str]
    deadline: float
    chargers: dict[int, Charger] = field(default_factory=dict)
    lost_at: dict[int, float] = field(default_factory=dict)
    back_at: dict[int, float] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)

    async def hold(self, number: int) -> None:
        """Answer the server until the socket closes, then come back; until the deadline."""
        while time.monotonic() < self.deadline:
            with contextlib.suppress(ConnectionClosed):  # lost abruptly: as a clean close
                await answer_calls(self.chargers[number])
            self.lost_at.setdefault(number, time.monotonic())
            await self._come_back(number)

    async def _come_back(self, number: int) -> None:
        pause = FIRST_PAUSE
        for attempt in itertools.count():
            url = self.urls[(number + attempt) % len(self.urls)]
            try:
                self.chargers[number] = await _connect(url, number)
            except Exception as error:  # refused, reset, a node's 503: counted, tried again
                self.failures[type(error).__name__] += 1
                if time.monotonic() + pause > self.deadline:
                    raise
                await asyncio.sleep(pause * random.uniform(0.5, 1.5))
                pause = min(2 * pause, MAX_PAUSE)
                continue
            self.back_at[number] = time.monotonic()
            return

    async def all_back(self) -> dict[str, Any]:
        """Once sockets have stopped closing, until every lost charger booted again."""
        while time.monotonic() < self.deadline:
            quiet = self.lost_at and time.monotonic() - max(self.lost_at.values()) > QUIET
            if quiet and self.back_at.keys() >= self.lost_at.keys():
                break
            await asyncio.sleep(0.1)
        lost, back = self.lost_at, self.back_at
        first = min(lost.values(), default=0.0)
        done = [back[n] - first for n in lost if n in back]
        result = {
            "lost": len(lost),
            "back": len(done),
            "seconds": max(done, default=None),
            "failures": sum(self.failures.values()),
        }
        self.lost_at, self.back_at, self.failures = {}, {}, Counter()
        return result


async def failover(args: argparse.Namespace) -> dict[str, Any]:
    urls = [args.url, *args.other]
    fleet = Fleet(urls, time.monotonic() + args.seconds)
    numbers = range(args.first, args.first + args.count)
    await phase_together("connecting", args.paced)
    for start in range(0, len(numbers), CONNECT_BATCH):
        batch = numbers[start : start + CONNECT_BATCH]
        connected = await asyncio.gather(*(_connect(urls[n % len(urls)], n) for n in batch))
        fleet.chargers.update(zip(batch, connected, strict=True))
    holding = [asyncio.create_task(fleet.hold(n)) for n in numbers]
    await phase_together("baseline", args.paced)
    await asyncio.gather(*(fleet.chargers[n].socket.close() for n in numbers[::3]))
    baseline = await fleet.all_back()
    await phase_together("kill", args.paced)
    killed = await fleet.all_back()
    await phase_together("done", args.paced)
    for task in holding:
        task.cancel()
    await close_all(list(fleet.chargers.values()))
    return {
        "lost_baseline": baseline["lost"],
        "back_baseline": baseline["back"],
        "seconds_baseline": baseline["seconds"],
        "lost": killed["lost"],
        "back": killed["back"],
        "seconds_to_all": killed["seconds"],
        "failures": killed["failures"],
        "errors": {},
    }


SCENARIOS = {"commands": commands, "failover": failover}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster_load", description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/OCPP/ (a node's)")
    parser.add_argument("--other", action="append", default=[], help="another node's URL")
    parser.add_argument("--count", type=int, default=10, help="chargers")
    parser.add_argument("--first", type=int, default=0, help="the first charger's number")
    parser.add_argument("--calls", type=int, default=100, help="commands: API commands made")
    parser.add_argument("--seconds", type=float, default=300.0, help="the run's time limit")
    parser.add_argument("--paced", action="store_true", help="wait for a line before each phase")
    args = parser.parse_args(argv)
    if not 0 < args.count <= MAX_COUNT or not 0 < args.calls <= 100_000:
        parser.error(f"--count must be 1..{MAX_COUNT}, --calls 1..100000")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be at most {MAX_SECONDS}")
    if args.scenario == "commands" and not args.other:
        parser.error("commands: --other, the node that routes, is needed")
    for url in (args.url, *args.other):
        if urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
            parser.error("the load generator only talks to loopback")
    return args


def main() -> None:
    args = parse(sys.argv[1:])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    result = uvloop.run(SCENARIOS[args.scenario](args))
    sys.stdout.write(orjson.dumps({"result": result}).decode() + "\n")


if __name__ == "__main__":
    main()
