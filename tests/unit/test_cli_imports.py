"""``ocpp-core`` starts instantly: its help, and every command's, loads none of the heavy libraries.

Each command imports the apps, the settings and the database layer when it
runs; these tests keep it so by looking at the modules a fresh interpreter has
loaded, never at a clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# What made every command take over a second before doing anything.
HEAVY = frozenset(
    {
        "aiosqlite",
        "alembic",
        "asyncpg",
        "fastapi",
        "fpdf",
        "httpx",
        "jinja2",
        "ocpp",
        "openpyxl",
        "prometheus_client",
        "pydantic",
        "pydantic_settings",
        "redis",
        "segno",
        "sqlalchemy",
        "starlette",
        "stripe",
        "uvicorn",
        "uvloop",
        "websockets",
    }
)

# Asks every command and subcommand for its help, in one fresh interpreter,
# then reports which commands it reached and which top-level packages it loaded.
WALK_EVERY_HELP = """
import json, sys
import click
from ocpp_core.cli import main

def paths(command, path):
    yield path
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in command.list_commands(context):
            yield from paths(command.get_command(context, name), [*path, name])

reached = []
for path in paths(main, []):
    try:
        main.main([*path, "--help"], prog_name="ocpp-core", standalone_mode=False)
    except SystemExit:
        pass
    reached.append(" ".join(path))
print(json.dumps({"reached": reached, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCPP_CORE_")}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=True
    )


def test_the_help_of_ocpp_core_loads_no_heavy_library() -> None:
    done = _python("-X", "importtime", "-m", "ocpp_core", "--help")
    # -X importtime writes one line per module to stderr: "import time: self | total | name".
    loaded = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "Usage:" in done.stdout
    assert "ocpp_core" in loaded  # the measurement saw the CLI's own imports
    assert loaded & HEAVY == set()


def test_no_command_loads_a_heavy_library_to_show_its_help() -> None:
    report = json.loads(_python("-c", WALK_EVERY_HELP).stdout.splitlines()[-1])  # after the help
    # Every group and command, down to the subcommands, was asked.
    assert {
        "",
        "serve",
        "demo",
        "qr",
        "simulate",
        "user add",
        "chargepoint price",
        "reservation create",
        "firmware update",
        "diagnostics download",
        "profile set",
        "trigger",
    } <= set(report["reached"])
    assert set(report["loaded"]) & HEAVY == set()
