"""What ``ocpp-core server`` refuses: workers without a cluster, a second server on one SQLite file,
a database that does not answer at start; each in one line, never a traceback.

They run on a SQLite file of the test's own, or on a PostgreSQL address nothing
listens at, whichever database the suite runs on.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cli_harness import env_for, run
from servers import API_KEY, ocpp_core_server, server_env

SECRETS = {"OCPP_CORE_API_KEY": API_KEY, "OCPP_CORE_MANAGEMENT__SESSION_SECRET": "s" * 40}


def test_workers_on_sqlite_are_refused_naming_what_to_set(tmp_path: Path) -> None:
    env = {**env_for(f"sqlite:///{tmp_path / 'one.sqlite'}"), **SECRETS}

    result = run(["server", "--workers", "2", "--port", "0"], env, exit_code=1)

    assert result.output == (
        "Error: 2 workers (OCPP_CORE_WORKERS, workers, --workers) are nodes of a cluster: "
        "set OCPP_CORE_DATABASE_URL (database_url) to postgresql://… and "
        "OCPP_CORE_CLUSTER__REDIS_URL (cluster.redis_url) to redis://…; "
        "SQLite is served by one process\n"
    )
    assert not (tmp_path / "one.sqlite").exists()  # refused before anything was done


def test_workers_on_postgresql_without_redis_name_only_redis() -> None:
    # Refused before any connection: no database needs to answer at this address.
    env = {**env_for("postgresql://postgres@127.0.0.1:1/none"), **SECRETS, "OCPP_CORE_WORKERS": "3"}

    result = run(["server", "--port", "0"], env, exit_code=1)

    assert result.output == (
        "Error: 3 workers (OCPP_CORE_WORKERS, workers, --workers) are nodes of a cluster: "
        "set OCPP_CORE_CLUSTER__REDIS_URL (cluster.redis_url) to redis://…; "
        "SQLite is served by one process\n"
    )


@pytest.mark.parametrize("value", ["0", "many", "1.5"])
def test_a_wrong_worker_count_is_one_line(tmp_path: Path, value: str) -> None:
    env = {**env_for(f"sqlite:///{tmp_path / 'one.sqlite'}"), **SECRETS}

    result = run(["server", "--workers", value], env, exit_code=1)

    assert result.output == (
        "Error: invalid configuration:\n  OCPP_CORE_WORKERS (workers): Value error, "
        "must be a number of processes (1 or more) or auto\n"
    )


@pytest.mark.parametrize("command", [["server"], ["serve", "--management-port", "0"]])
async def test_a_second_server_on_one_sqlite_file_is_refused(
    tmp_path: Path, command: list[str]
) -> None:
    database = tmp_path / "one.sqlite"
    url = f"sqlite:///{database}"
    async with ocpp_core_server(url, tmp_path / "first.log") as first:
        env = {**env_for(url), **SECRETS}
        result = await asyncio.to_thread(run, [*command, "--port", "0"], env, exit_code=1)

        assert result.output.endswith(
            f"Error: another ocpp-core server (pid {first.process.pid}) serves the SQLite "
            f"database {database} (it holds {database}.server-lock): stop it first; several "
            "server processes need PostgreSQL and cluster.redis_url\n"
        )
        assert first.process.returncode is None  # the first one serves on


def test_workers_refuse_a_port_shared_with_reuse_port(tmp_path: Path) -> None:
    """Another ``--workers`` command holds the port: SO_REUSEPORT must not let both on."""
    cluster = {
        "OCPP_CORE_CLUSTER__REDIS_URL": "redis://127.0.0.1:1/0",  # never reached: refused first
        "OCPP_CORE_MIGRATE_ON_START": "false",
    }
    env = {**env_for("postgresql://postgres@127.0.0.1:1/none"), **SECRETS, **cluster}
    with socket.create_server(("127.0.0.1", 0), reuse_port=True) as other:
        port = other.getsockname()[1]
        result = run(["server", "--workers", "2", "--port", str(port)], env, exit_code=1)

    assert result.output.endswith(
        f"Error: can't listen on 127.0.0.1:{port}: Address already in use; "
        "choose another port with --port or OCPP_CORE_PORT\n"
    )


def refused_start(settings: dict[str, str], *args: str) -> tuple[int, str]:
    """``ocpp-core server ARGS`` in a process of its own: its exit code and what it printed."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ocpp-core"), "server", "--port=0", *args],
        env=server_env("postgresql://postgres@127.0.0.1:1/none", settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_database_that_does_not_answer_at_start_is_one_line() -> None:
    code, output = refused_start({"OCPP_CORE_LOG_LEVEL": "warning"})

    assert code == 1
    assert output == "Error: database error: [Errno 111] Connect call failed ('127.0.0.1', 1)\n"
