"""A test still running after five minutes is stuck: its process writes every thread's
stack and ends, so the run fails instead of waiting forever.

The watchdog is faulthandler's, a C thread. It fires even when the stuck thread holds
the GIL, as it did in the stops it was built for: the main thread looping in a pending
call under coverage's tracer (pyproject.toml, ``[tool.coverage.run]``), where a Python
thread (pytest-timeout's thread method, used before) could not have printed anything.

Alone, the process writes the stacks to the real standard error. Under pytest-xdist a
worker writes them to a file its controller reads when the run ends: the controller
prints the innermost frames of each thread after the short summary, so they are in
the last lines of a log, which is all a CI service may show of a failed run.

A test that needs longer says so: ``@pytest.mark.stuck_after(seconds)``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

STUCK_AFTER = 300.0  # the longest test but the bench smoke run takes under a minute
FRAMES_SHOWN = 6  # per thread, innermost first: where it is stuck, and what called it
_DIRECTORY = "watchdog_directory"  # the controller's key in each worker's input
_out: list[IO[str]] = []
_directory: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    """Where this process writes stacks: its controller's file, or the real standard error.

    Pytest's capture would hide standard error from a running test, so it is duplicated
    here, before any test runs.
    """
    worker_input: dict[str, Any] | None = getattr(config, "workerinput", None)
    if worker_input is not None and _DIRECTORY in worker_input:
        path = Path(worker_input[_DIRECTORY]) / f"{worker_input['workerid']}.txt"
        _out.append(path.open("w", encoding="utf-8"))
        return
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        _out.append(os.fdopen(os.dup(2), "w"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist starts a worker: it gets the directory its stacks go to."""
    if not _directory:
        _directory.append(Path(tempfile.mkdtemp(prefix="pytest-watchdog-")))
    node.workerinput[_DIRECTORY] = str(_directory[0])


def pytest_unconfigure() -> None:
    while _out:
        _out.pop().close()
    while _directory:
        shutil.rmtree(_directory.pop(), ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("stuck_after")
    seconds = float(marker.args[0]) if marker else STUCK_AFTER
    faulthandler.dump_traceback_later(seconds, exit=True, file=_out[0])
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """Each stuck worker's threads, after the summary the terminal reporter writes last."""
    result = yield
    for path in sorted(_directory[0].glob("*.txt")) if _directory else []:
        dump = path.read_text(encoding="utf-8", errors="replace")
        if dump:
            terminalreporter.section(f"stuck worker {path.stem}: innermost frames", sep="-")
            for line in innermost_frames(dump):
                terminalreporter.line(line)
    return result


def innermost_frames(dump: str) -> list[str]:
    """Faulthandler's dump with each thread cut to its innermost frames."""
    lines: list[str] = []
    shown = 0
    for line in dump.splitlines():
        if not line.startswith("  "):  # the timeout, a thread's heading, a blank line
            shown = 0
            lines.append(line)
        elif shown < FRAMES_SHOWN:
            shown += 1
            lines.append(line)
    return lines
