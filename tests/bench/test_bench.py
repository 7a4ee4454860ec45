"""``make bench`` works end to end: every scenario against every target, at the smallest size.

The figures themselves are never asserted (speed is measured, not tested); what is
checked is that each server took every charger and answered every message, and
that every paid session's remote start reached its charger.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from conftest import PG_URL_VAR

ROOT = Path(__file__).resolve().parents[2]


def test_every_scenario_runs_against_every_target(tmp_path: Path) -> None:
    results = tmp_path / "bench.json"
    database = os.environ.get(PG_URL_VAR, "sqlite")
    argv = [sys.executable, "-m", "bench", "--size=smoke", f"--database={database}"]
    argv.append(f"--json={results}")
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]

    rows = orjson.loads(results.read_bytes())
    ours = "ocpp-core sqlite" if database == "sqlite" else "ocpp-core postgresql"
    scenarios = list(dict.fromkeys(row["scenario"] for row in rows))
    assert scenarios == [
        "heartbeat closed loop",
        "meter values closed loop",
        "storm of 40",
        "steady, 40 chargers",
        "paid session, 4 at 10/s",
        "paid session, closed loop, 4 on 2 chargers",
    ]
    for scenario in scenarios:
        # The baselines take no payments: the paid session runs against ocpp-core alone.
        expected_targets = [ours] if scenario.startswith("paid") else ["echo", "ocpp lib", ours]
        assert [r["target"] for r in rows if r["scenario"] == scenario] == expected_targets
    for row in rows:
        values = row["values"]
        assert values["errors"] == 0, row
        if row["scenario"].startswith("storm"):
            assert values["accepted"] == "40/40"
        elif row["scenario"].startswith("steady"):
            assert values["connections"] == 40
            assert values["msg/s"] > 0
        elif row["scenario"].startswith("paid"):
            assert values["reached"] == "4/4"
        else:
            assert values["msg/s"] > 0
    assert f"| {ours} |" in run.stdout
