"""`make test` checks for the page tests' browser before anything else runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "scripts" / "ensure-chromium"


def _run(browser: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCPP_CORE_TEST_CHROMIUM": str(browser)}
    return subprocess.run([SCRIPT], env=env, capture_output=True, text=True, timeout=30)


def test_a_missing_browser_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "chromium"
    done = _run(missing)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"make test: OCPP_CORE_TEST_CHROMIUM={missing} is not an executable file"
    ]


def test_a_present_browser_passes_silently(tmp_path: Path) -> None:
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    done = _run(browser)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
