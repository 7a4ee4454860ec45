"""The ``ocpp-core`` command line, driven in-process against a real database.

The tests are synchronous because the commands run their own event loop
(``asyncio.run``); they still get the async ``database_url`` fixture, so the
same tests run on SQLite and, with ``OCPP_CORE_TEST_DATABASE_URL``, PostgreSQL.
"""

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from alembic import command as alembic_command
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cli_harness import Env, env_for, query, run
from ocpp_core.cli import main
from ocpp_core.db.migrate import alembic_config
from ocpp_core.db.models import ChargePoint, ChargeTag
from ocpp_core.security import MAX_CHARGER_PASSWORD, MIN_CHARGER_PASSWORD, verify_secret

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def env(migrated: str) -> Env:
    return env_for(migrated)


@pytest.fixture
async def empty_database_url(database_url: str) -> str:
    # PostgreSQL test databases are cloned from a migrated template: start from no schema.
    await asyncio.to_thread(alembic_command.downgrade, alembic_config(database_url), "base")
    return database_url


def charge_point(database_url: str, charge_point_id: str) -> ChargePoint | None:
    async def work(session: AsyncSession) -> ChargePoint | None:
        return await session.get(ChargePoint, charge_point_id)

    return query(database_url, work)


def charge_point_count(database_url: str) -> int:
    async def work(session: AsyncSession) -> int:
        return (await session.scalar(select(func.count()).select_from(ChargePoint))) or 0

    return query(database_url, work)


def charge_tag(database_url: str, tag_id: str) -> ChargeTag | None:
    async def work(session: AsyncSession) -> ChargeTag | None:
        return await session.get(ChargeTag, tag_id)

    return query(database_url, work)


def write_csv(directory: Path, lines: Sequence[str]) -> str:
    path = directory / "chargers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


# --- db ---------------------------------------------------------------------------------------


def test_db_upgrade(empty_database_url: str) -> None:
    env = env_for(empty_database_url)
    no_migration = {**env, "OCPP_CORE_MIGRATE_ON_START": "false"}
    before = run(["chargepoint", "list"], no_migration, exit_code=1)

    result = run(["db", "upgrade"], env)

    assert "database error" in before.output
    assert "charge_points" in before.output
    assert "database is up to date" in result.output
    run(["chargepoint", "list"], no_migration)  # a command that does not migrate finds its tables
    assert "database is up to date" in run(["db", "upgrade"], env).output  # and again: a no-op


def test_an_unreachable_database_is_a_clear_error(env: Env) -> None:
    # Nothing listens on port 1. (An unopenable SQLite file gives the same message, but
    # aiosqlite's worker thread then races the closing event loop: omnilib/aiosqlite#241.)
    url = "postgresql://ocpp@127.0.0.1:1/ocpp"

    result = run(["db", "upgrade"], {**env, "OCPP_CORE_DATABASE_URL": url}, exit_code=1)

    assert "Error: database error: " in result.output
    assert "Connect call failed" in result.output
    assert "Traceback" not in result.output


# --- chargepoint add --------------------------------------------------------------------------


def test_add_a_charge_point_with_a_hashed_password(env: Env, database_url: str) -> None:
    result = run(["chargepoint", "add", "CP-1", "--name", "Garage", "--password", PASSWORD], env)

    assert "added charge point CP-1" in result.output
    row = charge_point(database_url, "CP-1")
    assert row is not None
    assert (row.name, row.auth_user) == ("Garage", "CP-1")
    assert row.password_hash is not None
    assert PASSWORD not in row.password_hash
    assert verify_secret(PASSWORD, row.password_hash)


def test_add_a_charge_point_without_a_password_when_asked(env: Env, database_url: str) -> None:
    run(["chargepoint", "add", "CP-1", "--no-password"], env)

    row = charge_point(database_url, "CP-1")
    assert row is not None
    assert (row.name, row.auth_user, row.password_hash) == ("CP-1", None, None)
    assert "NO PASSWORD" in run(["chargepoint", "list"], env).output


def test_a_charge_point_without_a_password_is_refused_unless_asked(
    env: Env, database_url: str
) -> None:
    result = run(["chargepoint", "add", "CP-1", "--name", "Garage"], env, exit_code=1)

    assert result.output == (
        "Error: no password for 'CP-1': any charger could connect under that id and push "
        "the real one off; give --password or --generate-password, or --no-password to "
        "allow that\n"
    )
    assert charge_point_count(database_url) == 0


@pytest.mark.parametrize(
    "choices",
    [
        ["--no-password", "--password", PASSWORD],
        ["--no-password", "--generate-password"],
        ["--password", PASSWORD, "--generate-password"],
    ],
)
def test_password_choices_are_exclusive(env: Env, database_url: str, choices: list[str]) -> None:
    result = run(["chargepoint", "add", "CP-1", *choices], env, exit_code=2)

    assert "give one of --password, --generate-password, --no-password" in result.output
    assert charge_point_count(database_url) == 0


@pytest.mark.parametrize("password", ["too-short", "x" * (MAX_CHARGER_PASSWORD + 1)])
def test_a_password_of_the_wrong_length_is_refused(
    env: Env, database_url: str, password: str
) -> None:
    result = run(["chargepoint", "add", "CP-1", "--password", password], env, exit_code=1)

    assert "Error: id 'CP-1': password must be 16 to 40 characters" in result.output
    assert charge_point(database_url, "CP-1") is None


@pytest.mark.parametrize("charge_point_id", ["CP 1/2", ".", "..", "C" * 49, "Zoë"])
def test_an_invalid_id_is_refused(env: Env, database_url: str, charge_point_id: str) -> None:
    result = run(["chargepoint", "add", "--no-password", charge_point_id], env, exit_code=1)

    assert f"Error: id {charge_point_id!r}: use 1-48 of the characters" in result.output
    assert charge_point_count(database_url) == 0


def test_a_name_too_long_for_the_column_is_refused(env: Env, database_url: str) -> None:
    result = run(
        ["chargepoint", "add", "--no-password", "CP-1", "--name", "n" * 101], env, exit_code=1
    )

    assert "name must be at most 100 characters" in result.output
    assert charge_point_count(database_url) == 0


def test_a_duplicate_id_is_refused(env: Env, database_url: str) -> None:
    run(["chargepoint", "add", "--no-password", "CP-1", "--name", "First"], env)

    result = run(
        ["chargepoint", "add", "--no-password", "CP-1", "--name", "Second"], env, exit_code=1
    )

    assert "Error: charge point 'CP-1' already exists" in result.output
    row = charge_point(database_url, "CP-1")
    assert row is not None
    assert row.name == "First"


def test_a_generated_password_is_printed_once(env: Env, database_url: str) -> None:
    result = run(["chargepoint", "add", "CP-1", "--generate-password"], env)

    prefix = "password (shown once): "
    lines = [line for line in result.output.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1
    password = lines[0].removeprefix(prefix)
    assert MIN_CHARGER_PASSWORD <= len(password) <= MAX_CHARGER_PASSWORD
    assert result.output.count(password) == 1
    row = charge_point(database_url, "CP-1")
    assert row is not None
    assert row.password_hash is not None
    assert verify_secret(password, row.password_hash)
    assert password not in run(["chargepoint", "list"], env).output


def test_generated_passwords_differ(env: Env) -> None:
    first = run(["chargepoint", "add", "CP-1", "--generate-password"], env).output
    second = run(["chargepoint", "add", "CP-2", "--generate-password"], env).output

    assert first.splitlines()[-1] != second.splitlines()[-1]


# --- chargepoint import -----------------------------------------------------------------------


def test_import_thousands_of_charge_points(env: Env, database_url: str, tmp_path: Path) -> None:
    rows = [
        f"BULK-{n:05d},Bay {n},{PASSWORD if n % 2 else ''}" for n in range(5000)
    ]  # every other row without a password
    csv_file = write_csv(tmp_path, ["id,name,password", *rows])

    result = run(["chargepoint", "import", "--allow-no-password", csv_file], env)

    assert "imported 5000 charge points, skipped 0" in result.output
    assert charge_point_count(database_url) == 5000
    with_password = charge_point(database_url, "BULK-00001")
    assert with_password is not None
    assert with_password.name == "Bay 1"
    assert with_password.password_hash is not None
    assert verify_secret(PASSWORD, with_password.password_hash)
    without_password = charge_point(database_url, "BULK-04998")
    assert without_password is not None
    assert (without_password.name, without_password.password_hash) == ("Bay 4998", None)


def test_rows_without_a_password_are_refused_unless_allowed(
    env: Env, database_url: str, tmp_path: Path
) -> None:
    rows = [f"CP-{n},Bay {n}," for n in range(12)]
    csv_file = write_csv(tmp_path, ["id,name,password", f"CP-X,Safe,{PASSWORD}", *rows])

    refused = run(["chargepoint", "import", csv_file], env, exit_code=1)

    assert refused.output.startswith("Error: no password for 'CP-0', 'CP-1', ")
    assert "'CP-9' and 2 more: any charger could connect under those ids" in refused.output
    assert "import with --allow-no-password to allow that" in refused.output
    assert charge_point_count(database_url) == 0

    run(["chargepoint", "import", "--allow-no-password", csv_file], env)

    assert charge_point_count(database_url) == 13
    safe = charge_point(database_url, "CP-X")
    assert safe is not None
    assert safe.password_hash is not None
    assert verify_secret(PASSWORD, safe.password_hash)


def test_the_password_and_name_columns_are_optional(
    env: Env, database_url: str, tmp_path: Path
) -> None:
    csv_file = write_csv(tmp_path, ["id", "CP-1", "CP-2"])
    run(["chargepoint", "import", "--allow-no-password", csv_file], env)

    row = charge_point(database_url, "CP-2")
    assert row is not None
    assert (row.name, row.password_hash) == ("CP-2", None)


def test_a_file_saved_with_a_byte_order_mark_imports(
    env: Env, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("id,name\r\nCP-1,Garage\r\n", encoding="utf-8-sig")

    run(["chargepoint", "import", "--allow-no-password", str(path)], env)

    row = charge_point(database_url, "CP-1")
    assert row is not None
    assert row.name == "Garage"


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("bad id,Broken,", "id 'bad id': use 1-48 of the characters"),
        ("..,Dots,", "id '..': use 1-48 of the characters"),
        ("SHORT-PW,Broken,short", "id 'SHORT-PW': password must be 16 to 40 characters"),
        (",No id,", "id '': use 1-48 of the characters"),
    ],
)
def test_a_bad_row_stores_nothing_and_names_the_row(
    env: Env, database_url: str, tmp_path: Path, bad_row: str, message: str
) -> None:
    good = [f"GOOD-{n},Bay {n},{PASSWORD}" for n in range(50)]
    csv_file = write_csv(tmp_path, ["id,name,password", *good[:25], bad_row, *good[25:]])

    result = run(["chargepoint", "import", "--allow-no-password", csv_file], env, exit_code=1)

    assert message in result.output
    assert charge_point_count(database_url) == 0


def test_an_id_twice_in_the_file_stores_nothing(
    env: Env, database_url: str, tmp_path: Path
) -> None:
    csv_file = write_csv(tmp_path, ["id,name", "CP-1,First", "CP-2,", "CP-1,Again"])

    result = run(["chargepoint", "import", "--allow-no-password", csv_file], env, exit_code=1)

    assert "id 'CP-1' appears twice" in result.output
    assert charge_point_count(database_url) == 0


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("name,password", "the CSV needs a header row: id,name,password"),
        ("", "the CSV needs a header row: id,name,password"),
        ("id,name,secret", "unknown CSV columns: secret"),
    ],
)
def test_a_wrong_header_is_an_error(
    env: Env, database_url: str, tmp_path: Path, header: str, message: str
) -> None:
    csv_file = write_csv(tmp_path, [header, "CP-1,Garage,x"] if header else [])

    result = run(["chargepoint", "import", "--allow-no-password", csv_file], env, exit_code=1)

    assert message in result.output
    assert charge_point_count(database_url) == 0


def test_a_missing_file_is_an_error(env: Env, tmp_path: Path) -> None:
    result = run(["chargepoint", "import", str(tmp_path / "missing.csv")], env, exit_code=2)

    assert "missing.csv" in result.output


def test_reimport_skips_existing_charge_points(env: Env, database_url: str, tmp_path: Path) -> None:
    run(["chargepoint", "add", "--no-password", "CP-1", "--name", "Kept"], env)
    csv_file = write_csv(tmp_path, ["id,name", "CP-1,Replaced?", "CP-2,New", "CP-3,New"])

    first = run(["chargepoint", "import", "--allow-no-password", csv_file], env)
    again = run(["chargepoint", "import", "--allow-no-password", csv_file], env)

    assert "imported 2 charge points, skipped 1 that already exist" in first.output
    assert "imported 0 charge points, skipped 3 that already exist" in again.output
    assert charge_point_count(database_url) == 3
    kept = charge_point(database_url, "CP-1")
    assert kept is not None
    assert kept.name == "Kept"


# --- chargepoint list -------------------------------------------------------------------------


def test_list_shows_the_charge_points(env: Env, tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path, ["id,name,password", f"CP-B,Bay B,{PASSWORD}", "CP-A,Bay A,"])
    run(["chargepoint", "import", "--allow-no-password", csv_file], env)

    lines = run(["chargepoint", "list"], env).output.splitlines()

    assert lines[0].split() == ["ID", "NAME", "AUTH", "MODEL", "LAST", "SEEN"]
    assert [line.split() for line in lines[1:]] == [
        ["CP-A", "Bay", "A", "NO", "PASSWORD", "-", "never"],
        ["CP-B", "Bay", "B", "password", "-", "never"],
    ]


def test_list_of_nothing_shows_the_header(env: Env) -> None:
    lines = run(["chargepoint", "list"], env).output.splitlines()

    assert len(lines) == 1


# --- tag add ----------------------------------------------------------------------------------


def test_add_a_tag_with_every_option(env: Env, database_url: str) -> None:
    args = ["tag", "add", "TAG-1", "--name", "Alice", "--parent", "FLEET"]
    result = run([*args, "--expires", "2030-01-01", "--blocked"], env)

    assert "added tag TAG-1" in result.output
    row = charge_tag(database_url, "TAG-1")
    assert row is not None
    assert (row.name, row.parent_id, row.blocked) == ("Alice", "FLEET", True)
    assert row.expires_at == datetime(2030, 1, 1, tzinfo=UTC)


def test_add_a_tag_with_defaults(env: Env, database_url: str) -> None:
    run(["tag", "add", "TAG-1"], env)

    row = charge_tag(database_url, "TAG-1")
    assert row is not None
    assert (row.name, row.parent_id, row.expires_at, row.blocked) == (None, None, None, False)


def test_a_tag_expiry_may_have_a_time_of_day(env: Env, database_url: str) -> None:
    run(["tag", "add", "TAG-1", "--expires", "2030-01-01T18:30:00"], env)

    row = charge_tag(database_url, "TAG-1")
    assert row is not None
    assert row.expires_at == datetime(2030, 1, 1, 18, 30, tzinfo=UTC)


def test_a_duplicate_tag_is_refused(env: Env) -> None:
    run(["tag", "add", "TAG-1"], env)

    result = run(["tag", "add", "TAG-1"], env, exit_code=1)

    assert "Error: tag 'TAG-1' already exists" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["T" * 21], "must be 1-20 characters"),
        (["TAG-1", "--parent", "P" * 21], "must be 1-20 characters"),
        (["TAG-1", "--expires", "next year"], "Invalid value for '--expires'"),
    ],
)
def test_a_wrong_tag_is_refused(env: Env, database_url: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["tag", "add", *args], env=env)

    assert result.exit_code != 0
    assert message in result.output
    assert charge_tag(database_url, args[0]) is None


# --- help, configuration and start-up ---------------------------------------------------------


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_command_has_help(env: Env) -> None:
    paths = list(command_paths(main))
    assert ("chargepoint", "import") in paths
    assert ("db", "upgrade") in paths

    for path in paths:
        result = run([*path, "--help"], env)
        assert result.output.startswith(f"Usage: {' '.join(('main', *path))}"), path


def test_a_toml_config_file_is_used(env: Env, database_url: str, tmp_path: Path) -> None:
    config = tmp_path / "ocpp-core.toml"
    config.write_text(f'database_url = "{database_url}"\n', encoding="utf-8")
    without_url = {**env, "OCPP_CORE_DATABASE_URL": None}

    run(["--config", str(config), "chargepoint", "add", "--no-password", "CP-1"], without_url)
    run(
        ["chargepoint", "add", "--no-password", "CP-2"],
        {**without_url, "OCPP_CORE_CONFIG": str(config)},
    )

    assert charge_point_count(database_url) == 2


def test_a_missing_config_file_is_an_error(env: Env, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"

    result = run(["--config", str(missing), "db", "upgrade"], env, exit_code=1)

    assert f"config file {missing} does not exist" in result.output


@pytest.mark.parametrize(
    "command", [["server"], ["serve"], ["db", "upgrade"], ["chargepoint", "list"]]
)
def test_a_wrong_config_value_names_the_variable(env: Env, command: list[str]) -> None:
    result = run(command, {**env, "OCPP_CORE_PORT": "abc"}, exit_code=1)

    assert "OCPP_CORE_PORT (port)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("command", "api_key"),
    [
        ("server", None),
        ("server", ""),
        ("server", "too-short"),
        ("serve", "too-short"),  # serve makes up a key only when none is set
    ],
)
def test_the_server_needs_an_api_key(env: Env, command: str, api_key: str | None) -> None:
    # Should the check ever regress, the server fails to bind instead of hanging the test.
    unbindable = {**env, "OCPP_CORE_API_KEY": api_key, "OCPP_CORE_HOST": "256.0.0.1"}

    result = run([command], unbindable, exit_code=1)

    assert "OCPP_CORE_API_KEY" in result.output


def test_a_file_that_is_not_utf8_is_one_clear_error(
    env: Env, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("id,name\nCP-1,Büro\n".encode("cp1252"))

    result = run(["chargepoint", "import", "--allow-no-password", str(path)], env, exit_code=1)

    assert result.output == (
        f"Error: {path} is not UTF-8 text (byte 0xfc); "
        'save it as UTF-8, e.g. "CSV UTF-8" in Excel or LibreOffice\n'
    )
    assert charge_point_count(database_url) == 0


# Should a check ever regress, the server fails to bind instead of serving (and hanging).
UNBINDABLE = {"OCPP_CORE_HOST": "256.0.0.1", "OCPP_CORE_API_KEY": "test-api-key-0123456789"}


@pytest.fixture
def pem(tmp_path: Path) -> str:
    path = tmp_path / "not-a-certificate.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    return str(path)


@pytest.mark.parametrize("command", ["server", "serve"])
@pytest.mark.parametrize(
    ("tls", "message"),
    [
        (
            {"CLIENT_CA_FILE": "PEM", "REQUIRE_CLIENT_CERT": "true"},
            "OCPP_CORE_TLS__CLIENT_CA_FILE (tls.client_ca_file), "
            "OCPP_CORE_TLS__REQUIRE_CLIENT_CERT (tls.require_client_cert) need "
            "OCPP_CORE_TLS__CERTFILE (tls.certfile): without a server certificate the server "
            "listens on plain ws://",
        ),
        (
            {"KEYFILE": "PEM"},
            "OCPP_CORE_TLS__KEYFILE (tls.keyfile) needs OCPP_CORE_TLS__CERTFILE (tls.certfile)",
        ),
        (
            {"CERTFILE": "PEM", "REQUIRE_CLIENT_CERT": "true"},
            "OCPP_CORE_TLS__REQUIRE_CLIENT_CERT (tls.require_client_cert) needs "
            "OCPP_CORE_TLS__CLIENT_CA_FILE (tls.client_ca_file)",
        ),
        (
            {"CERTFILE": "/nowhere/server.pem"},
            "OCPP_CORE_TLS__CERTFILE (tls.certfile): Path does not point to a file",
        ),
        (
            {"CERTFILE": "PEM"},
            "Error: can't load the TLS certificate PEM with key (in the certificate file): ",
        ),
    ],
    ids=["ca-without-certificate", "key-without-certificate", "no-ca", "missing", "unloadable"],
)
def test_a_tls_setup_that_cannot_work_is_one_clear_error(
    env: Env, pem: str, command: str, tls: dict[str, str], message: str
) -> None:
    settings = {f"OCPP_CORE_TLS__{key}": value.replace("PEM", pem) for key, value in tls.items()}

    result = run([command], {**env, **UNBINDABLE, **settings}, exit_code=1)

    assert message.replace("PEM", pem) in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def taken_port() -> Iterator[int]:
    sock = socket.create_server(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize(
    ("command", "option", "hint"),
    [
        (["server"], "--port", "--port or OCPP_CORE_PORT"),
        (["serve"], "--port", "--port or OCPP_CORE_PORT"),
        (["serve"], "--management-port", "--management-port or OCPP_CORE_MANAGEMENT__PORT"),
        (["management"], "--port", "--port or OCPP_CORE_MANAGEMENT__PORT"),
    ],
)
def test_a_taken_port_is_one_line_naming_the_option_to_change_it(
    env: Env, taken_port: int, command: list[str], option: str, hint: str
) -> None:
    secrets_ = {
        "OCPP_CORE_API_KEY": "test-api-key-0123456789",
        "OCPP_CORE_MANAGEMENT__SESSION_SECRET": "s" * 40,
    }
    # The other app of ``serve`` gets a port of its own, free by the time it binds.
    other = "--management-port" if option == "--port" else "--port"
    others = [other, "0"] if command == ["serve"] else []

    result = run([*command, option, str(taken_port), *others], {**env, **secrets_}, exit_code=1)

    assert result.output.endswith(
        f"Error: can't listen on 127.0.0.1:{taken_port}: Address already in use; "
        f"choose another port with {hint}\n"
    )
    assert "Traceback" not in result.output


def test_the_installed_console_script_runs() -> None:
    script = Path(sys.executable).parent / "ocpp-core"

    completed = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("Usage: ocpp-core")
    for command in ("chargepoint", "db", "serve", "server", "simulate", "tag"):
        assert command in completed.stdout
