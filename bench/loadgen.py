"""The load generator: simulated OCPP 1.6 chargers as cheap as they can be, in their own process.

It speaks raw JSON frames over ``websockets`` (uvloop, orjson) rather than the
``ocpp`` library, so that the generator costs far less than what it measures.
Connections are spread over several loopback source addresses (127.0.0.1,
127.0.0.2, ...): one source address has only ~28,000 ephemeral ports towards one
server port. Every run is bounded in count and in time, and talks to loopback only.

Run as ``python -m bench.loadgen SCENARIO --url ws://127.0.0.1:PORT/OCPP/ --count N``.
It prints JSON lines: ``{"phase": ...}`` when a phase begins (so the caller can
read the server's CPU and memory at that moment), and last ``{"result": {...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import itertools
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect

MAX_COUNT = 25_000
MAX_SECONDS = 900.0
SOURCE_ADDRESSES = 8
CONNECT_BATCH = 500
CALL_TIMEOUT = 60.0  # seconds
ID_PREFIX = "BENCH"
BENCH_TAG = "BENCHTAG"

POWER_W = 11_000
BOOT = {"chargePointVendor": "ocpp-core", "chargePointModel": "bench"}


Naming = Callable[[int], str]  # a charger's number to its charge point id


def charger_id(number: int) -> str:
    return f"{ID_PREFIX}{number:06d}"


def status(state: str) -> dict[str, Any]:
    return {"connectorId": 1, "errorCode": "NoError", "status": state}


def meter_values(transaction_id: int | None, energy_wh: int) -> dict[str, Any]:
    """A realistic 9-sample MeterValues: energy, power, SoC, current and voltage per phase."""
    samples: list[dict[str, Any]] = [
        {"value": str(energy_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": str(POWER_W), "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "55", "measurand": "SoC", "unit": "Percent", "location": "EV"},
    ]
    for phase in ("L1", "L2", "L3"):
        samples.append(
            {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": phase}
        )
        samples.append(
            {"value": "230.0", "measurand": "Voltage", "unit": "V", "phase": f"{phase}-N"}
        )
    payload: dict[str, Any] = {
        "connectorId": 1,
        "meterValue": [{"timestamp": _now(), "sampledValue": samples}],
    }
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


def _now() -> str:
    """Milliseconds, as real meters send: energy within one second is plausible only then."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CallFailed(Exception):
    """The server answered a CALL with a CALLERROR."""


@dataclass
class Charger:
    """One connection with one outstanding CALL at a time, as OCPP 1.6 prescribes."""

    number: int
    socket: ClientConnection
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)  # heartbeats and meter values queue
    transaction_id: int | None = None
    energy_wh: int = 0
    charging_since: float = 0.0

    async def call(self, action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Send a CALL and wait for its answer: the answer's payload and the latency in ns.

        An answer that never comes is a ``TimeoutError`` after ``CALL_TIMEOUT``, as a
        charger gives up: counted, where waiting on would hold the whole run.
        """
        async with self.turn, asyncio.timeout(CALL_TIMEOUT):
            return await self._call(action, payload)

    async def _call(self, action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
        message_id = str(next(self.ids))
        started = time.perf_counter_ns()
        await self.socket.send(orjson.dumps([2, message_id, action, payload]).decode())
        while True:
            frame = orjson.loads(await self.socket.recv())
            if frame[0] == 2:  # the server asks something: accept it, keep waiting
                await self.socket.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
                continue
            if frame[1] != message_id:
                continue
            latency = time.perf_counter_ns() - started
            if frame[0] != 3:
                raise CallFailed(f"{action}: {frame[2]} {frame[3]}")
            return frame[2], latency

    async def boot(self) -> int:
        answer, latency = await self.call("BootNotification", BOOT)
        if answer.get("status") != "Accepted":
            raise CallFailed(f"BootNotification: {answer.get('status')}")
        return latency

    async def start_charging(self) -> None:
        await self.call("StatusNotification", status("Preparing"))
        answer, _ = await self.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": BENCH_TAG, "meterStart": 0, "timestamp": _now()},
        )
        self.charging_since = time.monotonic()
        self.transaction_id = int(answer["transactionId"])
        await self.call("StatusNotification", status("Charging"))

    async def send_meter_values(self) -> int:
        # The register follows an 11 kW charge in real time: a faster one would be an
        # implausible reading, which the server rightly keeps apart for review.
        self.energy_wh = int((time.monotonic() - self.charging_since) * POWER_W / 3600)
        _, latency = await self.call(
            "MeterValues", meter_values(self.transaction_id, self.energy_wh)
        )
        return latency


@dataclass
class Recorder:
    latencies_ns: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def failed(self, error: BaseException) -> None:
        """Counted by kind; the first of each kind is told on stderr, for the one who runs it."""
        kind = type(error).__name__
        if kind not in self.errors:
            print(f"loadgen: {kind}: {error}", file=sys.stderr, flush=True)
        self.errors[kind] += 1

    def summary(self, raw: bool = False) -> dict[str, Any]:
        """The figures; with ``raw`` every latency too, for the figures of several generators."""
        figures = latency_figures(self.latencies_ns)
        return {
            **figures,
            "errors": dict(self.errors),
            **({"latencies_ns": self.latencies_ns} if raw else {}),
        }


def latency_figures(latencies_ns: list[int]) -> dict[str, Any]:
    ordered = sorted(latencies_ns)
    return {
        "messages": len(ordered),
        "p50_ms": percentile(ordered, 0.50),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1] / 1e6 if ordered else None,
    }


def percentile(ordered: list[int], share: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] / 1e6


def phase(name: str, **values: Any) -> None:
    sys.stdout.write(orjson.dumps({"phase": name, **values}).decode() + "\n")
    sys.stdout.flush()


async def phase_together(name: str, paced: bool, **values: Any) -> None:
    """Announce the phase; when ``paced``, begin it only once the caller says go (a line).

    Several generators share one fleet's load that way: the caller starts each
    phase once all have reached it, and reads the server in between.
    """
    phase(name, **({"waiting": True} if paced else {}), **values)
    if paced and not await asyncio.to_thread(sys.stdin.readline):
        raise SystemExit("the caller went away")


def source_address(url: str, number: int) -> str | None:
    """Spread loopback connections over 127.0.0.1 ... 127.0.0.8; elsewhere, let the OS choose."""
    host = urlsplit(url).hostname or ""
    try:
        if not ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).version != 4:
            return None
    except ValueError:
        return None
    return f"127.0.0.{1 + number % SOURCE_ADDRESSES}"


async def open_charger(url: str, number: int, name: Naming = charger_id) -> Charger:
    address = source_address(url, number)
    extra: dict[str, Any] = {"local_addr": (address, 0)} if address else {}
    socket = await connect(
        url + name(number),
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        ping_interval=None,  # the server pings; the charger answers
        open_timeout=60,
        max_queue=4,
        **extra,
    )
    return Charger(number, socket)


async def connect_all(
    url: str, count: int, recorder: Recorder, name: Naming = charger_id, first: int = 0
) -> list[Charger]:
    """Connect and boot in batches, as a fleet does after a rolling restart."""
    chargers: list[Charger] = []
    for batch in range(first, first + count, CONNECT_BATCH):
        numbers = range(batch, min(first + count, batch + CONNECT_BATCH))
        booted = await asyncio.gather(
            *(_connect_and_boot(url, n, name) for n in numbers), return_exceptions=True
        )
        for outcome in booted:
            if isinstance(outcome, BaseException):
                recorder.failed(outcome)
            else:
                chargers.append(outcome)
    return chargers


async def _connect_and_boot(url: str, number: int, name: Naming) -> Charger:
    charger = await open_charger(url, number, name)
    await charger.boot()
    return charger


async def close_all(chargers: list[Charger]) -> None:
    await asyncio.gather(*(c.socket.close() for c in chargers), return_exceptions=True)


async def storm(args: argparse.Namespace) -> dict[str, Any]:
    """Every charger connects and boots at the same moment: how long until all are Accepted."""
    recorder = Recorder()
    done_at: list[int] = []

    async def one(number: int) -> Charger:
        charger = await open_charger(args.url, number)
        await charger.boot()
        done_at.append(time.perf_counter_ns() - started)
        return charger

    await phase_together("ready", args.paced)
    started = time.perf_counter_ns()
    phase("storm")
    numbers = range(args.first, args.first + args.count)
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(one(n) for n in numbers), return_exceptions=True),
        timeout=args.seconds,
    )
    chargers = [o for o in outcomes if isinstance(o, Charger)]
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            recorder.failed(outcome)
    recorder.latencies_ns = done_at
    await phase_together("booted", args.paced)
    await close_all(chargers)
    return {
        "count": args.count,
        "accepted": len(chargers),
        "seconds_to_all": max(done_at) / 1e9 if done_at else None,
        **recorder.summary(args.latencies),
    }


async def closed_loop(args: argparse.Namespace) -> dict[str, Any]:
    """Each connection sends its next message the moment the last is answered."""
    recorder = Recorder()
    chargers = await connect_all(args.url, args.count, recorder)
    if args.action == "MeterValues":
        await asyncio.gather(*(c.start_charging() for c in chargers))
    send: Callable[[Charger], Awaitable[int]] = (
        Charger.send_meter_values
        if args.action == "MeterValues"
        else lambda c: _latency(c.call("Heartbeat", {}))
    )
    stop = time.perf_counter() + args.warmup
    await asyncio.gather(*(_loop(c, send, stop, None) for c in chargers))
    phase("measure")
    stop = time.perf_counter() + args.seconds
    await asyncio.gather(*(_loop(c, send, stop, recorder) for c in chargers))
    phase("done")
    await close_all(chargers)
    summary = recorder.summary()
    return {
        "connections": len(chargers),
        "action": args.action,
        "per_second": summary["messages"] / args.seconds,
        **summary,
    }


async def _latency(answer: Awaitable[tuple[dict[str, Any], int]]) -> int:
    return (await answer)[1]


async def _loop(
    charger: Charger,
    send: Callable[[Charger], Awaitable[int]],
    stop: float,
    recorder: Recorder | None,
) -> None:
    while time.perf_counter() < stop:
        try:
            latency = await send(charger)
        except Exception as error:  # counted; a broken connection ends this charger's loop
            if recorder is not None:
                recorder.failed(error)
            return
        if recorder is not None:
            recorder.latencies_ns.append(latency)


async def steady(args: argparse.Namespace) -> dict[str, Any]:
    """A connected fleet at realistic rates: idle first (pings only), then the message load."""
    recorder = Recorder()
    await phase_together("connecting", args.paced)
    chargers = await connect_all(args.url, args.count, recorder, first=args.first)
    charging = chargers[: int(len(chargers) * args.charging)]
    await _in_batches(
        [c.call("StatusNotification", status("Available")) for c in chargers], recorder
    )
    await _in_batches([c.start_charging() for c in charging], recorder)
    await phase_together("idle", args.paced, connections=len(chargers))
    await asyncio.sleep(args.idle)
    await phase_together("load", args.paced)
    stop = time.perf_counter() + args.seconds
    tasks = [
        _every(c, args.heartbeat, lambda c: _latency(c.call("Heartbeat", {})), stop, recorder)
        for c in chargers
    ]
    tasks += [_every(c, args.meter, Charger.send_meter_values, stop, recorder) for c in charging]
    await asyncio.gather(*tasks)
    await phase_together("done", args.paced)
    await close_all(chargers)
    summary = recorder.summary(args.latencies)
    return {
        "connections": len(chargers),
        "charging": len(charging),
        "per_second": summary["messages"] / args.seconds,
        **summary,
    }


async def _in_batches(calls: list[Awaitable[Any]], recorder: Recorder) -> None:
    for first in range(0, len(calls), CONNECT_BATCH):
        outcomes = await asyncio.gather(
            *calls[first : first + CONNECT_BATCH], return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                recorder.failed(outcome)


async def _every(
    charger: Charger,
    interval: float,
    send: Callable[[Charger], Awaitable[int]],
    stop: float,
    recorder: Recorder,
) -> None:
    """Send at a fixed interval from a random offset, as a fleet's clocks are spread."""
    # An offset past the end (intervals can outlast the run) sends nothing and waits no longer.
    await asyncio.sleep(min(random.uniform(0, interval), max(0.0, stop - time.perf_counter())))
    while time.perf_counter() < stop:
        due = time.perf_counter() + interval
        try:
            recorder.latencies_ns.append(await send(charger))
        except Exception as error:  # counted; a broken connection ends this charger's loop
            recorder.failed(error)
            return
        # Never past the end: a charger beating every 300 s would hold the phase 300 s.
        await asyncio.sleep(max(0.0, min(due, stop) - time.perf_counter()))


SCENARIOS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]]] = {
    "storm": storm,
    "closed-loop": closed_loop,
    "steady": steady,
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument(
        "--url", required=True, help="ws://127.0.0.1:PORT/OCPP/ (the id is appended)"
    )
    parser.add_argument("--count", type=int, default=100, help="chargers (connections)")
    parser.add_argument(
        "--first", type=int, default=0, help="the first charger's number (storm, steady)"
    )
    parser.add_argument(
        "--paced", action="store_true", help="wait for a line on stdin before each phase"
    )
    parser.add_argument(
        "--latencies", action="store_true", help="every latency in the result, not only figures"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured time (storm: time limit)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="closed loop: unmeasured seconds first"
    )
    parser.add_argument("--action", choices=("Heartbeat", "MeterValues"), default="Heartbeat")
    parser.add_argument(
        "--idle", type=float, default=30.0, help="steady: idle seconds before the load"
    )
    parser.add_argument(
        "--heartbeat", type=float, default=300.0, help="steady: seconds between heartbeats"
    )
    parser.add_argument(
        "--meter", type=float, default=60.0, help="steady: seconds between meter values"
    )
    parser.add_argument(
        "--charging", type=float, default=0.15, help="steady: share of chargers charging"
    )
    args = parser.parse_args(argv)
    if not 0 < args.count <= MAX_COUNT:
        parser.error(f"--count must be 1..{MAX_COUNT}")
    if not 0 < args.seconds <= MAX_SECONDS or args.idle > MAX_SECONDS:
        parser.error(f"--seconds and --idle must be at most {MAX_SECONDS}")
    if urlsplit(args.url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        parser.error("the load generator only talks to loopback")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    result: dict[str, Any] = uvloop.run(SCENARIOS[args.scenario](args))
    sys.stdout.write(orjson.dumps({"result": result}).decode() + "\n")


if __name__ == "__main__":
    main()
