"""The paid-session load: drivers paying through the Stripe simulator until their charger starts.

Each simulated charger (raw OCPP 1.6, as in :mod:`bench.loadgen`) boots and
reports its connector ``Preparing``: the car is plugged in first, so the server
sends the remote start the moment the payment is authorized. Its driver then
does what the browser does: ``Payments/Create``, pays on the simulator's hosted
Checkout page, and follows the redirect to ``Payments/Confirm`` (what the
management app's return page calls). The latency of a session runs from the
Create request until the RemoteStartTransaction CALL reaches the charger, which
answers Accepted. The driver then cancels, which frees the connector for the
next driver on that charger without a transaction.

Two ways to run: closed loop (every charger's driver starts the next session
the moment the last one is cancelled: the most one server takes), and paced
(``--rate``: sessions begin on a fixed schedule, each on a connector of its own,
``--connectors`` per charger, latency counted from the scheduled moment; the
cancels wait until every session has started, so the server's CPU between the
``sessions`` and ``settled`` phases is what the sessions alone cost, webhooks
included).

Run as ``python -m bench.paid --url ws://127.0.0.1:PORT/OCPP/ --chargers N --sessions M``
with the server's API key in ``OCPP_CORE_API_KEY``. Like the load generator it
talks to loopback only, is bounded in count and time, and prints JSON lines:
``{"phase": ...}``, then ``{"result": {...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import math
import os
import sys
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import uvloop

from bench.loadgen import (
    Charger,
    Recorder,
    charger_id,
    close_all,
    connect_all,
    phase,
    status,
)

MAX_CHARGERS = 200
MAX_SESSIONS = 10_000
MAX_SECONDS = 900.0
MAX_RATE = 100.0
MAX_CONNECTORS = 20
SESSION_TIMEOUT = 30.0
SETTLE_SECONDS = 1.0  # after the last start: the webhooks still on their way are handled
CARD = "4242424242424242"  # the simulator's card that pays
DRIVER_TAG = "WEB-BENCH"
LEGS = ("create", "pay", "start")


class Refused(Exception):
    """An HTTP step of the driver's path did not answer as a paying driver expects."""


@dataclass(frozen=True)
class PaidSession:
    """``perf_counter_ns`` at each step of one driver's session."""

    begun: int
    created: int
    paid: int
    arrived: int  # the RemoteStartTransaction at the charger
    by_webhook: bool  # the verified webhook sent the start before the driver's Confirm did


@dataclass
class Results:
    """The whole path's latencies (and every error), each leg's, and who started the charger."""

    whole: Recorder = field(default_factory=Recorder)
    legs: dict[str, Recorder] = field(default_factory=lambda: {leg: Recorder() for leg in LEGS})
    by_webhook: int = 0

    def add(self, session: PaidSession) -> None:
        self.whole.latencies_ns.append(session.arrived - session.begun)
        marks = (session.begun, session.created, session.paid, session.arrived)
        for leg, since, until in zip(LEGS, marks, marks[1:], strict=False):
            self.legs[leg].latencies_ns.append(until - since)
        self.by_webhook += session.by_webhook

    def summary(self) -> dict[str, Any]:
        whole = self.whole.summary()
        return {
            "reached": whole.pop("messages"),
            **whole,
            **{f"{leg}_p50_ms": r.summary()["p50_ms"] for leg, r in self.legs.items()},
            **{f"{leg}_p99_ms": r.summary()["p99_ms"] for leg, r in self.legs.items()},
            "started_by_webhook": self.by_webhook,
        }


def loopback(url: str) -> str:
    """The URL, if it points at this machine: the bench sends nothing anywhere else."""
    try:
        if ipaddress.ip_address(urlsplit(url).hostname or "").is_loopback:
            return url
    except ValueError:
        pass
    raise ValueError(f"not a loopback URL: {url}")


def api_base(ocpp_url: str) -> str:
    """The server's HTTP base: its API listens beside the chargers' websockets."""
    return f"http://{urlsplit(ocpp_url).netloc}"


async def paid_sessions(args: argparse.Namespace) -> dict[str, Any]:
    """Every charger's driver takes the next session until all are done or time is up."""
    results = Results()
    chargers = await _plugged_in(args, results)
    async with _driver_client(args) as web:
        await _warm_up(chargers, web, results)
        phase("sessions")
        started = time.perf_counter()
        todo = iter(range(args.sessions))
        deadline = started + args.seconds
        await asyncio.gather(*(_drive(c, web, todo, results, deadline) for c in chargers))
        elapsed = time.perf_counter() - started
    phase("done")
    await close_all(chargers)
    return _result(args, len(chargers), results, elapsed)


async def paced_sessions(args: argparse.Namespace) -> dict[str, Any]:
    """``args.rate`` sessions a second, each on a connector of its own; then all are cancelled."""
    results = Results()
    chargers = await connect_all(args.url, args.chargers, results.whole)
    plugs = [Plug(c, n) for n in range(1, args.connectors + 1) for c in chargers]
    await asyncio.gather(*(p.charger.call("StatusNotification", p.status()) for p in plugs))
    starts = {c.number: RemoteStarts(c) for c in chargers}
    readers = [asyncio.create_task(reader.run()) for reader in starts.values()]
    async with _driver_client(args) as web:
        if args.sessions < len(plugs):  # one unmeasured session first, on a spare connector
            spare = plugs[-1]
            await _paced(spare, starts[spare.charger.number], web, time.perf_counter(), Results())
        phase("sessions")
        started = time.perf_counter()
        schedule = [started + n / args.rate for n in range(args.sessions)]
        reservations = await asyncio.gather(
            *(
                _paced(plug, starts[plug.charger.number], web, at, results)
                for plug, at in zip(plugs, schedule, strict=False)
            )
        )
        elapsed = time.perf_counter() - started
        phase("done")
        await asyncio.sleep(SETTLE_SECONDS)
        phase("settled")
        await asyncio.gather(*(_cancel(web, r) for r in reservations if r is not None))
        await asyncio.sleep(SETTLE_SECONDS)
        phase("cancelled")
    for reader in readers:
        reader.cancel()
    await close_all(chargers)
    return _result(args, len(plugs), results, elapsed)


@dataclass(frozen=True)
class Plug:
    """One connector of a charger, with a car plugged in."""

    charger: Charger
    connector: int

    def status(self) -> dict[str, Any]:
        return {**status("Preparing"), "connectorId": self.connector}


class RemoteStarts:
    """Reads one charger's socket: accepts every CALL, and says when each connector's start came."""

    def __init__(self, charger: Charger) -> None:
        self.charger = charger
        self.waiting: dict[int, asyncio.Future[int]] = {}

    def expect(self, connector: int) -> asyncio.Future[int]:
        future = self.waiting[connector] = asyncio.get_running_loop().create_future()
        return future

    async def run(self) -> None:
        socket = self.charger.socket
        while True:
            frame = orjson.loads(await socket.recv())
            arrived = time.perf_counter_ns()
            if frame[0] != 2:
                continue
            await socket.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
            waiting = self.waiting.pop(frame[3].get("connectorId", 1), None)
            if frame[2] == "RemoteStartTransaction" and waiting is not None:
                waiting.set_result(arrived)


async def _plugged_in(args: argparse.Namespace, results: Results) -> list[Charger]:
    chargers = await connect_all(args.url, args.chargers, results.whole)
    await asyncio.gather(*(c.call("StatusNotification", status("Preparing")) for c in chargers))
    return chargers


def _driver_client(args: argparse.Namespace) -> httpx.AsyncClient:
    headers = {"X-API-Key": os.environ["OCPP_CORE_API_KEY"]}
    return httpx.AsyncClient(base_url=api_base(args.url), headers=headers, timeout=SESSION_TIMEOUT)


async def _warm_up(chargers: list[Charger], web: httpx.AsyncClient, results: Results) -> None:
    """One unmeasured session each first: connections, caches and the SDK warm up."""
    warmup = Results()
    await asyncio.gather(*(_drive(c, web, iter([0]), warmup, math.inf) for c in chargers))
    results.whole.errors.update(warmup.whole.errors)


def _result(
    args: argparse.Namespace, chargers: int, results: Results, elapsed: float
) -> dict[str, Any]:
    return {
        "chargers": chargers,
        "sessions": args.sessions,
        "per_second": len(results.whole.latencies_ns) / elapsed,
        **results.summary(),
    }


async def _paced(
    plug: Plug, starts: RemoteStarts, web: httpx.AsyncClient, at: float, results: Results
) -> dict[str, Any] | None:
    """One session begun at its moment; the reservation, for the cancel once all have started."""
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    try:
        async with asyncio.timeout(SESSION_TIMEOUT):
            # From the scheduled moment (the same clock): a late begin is latency too.
            session, reservation = await _session(
                web, plug, starts.expect(plug.connector), round(at * 1e9)
            )
    except Exception as error:  # counted; the rest go on
        print(f"{charger_id(plug.charger.number)}/{plug.connector}: {error!r}", file=sys.stderr)
        results.whole.failed(error)
        return None
    results.add(session)
    return reservation


async def _drive(
    charger: Charger, web: httpx.AsyncClient, todo: Iterator[int], results: Results, deadline: float
) -> None:
    """Sessions on one charger, one after another, taken from the queue all drivers share."""
    for _ in todo:
        try:
            async with asyncio.timeout(SESSION_TIMEOUT):
                # Listening before the first request: the webhook may start it before Confirm.
                remote_start = asyncio.create_task(_remote_start(charger))
                begun = time.perf_counter_ns()
                try:
                    session, reservation = await _session(
                        web, Plug(charger, 1), remote_start, begun
                    )
                finally:
                    remote_start.cancel()
                await _cancel(web, reservation)
            results.add(session)
        except Exception as error:  # counted; this charger's state is unknown, so it stops
            print(f"{charger_id(charger.number)}: {error!r}", file=sys.stderr)
            results.whole.failed(error)
            return
        if time.perf_counter() > deadline:
            return


async def _session(
    web: httpx.AsyncClient, plug: Plug, remote_start: Awaitable[int], begun: int
) -> tuple[PaidSession, dict[str, Any]]:
    """One driver's payment until ``remote_start`` says the charger heard; ``begun`` in ns."""
    created = await _post(web, "Create", _create_body(plug))
    if created.get("status") != "Redirect":
        raise Refused(f"Create: {created}")
    created_at = time.perf_counter_ns()
    session_id = await _pay(web, loopback(created["checkoutUrl"]))
    paid_at = time.perf_counter_ns()
    reservation = {"reservationId": created["reservationId"]}
    confirmed = await _post(web, "Confirm", {**reservation, "checkoutSessionId": session_id})
    arrived = await remote_start
    # Started by Confirm, or by the webhook, which may still await the charger's answer.
    started = confirmed.get("status") == "StartRequested"
    if not started and confirmed.get("reason") != "AlreadyRequested":
        raise Refused(f"Confirm: {confirmed}")
    by_webhook = confirmed.get("reason") != "Accepted"
    return PaidSession(begun, created_at, paid_at, arrived, by_webhook), reservation


async def _cancel(web: httpx.AsyncClient, reservation: dict[str, Any]) -> None:
    """Frees the connector for the next driver: a cancel needs no transaction on the charger."""
    await _post(web, "Cancel", {**reservation, "reason": "bench"})


def _create_body(plug: Plug) -> dict[str, Any]:
    return {
        "chargePointId": charger_id(plug.charger.number),
        "connectorId": plug.connector,
        "chargeTagId": DRIVER_TAG,
    }


async def _post(web: httpx.AsyncClient, action: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await web.post(f"/API/Payments/{action}", json=body)
    if response.status_code != 200:
        raise Refused(f"{action}: {response.status_code} {response.text[:200]}")
    answer: dict[str, Any] = response.json()
    return answer


async def _pay(web: httpx.AsyncClient, checkout_url: str) -> str:
    """Pay on the hosted page; the Checkout Session's id from the redirect back, as the browser."""
    paid = await web.post(checkout_url, data={"card_number": CARD, "action": "pay"})
    if paid.status_code != 303:
        raise Refused(f"Checkout: {paid.status_code} {paid.text[:200]}")
    return parse_qs(urlsplit(paid.headers["location"]).query)["session_id"][0]


async def _remote_start(charger: Charger) -> int:
    """When the server's RemoteStartTransaction arrived (perf_counter ns); any CALL is accepted."""
    while True:
        frame = orjson.loads(await charger.socket.recv())
        arrived = time.perf_counter_ns()
        if frame[0] != 2:
            continue
        await charger.socket.send(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
        if frame[2] == "RemoteStartTransaction":
            return arrived


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.paid", description=__doc__)
    parser.add_argument(
        "--url", required=True, help="ws://127.0.0.1:PORT/OCPP/ (the id is appended)"
    )
    parser.add_argument("--chargers", type=int, default=10, help="chargers, one driver each")
    parser.add_argument("--sessions", type=int, default=100, help="measured paid sessions")
    parser.add_argument("--seconds", type=float, default=300.0, help="time limit")
    parser.add_argument(
        "--rate", type=float, help="paced: sessions begun a second, each on a connector of its own"
    )
    parser.add_argument(
        "--connectors", type=int, default=1, help="paced: connectors of each charger, each plugged"
    )
    args = parser.parse_args(argv)
    if not 0 < args.chargers <= MAX_CHARGERS or not 0 < args.sessions <= MAX_SESSIONS:
        parser.error(f"--chargers must be 1..{MAX_CHARGERS}, --sessions 1..{MAX_SESSIONS}")
    if not 0 < args.connectors <= MAX_CONNECTORS:
        parser.error(f"--connectors must be 1..{MAX_CONNECTORS}")
    plugs = args.chargers * args.connectors
    if args.rate is not None and not (0 < args.rate <= MAX_RATE and args.sessions <= plugs):
        parser.error(f"--rate must be 0..{MAX_RATE}, with a connector for every session")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be at most {MAX_SECONDS}")
    try:
        loopback(args.url)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    result = uvloop.run(paid_sessions(args) if args.rate is None else paced_sessions(args))
    sys.stdout.write(orjson.dumps({"result": result}).decode() + "\n")


if __name__ == "__main__":
    main()
