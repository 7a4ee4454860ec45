"""PostgreSQL unreachable while chargers keep talking: ``ocpp-core server`` rides it out.

The real server process reaches its database through a relay the test cuts
(see ``faults``), either refusing connections (PostgreSQL down) or swallowing
them (a network partition), while 1.6 chargers go on with their sessions the
way chargers do: one CALL at a time, resending what got an error after a
pause, with Heartbeats in between. Each charger meets the outage with a
different message at the head of its queue (MeterValues, StopTransaction,
StatusNotification, StartTransaction).

What must hold: the server stays up and keeps the chargers' connections; while
the database is away every message that needs storing gets a CALLERROR (never
a success it could not keep) and a Heartbeat its answer; once it is back,
everything resends and is stored exactly once (the message log holds exactly
the messages answered with success); the API and new connections get a 503
meanwhile; the background writers and sweeps resume by themselves; and the log
says it in a few lines, without a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.messages import MessageType
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from builders import NOW
from chargers import RawCharger
from cli_harness import provision
from faults import DatabaseProxy, Fault
from messages16 import (
    Message,
    boot_notification,
    heartbeat,
    meter_values,
    start_transaction,
    status_notification,
    stop_transaction,
)
from ocpp_core.db.models import (
    ChargePoint,
    Connector,
    MessageLogEntry,
    MeterAnomaly,
    PaymentReservation,
    Transaction,
)
from ocpp_core.db.session import Database
from servers import API_KEY, ServerProcess, ocpp_core_server, raw_chargers

pytestmark = pytest.mark.postgresql

TAG = "OUT-TAG"
CHARGERS = ("OUT-METER", "OUT-STOP", "OUT-STATUS", "OUT-START")
LATE = "OUT-LATE"  # first connects while the database is away
METER_START_WH = 2_000_000
STEP_WH = 10
# A charger's pause before it resends (TransactionMessageRetryInterval, shortened),
# and how long it waits for any answer before it gives up on a call.
RETRY_PAUSE = 0.5
ANSWER_TIMEOUT = 45.0
SCENARIO_TIMEOUT = 240.0  # a hang fails the test instead of the run
ABANDONED = "r-abandoned-in-outage"


@dataclass(frozen=True)
class Exchange:
    message: Message
    error: str | None  # the CALLERROR's code, or None for a CALLRESULT
    while_cut: bool  # the relay was still cut when the answer came


@dataclass
class Charger:
    """Sends like a charger: each message until it gets a CALLRESULT, a Heartbeat between tries."""

    id: str
    raw: RawCharger
    proxy: DatabaseProxy
    exchanges: list[Exchange] = field(default_factory=list)

    async def send(self, message: Message) -> dict[str, Any]:
        while True:
            frame = await self._exchange(message)
            if frame[0] == MessageType.CallResult:
                answer: dict[str, Any] = frame[2]
                return answer
            await self._exchange(heartbeat())
            await asyncio.sleep(RETRY_PAUSE)

    async def _exchange(self, message: Message) -> list[Any]:
        frame = await self.raw.call(message.action, message.payload)
        error = frame[2] if frame[0] == MessageType.CallError else None
        self.exchanges.append(Exchange(message, error, self.proxy.fault is not None))
        return frame

    def answered(self) -> list[Message]:
        """What got a CALLRESULT, in order, Heartbeats aside (they store nothing)."""
        return [
            e.message for e in self.exchanges if e.error is None and e.message.action != "Heartbeat"
        ]


def at(seconds: int) -> datetime:
    return NOW + timedelta(seconds=seconds)


@dataclass
class Session:
    """One charger's transaction: its id and the register it has reached."""

    charger: Charger
    transaction_id: int = 0
    register_wh: int = METER_START_WH
    clock: int = 0

    async def start(self) -> None:
        self.clock += 1
        answer = await self.charger.send(start_transaction(TAG, self.register_wh, at(self.clock)))
        assert answer["idTagInfo"]["status"] == "Accepted"
        self.transaction_id = answer["transactionId"]

    async def meter(self) -> None:
        self.clock += 1
        self.register_wh += STEP_WH
        await self.charger.send(meter_values(self.transaction_id, self.register_wh, at(self.clock)))

    async def stop(self) -> None:
        self.clock += 1
        self.register_wh += STEP_WH
        stop = stop_transaction(self.transaction_id, TAG, self.register_wh, at(self.clock))
        assert (await self.charger.send(stop))["idTagInfo"]["status"] == "Accepted"

    async def status(self, status: str) -> None:
        self.clock += 1
        await self.charger.send(status_notification(status, at(self.clock)))


# Before the outage each charger boots, plugs in and (but for OUT-STATUS) starts;
# what it sends first in the outage is the head of its queue.
async def before(session: Session) -> None:
    boot = await session.charger.send(boot_notification(session.charger.id))
    assert boot["status"] == "Accepted"
    if session.charger.id == "OUT-STATUS":
        await session.status("Available")
        return
    await session.status("Preparing")
    if session.charger.id != "OUT-START":
        await session.start()
        await session.meter()


async def through(session: Session) -> None:
    match session.charger.id:
        case "OUT-METER":
            await session.meter()
            await session.status("SuspendedEV")
        case "OUT-STOP":
            await session.stop()
            await session.status("Finishing")
            await session.status("Preparing")
            await session.start()
        case "OUT-STATUS":
            await session.status("Preparing")
            await session.start()
        case "OUT-START":
            await session.start()
    await session.meter()
    await session.stop()
    await session.status("Available")


@pytest.fixture
def provisioned(database_url: str, tmp_path: Path) -> str:
    provision(database_url, tmp_path, [*CHARGERS, LATE], [TAG])
    return database_url


@asynccontextmanager
async def relayed_server(
    database_url: str, proxy: DatabaseProxy, log: Path
) -> AsyncIterator[ServerProcess]:
    async with ocpp_core_server(
        proxy.url(database_url), log, {"OCPP_CORE_PAYMENTS__SWEEP_INTERVAL_SECONDS": "1"}
    ) as server:
        yield server


async def outage_at_the_server(server: ServerProcess, db: Database) -> None:
    """While the database is away: the API says 503, a new charger is told to come back later."""
    async with httpx.AsyncClient(base_url=server.http_url, headers={"X-API-Key": API_KEY}) as api:
        answer = await api.get("/API/Transactions", timeout=ANSWER_TIMEOUT)
    assert answer.status_code == 503
    assert answer.json()["status"] == "DatabaseUnavailable"
    with pytest.raises(InvalidStatus) as refused:
        async with asyncio.timeout(ANSWER_TIMEOUT):
            await connect(server.ws_url(LATE), subprotocols=[Subprotocol("ocpp1.6")])
    assert refused.value.response.status_code == 503
    async with db.session() as session:  # behind the server's back: only a sweep can end it
        session.add(unpaid_reservation())


def unpaid_reservation() -> PaymentReservation:
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    return PaymentReservation(
        id=ABANDONED,
        charge_point_id=LATE,
        connector_id=1,
        charge_tag_id="WEB-DRIVER",
        ocpp_id_tag="RABANDONEDINOUTAGE",
        status="PendingPayment",
        price_kwh_millicents=30_000,
        session_fee_cents=0,
        usage_fee_minute_millicents=0,
        usage_grace_minutes=0,
        usage_max_minutes=0,
        usage_after_charging=False,
        max_energy_wh=50_000,
        currency="eur",
        hold_cents=2_000,
        created_at=long_ago,
        updated_at=long_ago,
    )


async def after_the_outage(server: ServerProcess, db: Database, back: datetime) -> None:
    """The API and new connections work again; the background work has caught up."""
    async with httpx.AsyncClient(base_url=server.http_url, headers={"X-API-Key": API_KEY}) as api:
        assert (await api.get("/API/Transactions")).status_code == 200
    boot = boot_notification(LATE)
    async with raw_chargers(server, [LATE]) as [late]:
        assert (await late.result(boot.action, boot.payload))["status"] == "Accepted"
    await eventually(db, lambda session: caught_up(session, back))


async def caught_up(session: Any, back: datetime) -> bool:
    """Every charger's last-seen time written after the database came back; the sweep ran."""
    reservation = await session.get(PaymentReservation, ABANDONED)
    seen = await session.scalars(select(ChargePoint.last_seen_at).where(ChargePoint.id != LATE))
    return reservation.status == "Abandoned" and all(t is not None and t > back for t in seen)


async def eventually(db: Database, check: Callable[[Any], Awaitable[bool]]) -> None:
    async with asyncio.timeout(60):
        while True:
            async with db.reading() as session:
                if await check(session):
                    return
            await asyncio.sleep(0.2)


async def ride_out(
    database_url: str, proxy: DatabaseProxy, log: Path, fault: Fault, outage: float
) -> list[Charger]:
    db = Database(database_url)  # the test's own way in, around the relay
    try:
        async with (
            asyncio.timeout(SCENARIO_TIMEOUT),
            relayed_server(database_url, proxy, log) as server,
            raw_chargers(server, CHARGERS, answer_timeout=ANSWER_TIMEOUT) as raws,
        ):
            chargers = [Charger(cp, raw, proxy) for cp, raw in zip(CHARGERS, raws, strict=True)]
            sessions = [Session(charger) for charger in chargers]
            for session in sessions:
                await before(session)
            async with asyncio.TaskGroup() as group:
                await proxy.cut(fault)
                for session in sessions:
                    group.create_task(through(session))
                await asyncio.sleep(outage / 2)
                await outage_at_the_server(server, db)
                await asyncio.sleep(outage / 2)
                await proxy.restore()
                back = datetime.now(UTC)
            await after_the_outage(server, db, back)
            assert server.process.returncode is None  # up all along, never restarted
        await check_stored(db, chargers)
    finally:
        await db.close()
    return chargers


def assert_outage_answers(chargers: list[Charger]) -> None:
    for charger in chargers:
        during = [e for e in charger.exchanges if e.while_cut]
        storing = [e for e in during if e.message.action != "Heartbeat"]
        assert storing, f"{charger.id} sent nothing while the database was away"
        assert {e.error for e in storing} == {"InternalError"}, charger.id
        beats = [e for e in during if e.message.action == "Heartbeat"]
        assert beats
        assert {e.error for e in beats} == {None}, charger.id
        assert charger.raw.connection.problems == []


async def check_stored(db: Database, chargers: list[Charger]) -> None:
    """What was answered is stored, once: the log, the transactions, the connectors."""
    async with db.reading() as session:
        for charger in chargers:
            logged = await session.scalars(
                select(MessageLogEntry)
                .where(
                    MessageLogEntry.charge_point_id == charger.id,
                    MessageLogEntry.direction == "in",
                    MessageLogEntry.action != "Heartbeat",
                )
                .order_by(MessageLogEntry.id)
            )
            assert [(row.action, row.error_code) for row in logged] == [
                (m.action, None) for m in charger.answered()
            ], charger.id
            await check_transactions(session, charger)


async def check_transactions(session: Any, charger: Charger) -> None:
    rows = (
        await session.scalars(
            select(Transaction)
            .where(Transaction.charge_point_id == charger.id)
            .order_by(Transaction.id)
        )
    ).all()
    starts = [m for m in charger.answered() if m.action == "StartTransaction"]
    stops = [m for m in charger.answered() if m.action == "StopTransaction"]
    assert len(rows) == len(starts) == len(stops)  # a resent start made no second transaction
    for row, stop in zip(rows, stops, strict=True):
        assert row.meter_stop_wh == stop.payload["meterStop"]
        assert row.energy_wh == row.meter_stop_wh - row.meter_start_wh
    connector = await session.get(Connector, (charger.id, 1))
    assert connector.status == "Available"
    anomalies = await session.scalars(
        select(MeterAnomaly).where(MeterAnomaly.charge_point_id == charger.id)
    )
    assert anomalies.all() == []


def assert_told_once(log: Path) -> None:
    text = log.read_text()
    assert "Traceback" not in text, text
    down = text.count("the database is unreachable")
    assert 1 <= down <= 3, text  # one line per kind of failure, not one per attempt
    assert text.count("the database answers again") == 1, text


@pytest.mark.parametrize(
    ("fault", "outage"),
    [(Fault.BLACKHOLE, 30.0), (Fault.REFUSE, 8.0)],
    ids=["partition-30s", "refused-8s"],
)
async def test_chargers_ride_out_an_unreachable_database(
    provisioned: str, db_proxy: DatabaseProxy, tmp_path: Path, fault: Fault, outage: float
) -> None:
    log = tmp_path / "server.log"
    chargers = await ride_out(provisioned, db_proxy, log, fault, outage)
    assert_outage_answers(chargers)
    assert_told_once(log)
