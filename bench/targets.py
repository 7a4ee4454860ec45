"""The servers a benchmark runs against, each in its own process on a free loopback port.

ocpp-core runs exactly as an operator runs it (``ocpp-core server``) on a fresh
database (SQLite in a temporary folder, or a new PostgreSQL database), with the
benchmark's chargers and tag provisioned through the CLI beforehand.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from bench.loadgen import BENCH_TAG, charger_id
from bench.proc import Sample, sample

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Running:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    def sample(self) -> Sample:
        return sample(self.process.pid)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {START_TIMEOUT:.0f} s")


@contextmanager
def _process(
    name: str, argv: list[str], port: int, env: dict[str, str] | None = None
) -> Iterator[Running]:
    """The server, its output kept in a file (a pipe nobody reads would stall it when full)."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_listening(port, process)
            yield Running(name, f"ws://127.0.0.1:{port}/OCPP/", process)
        except BaseException:
            log.seek(0)
            sys.stderr.write(log.read()[-4000:].decode(errors="replace"))
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def echo() -> Iterator[Running]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.baselines.echo", "--port", str(port)]
    with _process("raw websockets echo", argv, port) as running:
        yield running


@contextmanager
def ocpp_library() -> Iterator[Running]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.baselines.ocpp_library", "--port", str(port)]
    with _process("bare ocpp library", argv, port) as running:
        yield running


@contextmanager
def ocpp_core(chargers: int, database: str) -> Iterator[Running]:
    """``ocpp-core server`` on a new database with ``chargers`` charge points and the bench tag."""
    with (
        tempfile.TemporaryDirectory(prefix="ocpp-core-bench-") as folder,
        _database(database, Path(folder)) as url,
    ):
        env = {
            **os.environ,
            "OCPP_CORE_DATABASE_URL": url,
            "OCPP_CORE_API_KEY": secrets.token_urlsafe(24),
            "OCPP_CORE_LOG_LEVEL": "warning",
        }
        cli = str(BIN / "ocpp-core")
        subprocess.run([cli, "db", "upgrade"], env=env, check=True, capture_output=True)
        table = Path(folder) / "chargers.csv"
        table.write_text("id\n" + "".join(f"{charger_id(n)}\n" for n in range(chargers)))
        subprocess.run(
            [cli, "chargepoint", "import", str(table)], env=env, check=True, capture_output=True
        )
        subprocess.run([cli, "tag", "add", BENCH_TAG], env=env, check=True, capture_output=True)
        port = free_port()
        with _process("ocpp-core", [cli, "server", "--port", str(port)], port, env) as running:
            yield running


@contextmanager
def _database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.sqlite'}"
        return
    name = f"ocpp_core_bench_{os.getpid()}"
    admin = make_url(kind).set(drivername="postgresql").render_as_string(hide_password=False)
    asyncio.run(
        _pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    )
    try:
        yield make_url(kind).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg(dsn: str, *statements: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()
