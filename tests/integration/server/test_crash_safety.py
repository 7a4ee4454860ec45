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
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from builders import NOW, timestamp
from chargers import SchemaCheckedConnection
from cli_harness import env_for, query, run
from ocpp_core.db.models import ChargePoint, Connector, MessageLogEntry, MeterAnomaly, Transaction
from servers import API_KEY, listening_socket

BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0
SCENARIO_TIMEOUT = 60.0  # a hang fails the test instead of the run

CHARGERS = ("CRASH-1", "CRASH-2", "CRASH-3")
TAG = "CRASH-TAG"
METER_START_WH = 1_000_000  # not a new charger: the register is well past zero
STEP_WH = 10  # a sample a second apart: 36 kW, plausible anywhere
SETUP_MESSAGES = 3  # BootNotification, StatusNotification, StartTransaction

T = TypeVar("T", bound=Hashable)


@dataclass(frozen=True)
class Message:
    action: str
    payload: dict[str, Any]


def boot_notification(charge_point_id: str) -> Message:
    return Message(
        "BootNotification", {"chargePointVendor": "ACME", "chargePointModel": charge_point_id}
    )


def status_notification(status: str, at: datetime) -> Message:
    return Message(
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": status, "timestamp": timestamp(at)},
    )


def start_transaction() -> Message:
    return Message(
        "StartTransaction",
        {"connectorId": 1, "idTag": TAG, "meterStart": METER_START_WH, "timestamp": timestamp(NOW)},
    )


def meter_values(transaction_id: int, register_wh: int, at: datetime) -> Message:
    sample = {
        "value": str(register_wh),
        "context": "Sample.Periodic",
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
    }
    return Message(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": transaction_id,
            "meterValue": [{"timestamp": timestamp(at), "sampledValue": [sample]}],
        },
    )


def stop_transaction(transaction_id: int, register_wh: int, at: datetime) -> Message:
    return Message(
        "StopTransaction",
        {
            "transactionId": transaction_id,
            "idTag": TAG,
            "meterStop": register_wh,
            "timestamp": timestamp(at),
            "reason": "EVDisconnected",
        },
    )


def burst(transaction_id: int) -> Iterator[Message]:
    """Endless: each sample a second after the last; the status flips every fourth sample.

    Every message differs from every other, so each log row names the one it logs.
    """
    for n in count(1):
        at = NOW + timedelta(seconds=n)
        yield meter_values(transaction_id, METER_START_WH + n * STEP_WH, at)
        if n % 4 == 0:
            yield status_notification("SuspendedEV" if n % 8 else "Charging", at)


def register(message: Message) -> tuple[int, str]:
    """A MeterValues' energy register and when it was sampled."""
    [value] = message.payload["meterValue"]
    return int(value["sampledValue"][0]["value"]), value["timestamp"]


def status(message: Message) -> tuple[str, str]:
    return message.payload["status"], message.payload["timestamp"]


@dataclass
class Charger:
    """One in flight at a time, like a real charger: ``sent[:acked]`` were answered."""

    id: str
    connection: SchemaCheckedConnection
    sent: list[Message] = field(default_factory=list)
    acked: int = 0
    transaction_id: int = 0  # once StartTransaction is answered

    async def call(self, message: Message) -> dict[str, Any]:
        unique_id = str(len(self.sent))
        self.sent.append(message)  # before sending: a CALL the kill cut off counts as unanswered
        await self.connection.send(json.dumps([2, unique_id, message.action, message.payload]))
        frame = json.loads(await self.connection.recv())
        assert frame[:2] == [3, unique_id], f"{self.id}: {message.action} answered {frame}"
        self.acked += 1
        answer: dict[str, Any] = frame[2]
        return answer

    def last_sent(self, action: str) -> Message:
        return [m for m in self.sent if m.action == action][-1]

    def may_have_stored(self, action: str, read: Callable[[Message], T]) -> set[T]:
        """The last answered ``action`` and any unanswered one after it: what may be stored."""
        answered = [m for m in self.sent[: self.acked] if m.action == action]
        unanswered = [m for m in self.sent[self.acked :] if m.action == action]
        assert answered, f"{self.id}: no {action} was answered before the kill"
        return {read(m) for m in [answered[-1], *unanswered]}


@dataclass(frozen=True)
class Server:
    process: asyncio.subprocess.Process
    port: int
    log: Path

    def ws_url(self, charge_point_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/OCPP/{charge_point_id}"


def server_env(database_url: str) -> dict[str, str]:
    """How an operator would run it, with every incoming message kept in the message log."""
    settings = {
        **env_for(database_url),
        "OCPP_CORE_API_KEY": API_KEY,
        "OCPP_CORE_LOG_LEVEL": "warning",
        "OCPP_CORE_OCPP__MESSAGE_LOG_LEVEL": "2",
    }
    merged = {**os.environ, **settings}
    return {name: value for name, value in merged.items() if value is not None}


@asynccontextmanager
async def ocpp_core_server(database_url: str, log: Path) -> AsyncIterator[Server]:
    """``ocpp-core server`` in a process of its own, which the test may SIGKILL at any time.

    Its output goes to a file: a pipe nobody reads would stall it once full.
    """
    sock, _ = listening_socket()
    port: int = sock.getsockname()[1]
    sock.close()  # the server binds it again; `ocpp-core server` can't take a socket
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            str(BIN / "ocpp-core"),
            "server",
            f"--port={port}",
            env=server_env(database_url),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        await until_listening(port, process, log)
        yield Server(process, port, log)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def until_listening(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    """Uvicorn binds only after the app's start-up (migrations included) is done."""
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"the server exited with {process.returncode}; see {log}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            await writer.wait_closed()
            return


@asynccontextmanager
async def connected(
    server: Server, charge_point_ids: Sequence[str]
) -> AsyncIterator[list[Charger]]:
    async with AsyncExitStack() as stack:
        chargers = []
        for charge_point_id in charge_point_ids:
            websocket = await stack.enter_async_context(
                connect(server.ws_url(charge_point_id), subprotocols=[Subprotocol("ocpp1.6")])
            )
            chargers.append(Charger(charge_point_id, SchemaCheckedConnection(websocket)))
        yield chargers


@dataclass
class Kill:
    """SIGKILLs the server the moment every charger has had ``acks_each`` answers."""

    server: Server
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
            started = await charger.call(start_transaction())
            assert started["idTagInfo"]["status"] == "Accepted"
            charger.transaction_id = started["transactionId"]
        kill = Kill(server, chargers, SETUP_MESSAGES + acks_each)
        async with asyncio.TaskGroup() as group:
            for charger in chargers:
                group.create_task(until_killed(charger, kill))
        assert await server.process.wait() == -signal.SIGKILL
    for charger in chargers:
        assert charger.connection.problems == []
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
                stop_transaction(before.transaction_id, last_wh + STEP_WH, at)
            )
            assert stopped["idTagInfo"]["status"] == "Accepted"
            await charger.call(status_notification("Available", at))
            assert charger.connection.problems == []


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
    env = env_for(database_url)
    run(["db", "upgrade"], env)
    table = tmp_path / "chargers.csv"
    table.write_text("id\n" + "".join(f"{charge_point_id}\n" for charge_point_id in CHARGERS))
    run(["chargepoint", "import", "--allow-no-password", str(table)], env)
    run(["tag", "add", TAG], env)
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
