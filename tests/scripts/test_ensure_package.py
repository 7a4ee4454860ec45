"""`make test` checks for the programs its tests drive (Chromium, HAProxy) before anything runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "ensure-package"
# As the Makefile's `browser` and `haproxy` targets call it.
PROGRAMS = [
    ("OCPP_CORE_TEST_CHROMIUM", "/usr/bin/chromium", "chromium", "the page tests"),
    ("OCPP_CORE_TEST_HAPROXY", "/usr/sbin/haproxy", "haproxy", "the load balancer tests"),
]


def _run(arguments: tuple[str, ...], path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, arguments[0]: str(path)}
    return subprocess.run([SCRIPT, *arguments], env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("arguments", PROGRAMS, ids=lambda arguments: arguments[2])
def test_a_missing_program_stops_with_one_line_naming_it(
    tmp_path: Path, arguments: tuple[str, ...]
) -> None:
    missing = tmp_path / arguments[2]
    done = _run(arguments, missing)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"make test: {arguments[0]}={missing} is not an executable file"
    ]


@pytest.mark.parametrize("arguments", PROGRAMS, ids=lambda arguments: arguments[2])
def test_a_present_program_passes_silently(tmp_path: Path, arguments: tuple[str, ...]) -> None:
    program = tmp_path / arguments[2]
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    done = _run(arguments, program)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
