"""The fleet pages' load: an operator opening each heavy page while chargers keep beating.

A few hundred of the fleet's own chargers (raw OCPP 1.6, as in
:mod:`bench.loadgen`) connect and send a Heartbeat at a steady interval, each
from its own random offset; every round trip is kept with the moment it was
sent. First nothing else happens for a while (the baseline); then an operator,
logged in like a browser, opens each page of :mod:`bench.fleet_pages` a few
times in turn. For each page: its times and size, and the heartbeats' p99 while
it was being served, to set beside the baseline's.

Run as ``python -m bench.fleet_probe --url ws://127.0.0.1:PORT/OCPP/ --management
http://127.0.0.1:PORT`` with the operator's name and password in
``OCPP_CORE_BENCH_OPERATOR`` (``name:password``). It talks to loopback only, is
bounded in count and time, and prints JSON lines: ``{"phase": ...}`` (the caller
samples the server's CPU and memory then), and last ``{"result": {...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import uvloop

from bench.fleet_pages import Page, pages
from bench.fleet_rows import charge_point_id
from bench.loadgen import Charger, Recorder, close_all, connect_all, phase
from ocpp_core.clock import utc_now

MAX_CHARGERS = 2_000
MAX_SECONDS = 600.0
PAGE_BUDGET = 60.0  # seconds: a page this slow is asked for once more at most
PENDING = 'id="figures-pending"'  # the charts or the report, answered before their figures
POLL = 0.1  # seconds between two asks for figures being computed (the page's own: 1 s)
# Seconds between two pages (default): the heartbeats a page held up are answered before
# the next page begins, so none is counted for both.
PAUSE = 1.0
OPERATOR = "OCPP_CORE_BENCH_OPERATOR"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Beats:
    """Every heartbeat's send time and round trip (seconds, perf_counter)."""

    sent: list[float] = field(default_factory=list)
    took: list[float] = field(default_factory=list)
    recorder: Recorder = field(default_factory=Recorder)

    def quantiles_ms(self, start: float, end: float) -> tuple[float | None, float | None, int]:
        """The p50 and p99 of the round trips under way between ``start`` and ``end``.

        The p50 shows what every heartbeat pays (waiting for the GIL, say); the
        p99 also what a loaded machine's scheduler adds now and then.
        """
        during = sorted(
            took
            for sent, took in zip(self.sent, self.took, strict=True)
            if sent <= end and sent + took >= start
        )
        if not during:
            return None, None, 0
        p99 = during[min(len(during) - 1, int(0.99 * len(during)))]
        return 1e3 * during[len(during) // 2], 1e3 * p99, len(during)


async def beat(charger: Charger, interval: float, beats: Beats, stop: asyncio.Event) -> None:
    """A heartbeat every ``interval`` seconds on the charger's own beat, until ``stop``.

    The beat keeps its phase (a random offset): one held up skips the times it missed
    rather than moving them, so a stall does not line every charger up on one moment.
    """
    due = time.perf_counter() + random.uniform(0, interval)
    while not stop.is_set():
        await _wait(stop, due - time.perf_counter())
        if stop.is_set():
            return
        sent = time.perf_counter()
        try:
            await charger.call("Heartbeat", {})
        except Exception as error:  # counted; a broken connection ends this charger's beat
            beats.recorder.failed(error)
            return
        beats.sent.append(sent)
        beats.took.append(time.perf_counter() - sent)
        due += interval * max(1, math.ceil((time.perf_counter() - due) / interval))


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


async def log_in(client: httpx.AsyncClient, name: str, password: str) -> None:
    """The login form, as a browser fills it in (its CSRF token included)."""
    form = await client.get("/Account/Login")
    token = _TOKEN.search(form.text)
    if token is None:
        raise RuntimeError("the login page has no CSRF token")
    data = {"csrf_token": token.group(1), "name": name, "password": password}
    answer = await client.post("/Account/Login", data=data)
    if answer.status_code != 303:
        raise RuntimeError(f"login refused: HTTP {answer.status_code}")


async def open_page(client: httpx.AsyncClient, page: Page, repeat: int) -> dict[str, Any]:
    """Ask for the page ``repeat`` times (fewer when it is very slow): times, size, status.

    The first view apart (cold), the quantiles of the others (warm): the charts and
    the report compute a period's figures on its first view and keep them for a
    while (``report_snapshots``), so one number for both would describe neither.
    A first view that came before its figures (they take longer than the page
    waits for them) is asked for again, as the page itself does, until they are
    there: ``figures_ms`` is when they were, and the warm views follow.
    """
    phase(f"page:{page.name}")
    times: list[float] = []
    sizes: list[int] = []
    statuses: set[int] = set()
    start = time.perf_counter()
    figures_ms = None  # stays None when the first view came with its figures
    while len(times) < repeat and (not times or sum(times) < PAGE_BUDGET):
        asked = time.perf_counter()
        response = await client.get(page.path)
        times.append(time.perf_counter() - asked)
        sizes.append(len(response.content))
        statuses.add(response.status_code)
        if PENDING in response.text and len(times) == 1:
            while PENDING in response.text and time.perf_counter() - start < PAGE_BUDGET:
                await asyncio.sleep(POLL)
                response = await client.get(page.path)
            figures_ms = 1e3 * (time.perf_counter() - start)
    end = time.perf_counter()
    phase(f"done:{page.name}")
    ordered = sorted(times[1:] or times)
    return {
        "page": page.name,
        "export": page.export,
        "requests": len(times),
        "first_ms": 1e3 * times[0],
        "figures_ms": figures_ms,
        "p50_ms": 1e3 * ordered[len(ordered) // 2],
        "p95_ms": 1e3 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "bytes": max(sizes),
        "status": sorted(statuses),
        "window": (start, end),
    }


async def probe(args: argparse.Namespace) -> dict[str, Any]:
    beats, stop = Beats(), asyncio.Event()
    phase("connecting")
    chargers = await connect_all(args.url, args.chargers, beats.recorder, charge_point_id)
    beating = [asyncio.create_task(beat(c, args.heartbeat, beats, stop)) for c in chargers]
    await asyncio.sleep(args.heartbeat)  # every charger has begun beating
    phase("baseline")
    baseline_start = time.perf_counter()
    await asyncio.sleep(args.baseline)
    baseline = (baseline_start, time.perf_counter())
    name, _, password = os.environ[OPERATOR].partition(":")
    async with httpx.AsyncClient(base_url=args.management, timeout=MAX_SECONDS) as client:
        await log_in(client, name, password)
        opened: list[dict[str, Any]] = []
        for page in pages(utc_now()):
            await asyncio.sleep(args.pause)
            opened.append(await open_page(client, page, args.repeat))
    stop.set()
    await asyncio.gather(*beating)
    phase("done")
    await close_all(chargers)
    for shown in opened:
        quantiles = beats.quantiles_ms(*shown.pop("window"))
        shown["hb_p50_ms"], shown["hb_p99_ms"], shown["heartbeats"] = quantiles
    baseline_p50, baseline_p99, baseline_count = beats.quantiles_ms(*baseline)
    return {
        "chargers": len(chargers),
        "baseline_hb_p50_ms": baseline_p50,
        "baseline_hb_p99_ms": baseline_p99,
        "baseline_heartbeats": baseline_count,
        "pages": opened,
        "errors": dict(beats.recorder.errors),
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_probe", description=__doc__)
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/OCPP/")
    parser.add_argument("--management", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--chargers", type=int, default=300, help="the fleet's first N")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="seconds between beats")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds with no page")
    parser.add_argument("--repeat", type=int, default=3, help="requests of each page")
    parser.add_argument("--pause", type=float, default=PAUSE, help="seconds between two pages")
    args = parser.parse_args(argv)
    if not 0 < args.chargers <= MAX_CHARGERS:
        parser.error(f"--chargers must be 1..{MAX_CHARGERS}")
    if not 0 < args.baseline <= MAX_SECONDS or not 0 < args.heartbeat <= MAX_SECONDS:
        parser.error(f"--baseline and --heartbeat must be in (0, {MAX_SECONDS}]")
    if not 0 <= args.pause <= MAX_SECONDS:
        parser.error(f"--pause must be in [0, {MAX_SECONDS}]")
    if not 0 < args.repeat <= 100:
        parser.error("--repeat must be 1..100")
    for url in (args.url, args.management):
        if urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
            parser.error("the probe only talks to loopback")
    return args


def main() -> None:
    args = parse(sys.argv[1:])
    result = uvloop.run(probe(args))
    sys.stdout.write(orjson.dumps({"result": result}).decode() + "\n")


if __name__ == "__main__":
    main()
