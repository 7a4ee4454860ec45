"""The suite's watchdog (tests/watchdog.py) ends a stuck test's process with its stacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from watchdog import FRAMES_SHOWN, innermost_frames

TESTS = Path(__file__).parent

STUCK = """
import threading

import pytest


def test_quick():
    pass


@pytest.mark.stuck_after(1)
def test_waits_for_ever():
    threading.Event().wait()
"""


def run_stuck(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Pytest on a stuck test, in a process of its own, with the watchdog as its only plugin."""
    (folder / "test_stuck.py").write_text(STUCK)
    (folder / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    stuck_after(seconds): the test is stuck after this long\n"
    )
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    plugins = ["-p", "watchdog", "-p", "no:cacheprovider", "-p", "no:asyncio"]
    argv = [sys.executable, "-m", "pytest", *plugins, *options, "--rootdir", str(folder)]
    # A watchdog that never fires leaves the run waiting: the guard below fails the test.
    return subprocess.run(
        [*argv, str(folder)], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_stuck_test_ends_its_run_with_every_threads_stack(tmp_path: Path) -> None:
    done = run_stuck(tmp_path)

    assert done.returncode == 1
    assert "Timeout" in done.stderr
    assert "in test_waits_for_ever" in done.stderr
    assert "passed" not in done.stdout  # the process ended inside the stuck test


def test_a_stuck_workers_stacks_end_the_log(tmp_path: Path) -> None:
    done = run_stuck(tmp_path, "-n", "1")

    assert done.returncode == 1
    assert "worker 'gw0' crashed while running 'test_stuck.py::test_waits_for_ever'" in done.stdout
    # After the short summary: the last lines of a log, all a CI service may show.
    tail = done.stdout.split("short test summary info")[1]
    assert "stuck worker gw0: innermost frames" in tail
    assert "in test_waits_for_ever" in tail
    assert "1 failed, 1 passed" in tail.splitlines()[-1]


def test_each_thread_is_cut_to_its_innermost_frames() -> None:
    frames = [f'  File "m.py", line {n} in f{n}' for n in range(FRAMES_SHOWN + 3)]
    dump = ["Timeout (0:05:00)!", "Thread 0x01 (most recent call first):", *frames, ""]
    second = ["Current thread 0x02 (most recent call first):", frames[0]]

    lines = innermost_frames("\n".join(dump + second))

    assert lines == [*dump[:2], *frames[:FRAMES_SHOWN], "", *second]
