"""``make bench`` works end to end: every scenario against every target, at the smallest size.

The figures themselves are never asserted (speed is measured, not tested); what is
checked is that each server took every charger and answered every message, that
every paid session's remote start reached its charger, and that every page of the
fleet pages scenario answered 200 while the fleet's chargers kept beating.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench import balancer
from bench.fleet_pages import BASELINE
from bench.fleet_pages import pages as fleet_pages
from databases import DEFAULT_REDIS_URL, PG_URL_VAR, REDIS_URL_VAR
from ocpp_core.clock import utc_now

ROOT = Path(__file__).resolve().parents[2]
FAILOVER_VIA = "through HAProxy x 1" if balancer.installed() else "to the surviving nodes' ports"
BENCH_TIMEOUT = 600  # seconds; a few minutes on a loaded machine


def _run_as_group(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """The bench and every process it started, all killed if it is still running at the end.

    Killed alone, it would leave its servers and load generators behind, loading
    the machine for the rest of the suite.
    """
    with subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=BENCH_TIMEOUT)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


@pytest.mark.long
@pytest.mark.stuck_after(BENCH_TIMEOUT + 60)
def test_every_scenario_runs_against_every_target(tmp_path: Path) -> None:
    results = tmp_path / "bench.json"
    database = os.environ.get(PG_URL_VAR, "sqlite")
    kind = "sqlite" if database == "sqlite" else "postgresql"
    argv = [sys.executable, "-m", "bench", "--size=smoke", f"--database={database}"]
    argv.append(f"--json={results}")
    ours = f"ocpp-core {kind}"
    workers = []  # on PostgreSQL, ocpp-core server --workers 2 too: a cluster on Redis
    cluster = []  # and the cluster's own scenarios
    if kind == "postgresql":
        redis = os.environ.get(REDIS_URL_VAR, DEFAULT_REDIS_URL)
        argv += ["--workers=2", f"--redis={redis}"]
        workers = [f"{ours}, 2 workers"]
        cluster = [
            "cluster steady, 40 chargers",
            "cluster storm of 40",
            "command through another node, TriggerMessage",
            f"kill -9 of one of 3 nodes, 30 chargers, {FAILOVER_VIA}",
        ]
    run = _run_as_group(argv)
    assert run.returncode == 0, run.stderr[-3000:]

    rows = orjson.loads(results.read_bytes())
    every_page = fleet_pages(utc_now())
    fleet = f"fleet pages on {kind}, scale 0.001"
    scenarios = list(dict.fromkeys(row["scenario"] for row in rows))
    assert scenarios == [
        "heartbeat closed loop",
        "meter values closed loop",
        "storm of 40",
        "steady, 40 chargers",
        "paid session, 4 at 10/s",
        "paid session, closed loop, 4 on 2 chargers",
        fleet,
        *cluster,
    ]
    clustered = [row for row in rows if row["scenario"] in cluster]
    rows = [row for row in rows if row["scenario"] not in cluster]
    if cluster:
        _check_cluster(clustered)
    pages = [row for row in rows if row["scenario"] == fleet]
    assert [row["target"] for row in pages] == [BASELINE, *(page.name for page in every_page)]
    assert pages[0]["values"]["errors"] == 0
    assert pages[0]["values"]["heartbeats"] > 0
    assert 0 < pages[0]["values"]["hb p50 ms"] <= pages[0]["values"]["hb p99 ms"]
    assert all(row["values"]["HTTP"] == "200" for row in pages[1:]), pages
    rows = [row for row in rows if row["scenario"] != fleet]
    for scenario in scenarios[: scenarios.index(fleet)]:
        # The baselines take no payments: the paid session runs against ocpp-core alone.
        expected_targets = (
            [ours] if scenario.startswith("paid") else ["echo", "ocpp lib", ours, *workers]
        )
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


def _check_cluster(rows: list[dict[str, Any]]) -> None:
    """Each scenario of the cluster against its baseline; every charger served, nothing failed."""
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_scenario.setdefault(row["scenario"].split(",")[0].split(" of ")[0], []).append(row)
    steady, storm = by_scenario["cluster steady"], by_scenario["cluster storm"]
    assert [row["target"] for row in steady] == ["1 process", "2 workers"]
    assert [row["values"]["connections"] for row in steady] == [20, 40]
    assert steady[1]["values"]["Redis cmds/connect"] > 0
    assert [row["values"]["accepted"] for row in storm] == ["20/20", "40/40"]
    commands = by_scenario["command through another node"]
    assert [row["values"]["commands"] for row in commands] == [10, 10]
    baseline, killed = by_scenario["kill -9"]
    assert baseline["values"]["lost"] == baseline["values"]["booted again"] == 10
    assert killed["values"]["lost"] > 0
    assert killed["values"]["booted again"] == killed["values"]["lost"]
    assert all(row["values"].get("errors", 0) == 0 for row in rows), rows
