"""``kill -9`` of ``ocpp-core server`` loses nothing it acknowledged.

Batching and queueing database writes must never trade away durability: a
charger's CALL is answered only once everything it caused (the domain rows and
its message-log row) is committed. To prove it, several chargers burst
MeterValues and StatusNotifications at the real server process, each as fast as
its answers come back, and the server is SIGKILLed the instant the last wanted
answer arrives, with the other chargers' calls still in flight. The database is
then read directly: no sleeping to "let things flush", because acknowledged must
already mean stored.

A CALL sent but not answered at the kill may or may not be stored: the charger
resends it (OCPP's rule for unanswered calls), so either outcome is correct.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.exceptions import ConnectionClosed

from builders import NOW, timestamp
from chargers import RawCharger
from cli_harness import provision, query
from messages16 import (
    Message,
    boot_notification,
    meter_values,
    register,
    start_transaction,
    status_notification,
    stop_transaction,
)
from ocpp_core.db.models import ChargePoint, Connector, MessageLogEntry, MeterAnomaly, Transaction
from servers import ServerProcess, ocpp_core_server, raw_chargers

SCENARIO_TIMEOUT = 60.0  # a hang fails the test instead of the run

CHARGERS = ("CRASH-1", "CRASH-2", "CRASH-3")
TAG = "CRASH-TAG"
METER_START_WH = 1_000_000  # not a new charger: the register is well past zero
STEP_WH = 10  # a sample a second apart: 36 kW, plausible anywhere
SETUP_MESSAGES = 3  # BootNotification, StatusNotification, StartTransaction

T = TypeVar("T", bound=Hashable)


def burst(transaction_id: int) -> Iterator[Message]:
    """Endless: each sample a second after the last; the status flips every fourth sample.

    Every message differs from every other, so each log row names the one it logs.
    """
    for n in count(1):
        at = NOW + timedelta(seconds=n)
        yield meter_values(transaction_id, METER_START_WH + n * STEP_WH, at)
        if n % 4 == 0:
            yield status_notification("SuspendedEV" if n % 8 else "Charging", at)


def status(message: Message) -> tuple[str, str]:
    return message.payload["status"], message.payload["timestamp"]


@dataclass
class Charger:
    """One in flight at a time, like a real charger: ``sent[:acked]`` were answered."""

    id: str
    raw: RawCharger
    sent: list[Message] = field(default_factory=list)
    acked: int = 0
    transaction_id: int = 0  # once StartTransaction is answered

    async def call(self, message: Message) -> dict[str, Any]:
        self.sent.append(message)  # before sending: a CALL the kill cut off counts as unanswered
        answer = await self.raw.result(message.action, message.payload)
        self.acked += 1
        return answer

    def last_sent(self, action: str) -> Message:
        return [m for m in self.sent if m.action == action][-1]

    def may_have_stored(self, action: str, read: Callable[[Message], T]) -> set[T]:
        """The last answered ``action`` and any unanswered one after it: what may be stored."""
        answered = [m for m in self.sent[: self.acked] if m.action == action]
        unanswered = [m for m in self.sent[self.acked :] if m.action == action]
        assert answered, f"{self.id}: no {action} was answered before the kill"
        return {read(m) for m in [answered[-1], *unanswered]}


@asynccontextmanager
async def connected(
    server: ServerProcess, charge_point_ids: Sequence[str]
) -> AsyncIterator[list[Charger]]:
    async with raw_chargers(server, charge_point_ids) as raws:
        yield [Charger(cp, raw) for cp, raw in zip(charge_point_ids, raws, strict=True)]


@dataclass
class Kill:
    """SIGKILLs the server the moment every charger has had ``acks_each`` answers."""

    server: ServerProcess
    chargers: list[Charger]
    acks_each: int
    done: bool = False

    def after_answer(self) -> None:
        if not self.done and all(c.acked >= self.acks_each for c in self.chargers):
            self.server.process.kill()  # at once: no await between the answer and the kill
            self.done = True


async def until_killed(charger: Charger, kill: Kill) -> None:
    try:
        for message in burst(charger.transaction_id):
            await charger.call(message)
            kill.after_answer()
    except ConnectionClosed as closed:
        if not kill.done:
            problem = f"the server went away before the kill; see {kill.server.log}"
            raise AssertionError(problem) from closed


async def crash_mid_burst(database_url: str, log: Path, acks_each: int) -> list[Charger]:
    """Boot, start a transaction and burst from every charger, until the server is killed."""
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        ocpp_core_server(database_url, log) as server,
        connected(server, CHARGERS) as chargers,
    ):
        for charger in chargers:
            boot = await charger.call(boot_notification(charger.id))
            assert boot["status"] == "Accepted"
            await charger.call(status_notification("Preparing", NOW))
            started = await charger.call(start_transaction(TAG, METER_START_WH))
            assert started["idTagInfo"]["status"] == "Accepted"
            charger.transaction_id = started["transactionId"]
        kill = Kill(server, chargers, SETUP_MESSAGES + acks_each)
        async with asyncio.TaskGroup() as group:
            for charger in chargers:
                group.create_task(until_killed(charger, kill))
        assert await server.process.wait() == -signal.SIGKILL
    for charger in chargers:
        assert charger.raw.connection.problems == []
    return chargers


async def resume(database_url: str, log: Path, crashed: list[Charger]) -> None:
    """Restart on the crashed database; every charger finishes its transaction there.

    Each first resends what the kill left unanswered, as a charger must. The
    server is then SIGKILLed again rather than stopped, so what it answered
    here has to be stored as well.
    """
    async with (
        asyncio.timeout(SCENARIO_TIMEOUT),
        ocpp_core_server(database_url, log) as server,
        connected(server, CHARGERS) as chargers,
    ):
        for charger, before in zip(chargers, crashed, strict=True):
            boot = await charger.call(boot_notification(charger.id))
            assert boot["status"] == "Accepted"
            for message in before.sent[before.acked :]:  # what the kill left unanswered
                await charger.call(message)
            last_wh, last_at = register(before.last_sent("MeterValues"))
            at = datetime.fromisoformat(last_at) + timedelta(seconds=1)
            stopped = await charger.call(
                stop_transaction(before.transaction_id, TAG, last_wh + STEP_WH, at)
            )
            assert stopped["idTagInfo"]["status"] == "Accepted"
            await charger.call(status_notification("Available", at))
            assert charger.raw.connection.problems == []


@dataclass(frozen=True)
class Stored:
    """What the database holds for one charger, timestamps written as the charger sent them."""

    model: str | None
    connector_status: tuple[str | None, str | None]
    connector_meter: tuple[int | None, str | None]
    transaction_meter: tuple[int | None, str | None]
    transaction_stop: tuple[int | None, int | None]  # meter_stop_wh, energy_wh
    anomalies: int
    logged: list[Message]  # incoming messages, in the order they were logged


def _at(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


async def read_stored(session: AsyncSession) -> dict[str, Stored]:
    stored = {}
    for charge_point_id in CHARGERS:
        charge_point = await session.get(ChargePoint, charge_point_id)
        connector = await session.get(Connector, (charge_point_id, 1))
        transaction = await session.scalar(
            select(Transaction).where(Transaction.charge_point_id == charge_point_id)
        )
        anomalies = await session.scalar(
            select(func.count())
            .select_from(MeterAnomaly)
            .where(MeterAnomaly.charge_point_id == charge_point_id)
        )
        rows = await session.scalars(
            select(MessageLogEntry)
            .where(
                MessageLogEntry.charge_point_id == charge_point_id,
                MessageLogEntry.direction == "in",
            )
            .order_by(MessageLogEntry.id)
        )
        assert charge_point is not None
        assert connector is not None
        assert transaction is not None
        stored[charge_point_id] = Stored(
            model=charge_point.model,
            connector_status=(connector.status, _at(connector.status_at)),
            connector_meter=(connector.meter_wh, _at(connector.meter_at)),
            transaction_meter=(transaction.last_meter_wh, _at(transaction.last_meter_at)),
            transaction_stop=(transaction.meter_stop_wh, transaction.energy_wh),
            anomalies=anomalies or 0,
            logged=[Message(r.action, json.loads(r.payload or "null")) for r in rows],
        )
    return stored


@pytest.fixture
def provisioned(database_url: str, tmp_path: Path) -> str:
    """The chargers and their tag, added with the CLI as an operator would."""
    provision(database_url, tmp_path, CHARGERS, [TAG])
    return database_url


def test_everything_acknowledged_survives_kill_9(provisioned: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    chargers = asyncio.run(crash_mid_burst(provisioned, log, acks_each=100))
    crashed = query(provisioned, read_stored)

    for charger in chargers:
        found = crashed[charger.id]
        assert found.model == charger.id  # BootNotification
        assert found.anomalies == 0  # every sample was taken, none set aside
        assert found.connector_status in charger.may_have_stored("StatusNotification", status)
        meter = charger.may_have_stored("MeterValues", register)
        assert found.connector_meter in meter
        assert found.transaction_meter in meter
        assert found.transaction_stop == (None, None)  # still charging
    for charger in chargers:
        logged = crashed[charger.id].logged
        missing = charger.acked - len(logged)
        assert missing <= 0, f"{charger.id}: {missing} of {charger.acked} answered CALLs not logged"
        assert logged == charger.sent[: len(logged)], (
            f"{charger.id}: the log differs from the CALLs"
        )

    # The same database, as the crash left it, serves again: every transaction can finish.
    asyncio.run(resume(provisioned, log, chargers))
    finished = query(provisioned, read_stored)
    for charger in chargers:
        last_wh, _ = register(charger.last_sent("MeterValues"))
        stop_wh = last_wh + STEP_WH
        assert finished[charger.id].transaction_stop == (stop_wh, stop_wh - METER_START_WH)
        assert finished[charger.id].connector_status[0] == "Available"
        assert finished[charger.id].anomalies == 0
