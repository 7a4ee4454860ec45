"""Under the suite's coverage settings, a thread gets no greenlet state.

Why (pyproject.toml, ``[tool.coverage.run]``): coverage's tracer, traced in a thread
with greenlet support, gives that thread a main greenlet, kept as a weak key by the
tracer. When the thread ends, greenlet frees it in a pending call on the main thread,
and the weak key's callback runs Python there. On CPython 3.11, a Python call inside a
pending call, while another pending call is queued (another thread ending), under a
trace function, loops for ever: this stopped a test worker now and then, in the
callback's first line (``weakref.py``, ``remove``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"

THREADS = """
import gc
import sys
import threading

import greenlet


def greenlets():
    return sum(isinstance(o, greenlet.greenlet) for o in gc.get_objects())


def work(seen):
    seen.append(greenlets())


seen = []
before = greenlets()
thread = threading.Thread(target=work, args=(seen,))
thread.start()
thread.join()
print(sys.gettrace() is not None, before, seen[0])
"""


def traced_run(tmp_path: Path, rcfile: Path) -> tuple[bool, int, int]:
    """Whether the main thread was traced, its greenlets, and those a thread saw."""
    script = tmp_path / "threads.py"
    script.write_text(THREADS)
    data = tmp_path / ".coverage"
    argv = [sys.executable, "-m", "coverage", "run", f"--rcfile={rcfile}"]
    done = subprocess.run(
        [*argv, f"--data-file={data}", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    traced, before, in_thread = done.stdout.split()
    return traced == "True", int(before), int(in_thread)


def test_a_thread_under_the_suites_coverage_gets_no_greenlet_state(tmp_path: Path) -> None:
    traced, before, in_thread = traced_run(tmp_path, PYPROJECT)

    assert traced  # coverage ran, with its greenlet support: the main thread has its greenlet
    assert before == 1
    assert in_thread == before


def test_with_threads_traced_a_thread_would_get_a_greenlet(tmp_path: Path) -> None:
    """What the test above guards against: the settings it replaced."""
    rcfile = tmp_path / "threads.toml"
    rcfile.write_text('[tool.coverage.run]\nconcurrency = ["greenlet", "thread"]\n')

    traced, before, in_thread = traced_run(tmp_path, rcfile)

    assert traced
    assert in_thread == before + 1
