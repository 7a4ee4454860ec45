"""The servers a benchmark runs against, each in its own process on a free loopback port.

ocpp-core runs exactly as an operator runs it (``ocpp-core server``) on a fresh
database (SQLite in a temporary folder, or a new PostgreSQL database), with the
benchmark's chargers and tag provisioned through the CLI beforehand. For the
paid session it takes payments from the Stripe simulator (``ocpp-core
stripe-sim``, a process of its own), every charger priced through the CLI. For
the fleet pages it is ``ocpp-core serve`` (server and management app) on the
fleet data set of ``bench.fleet``, with an administrator added through the CLI.
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
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench import fleet
from bench.loadgen import BENCH_TAG, charger_id
from bench.proc import Sample, sample, sample_tree

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0
# 0.40 EUR/kWh up to 20 kWh and 1.00 EUR a session: a card hold of 9.00 EUR.
PAID_TARIFF = ("--per-kwh", "0.40", "--max-kwh", "20", "--session-fee", "1.00")


@dataclass(frozen=True)
class Running:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    api_key: str | None = None  # the X-API-Key of ocpp-core's /API
    management_url: str | None = None  # ``serve``'s management app
    operator: str | None = None  # ``name:password`` of an administrator there
    companion: subprocess.Popen[bytes] | None = None  # the Stripe simulator of a paid server
    workers: bool = False  # the server's work is done by its child processes too
    database_url: str | None = None  # ocpp-core's
    redis_prefix: str | None = None  # the keys of ocpp-core's cluster

    def sample(self) -> Sample:
        return sample_tree(self.process.pid) if self.workers else sample(self.process.pid)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: every probe stays bound until all are chosen."""
    with ExitStack() as probes:
        sockets = [probes.enter_context(socket.socket()) for _ in range(count)]
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in sockets]


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
def ocpp_core(
    chargers: int, database: str, workers: int = 1, redis_url: str = ""
) -> Iterator[Running]:
    """``ocpp-core server`` on a new database with ``chargers`` charge points and the bench tag.

    With more than one worker it is a cluster on ``redis_url``.
    """
    with _provisioned(chargers, database) as env:
        _cli(env, "tag", "add", BENCH_TAG)
        if workers > 1:
            env = _clustered(env, redis_url) | {"OCPP_CORE_WORKERS": str(workers)}
        with _server(env) as running:
            if workers > 1:
                _wait_workers(running, workers)
            yield replace(running, workers=workers > 1)


def _wait_workers(running: Running, workers: int) -> None:
    """Until every worker answers: the supervisor's socket accepts before they run, and
    a sample taken then would count their start-up memory as the chargers'."""
    port = urlsplit(running.url).port
    deadline = time.monotonic() + START_TIMEOUT
    answered = 0
    while answered < 10 * workers:  # the kernel spreads the requests over the workers
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {workers} workers did not answer within {START_TIMEOUT} s")
        children = Path(f"/proc/{running.process.pid}/task/{running.process.pid}/children")
        if len(children.read_text().split()) < workers:
            time.sleep(0.1)
            continue
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=START_TIMEOUT)
        answered = answered + 1 if health.status_code == 200 else 0


@contextmanager
def ocpp_core_nodes(
    chargers: int, database: str, nodes: int, redis_url: str
) -> Iterator[list[Running]]:
    """``nodes`` processes of ``ocpp-core server``, each a node of one cluster, one database."""
    with _provisioned(chargers, database) as env, ExitStack() as stack:
        _cli(env, "tag", "add", BENCH_TAG)
        clustered = _clustered(env, redis_url)
        prefix = clustered["OCPP_CORE_CLUSTER__PREFIX"]
        running = [
            stack.enter_context(
                _server(clustered | {"OCPP_CORE_CLUSTER__NODE_ID": f"{prefix}-{n}"})
            )
            for n in range(1, nodes + 1)
        ]
        yield [replace(node, name=f"node {n}") for n, node in enumerate(running, start=1)]


def _clustered(env: dict[str, str], redis_url: str) -> dict[str, str]:
    """A cluster on ``redis_url`` under a prefix of this run's own, which its nodes delete
    when they stop."""
    return env | {
        "OCPP_CORE_CLUSTER__REDIS_URL": redis_url,
        "OCPP_CORE_CLUSTER__PREFIX": f"ocpp-core-bench-{os.getpid()}",
    }


@contextmanager
def ocpp_core_paid(chargers: int, database: str) -> Iterator[Running]:
    """``ocpp-core server`` taking payments from the Stripe simulator, every charger priced.

    The simulator's signed webhooks go to the server, as Stripe's would, so a
    paid session can start from the webhook or from the driver's Confirm,
    whichever comes first.
    """
    with _provisioned(chargers, database) as env:
        # A CLI call is mostly Python starting up: one per core at a time.
        with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
            prices = [(charger_id(n), *PAID_TARIFF) for n in range(chargers)]
            list(pool.map(lambda args: _cli(env, "chargepoint", "price", *args), prices))
        port, stripe_port = free_ports(2)
        paying = env | {
            "OCPP_CORE_STRIPE__ENABLED": "true",
            "OCPP_CORE_STRIPE__API_KEY": f"sk_test_bench_{secrets.token_hex(12)}",
            "OCPP_CORE_STRIPE__WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
            "OCPP_CORE_STRIPE__API_BASE": f"http://127.0.0.1:{stripe_port}",
            # Never opened: the bench's driver calls Confirm itself, as the page there would.
            "OCPP_CORE_STRIPE__RETURN_BASE_URL": "http://127.0.0.1:9",
        }
        simulator = [
            str(BIN / "ocpp-core"),
            "stripe-sim",
            f"--port={stripe_port}",
            f"--webhook-url=http://127.0.0.1:{port}/API/Payments/Webhook",
            "--log-level=warning",
        ]  # the webhook secret comes from the environment, the server's own
        with (
            _process("Stripe simulator", simulator, stripe_port, paying) as stripe,
            _server(paying, port) as running,
        ):
            yield replace(running, companion=stripe.process)


@contextmanager
def ocpp_core_fleet(
    database: str, *, scale: float, built: str | None = None, apart: bool = False
) -> Iterator[Running]:
    """``ocpp-core serve`` (server and management app) on the fleet data set.

    The data set is ``built`` (a URL), or built now at ``scale`` into a new
    database; an administrator is added through the CLI, as an operator does.
    ``apart``: ``ocpp-core server`` and ``ocpp-core management`` in two
    processes instead, as on a cluster; the CPU sampled is then the server's alone.
    """
    with tempfile.TemporaryDirectory(prefix="ocpp-core-fleet-") as folder, ExitStack() as stack:
        url = built or stack.enter_context(_database(database, Path(folder)))
        if built is None:
            asyncio.run(fleet.build(url, scale))
        env = {
            **os.environ,
            "OCPP_CORE_DATABASE_URL": url,
            "OCPP_CORE_API_KEY": secrets.token_urlsafe(24),
            "OCPP_CORE_MANAGEMENT__SESSION_SECRET": secrets.token_urlsafe(32),
            "OCPP_CORE_LOG_LEVEL": "warning",
        }
        operator = f"bench-{secrets.token_hex(4)}:{secrets.token_urlsafe(16)}"
        name, _, password = operator.partition(":")
        _cli(env, "user", "add", name, "--admin", "--password", password)
        port, management_port = free_ports(2)
        if apart:
            env["OCPP_CORE_MANAGEMENT__SERVER_API_URL"] = f"http://127.0.0.1:{port}"
            management = [str(BIN / "ocpp-core"), "management", f"--port={management_port}"]
            stack.enter_context(_process("ocpp-core management", management, management_port, env))
            argv = [str(BIN / "ocpp-core"), "server", f"--port={port}"]
        else:
            argv = [str(BIN / "ocpp-core"), "serve", f"--port={port}"]
            argv.append(f"--management-port={management_port}")
        with _process(f"ocpp-core {argv[1]}", argv, port, env) as running:
            _wait_listening(management_port, running.process)
            yield replace(
                running,
                api_key=env["OCPP_CORE_API_KEY"],
                management_url=f"http://127.0.0.1:{management_port}",
                operator=operator,
            )


@contextmanager
def _provisioned(chargers: int, database: str) -> Iterator[dict[str, str]]:
    """The environment of ``ocpp-core`` on a new, migrated database holding ``chargers``."""
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
        _cli(env, "db", "upgrade")
        table = Path(folder) / "chargers.csv"
        table.write_text("id\n" + "".join(f"{charger_id(n)}\n" for n in range(chargers)))
        _cli(env, "chargepoint", "import", "--allow-no-password", str(table))
        yield env


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "ocpp-core"), *args], env=env, check=True, capture_output=True)


@contextmanager
def _server(env: dict[str, str], port: int | None = None) -> Iterator[Running]:
    port = port or free_port()
    argv = [str(BIN / "ocpp-core"), "server", "--port", str(port)]
    with _process("ocpp-core", argv, port, env) as running:
        yield replace(
            running,
            api_key=env["OCPP_CORE_API_KEY"],
            database_url=env["OCPP_CORE_DATABASE_URL"],
            redis_prefix=env.get("OCPP_CORE_CLUSTER__PREFIX"),
        )


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
