"""Print what the suite covered, lines and branches apart, and hold each area to its floor.

coverage.py's own report folds lines and branches into one percentage; the bars
we keep are per kind: the whole by lines, money and the OCPP adapters by
branches (a missed ``else`` there is a missed refund or a wrong answer to a
charger). ``make test`` runs this after pytest (with pytest-cov) has written
``.coverage``; it exits 1 when an area falls below its floor.

Raise a floor as tests are added; never lower one to let a change in.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coverage


@dataclass(frozen=True)
class Area:
    name: str
    prefixes: tuple[str, ...]
    min_lines: float
    min_branches: float

    def holds(self, filename: str) -> bool:
        path = Path(filename).as_posix()
        return any(f"ocpp_core/{prefix}" in path for prefix in self.prefixes)


# 90 % of the whole's lines and 95 % of the branches of the payments and the adapters.
# What the payments miss guards races: a reservation deleted with its charge point
# while a flow works on it past its first read, another node's claim of the same hold,
# an energy cap reached once the session no longer charges, an Available older than the
# session, a receipt without its times; and the sweep loop's turn skipped while another
# node holds its lock, which CPython 3.11's tracer would lose anyway (coveragepy issue
# 1595: the step out of an ``async with`` block whose last statement is an ``if``). A
# loaded machine's timing takes a branch or two of them, or not: one commit measured
# 95.1 % and 94.9 % of 514 in two runs.
AREAS = (
    Area("whole", ("",), min_lines=90.0, min_branches=0.0),
    Area("payments", ("payments/",), min_lines=0.0, min_branches=95.0),
    Area(
        "OCPP adapters",
        ("ocpp/adapter.py", "ocpp/common.py", "ocpp/v16.py", "ocpp/v201"),
        min_lines=0.0,
        min_branches=95.0,
    ),
)


@dataclass(frozen=True)
class Figures:
    lines: int = 0
    covered_lines: int = 0
    branches: int = 0
    covered_branches: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.lines + other.lines,
            self.covered_lines + other.covered_lines,
            self.branches + other.branches,
            self.covered_branches + other.covered_branches,
        )

    @property
    def line_percent(self) -> float:
        return 100.0 * self.covered_lines / self.lines if self.lines else 100.0

    @property
    def branch_percent(self) -> float:
        return 100.0 * self.covered_branches / self.branches if self.branches else 100.0


def per_file(data_file: Path) -> dict[str, Figures]:
    """The JSON report's per-file totals: the public way to get lines and branches apart."""
    measured = coverage.Coverage(data_file=str(data_file))
    measured.load()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "coverage.json"
        measured.json_report(outfile=str(report))
        files: dict[str, Any] = json.loads(report.read_text())["files"]
    return {
        name: Figures(
            summary["num_statements"],
            summary["covered_lines"],
            summary["num_branches"],
            summary["covered_branches"],
        )
        for name, content in files.items()
        for summary in (content["summary"],)
    }


def main(data_file: Path = Path(".coverage")) -> int:
    files = per_file(data_file)
    ok = True
    print(f"{'coverage':<16}{'lines':>16}{'branches':>18}")
    for area in AREAS:
        figures = sum((f for name, f in files.items() if area.holds(name)), Figures())
        low = figures.line_percent < area.min_lines or figures.branch_percent < area.min_branches
        ok = ok and not low
        print(
            f"{area.name:<16}"
            f"{figures.line_percent:>7.1f} % of {figures.lines:>5}"
            f"{figures.branch_percent:>8.1f} % of {figures.branches:>5}"
            + (f"   below the floor ({area.min_lines} % / {area.min_branches} %)" if low else "")
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*(Path(arg) for arg in sys.argv[1:2])))
