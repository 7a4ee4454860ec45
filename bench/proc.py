"""A process's CPU time and resident memory, read from /proc (Linux), for every thread of it.

``sample_tree`` adds its children's (``ocpp-core server --workers``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    at: float
    cpu_seconds: float
    rss_bytes: int

    def cpu_share_since(self, earlier: Sample) -> float:
        """Share of one core used between the two samples (1.0 = a whole core)."""
        wall = self.at - earlier.at
        return (self.cpu_seconds - earlier.cpu_seconds) / wall if wall > 0 else 0.0


def sample(pid: int) -> Sample:
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may hold spaces; the fields after its closing parenthesis do not.
        fields = stat.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    cpu_ticks = int(fields[11]) + int(fields[12])  # utime + stime, all threads
    return Sample(time.monotonic(), cpu_ticks / _TICKS, resident_pages * _PAGE)


def sample_tree(pid: int) -> Sample:
    """The process and its children, summed: a supervisor and its workers."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    parts = [sample(pid), *(sample(int(child)) for child in children)]
    return Sample(
        parts[0].at,
        sum(part.cpu_seconds for part in parts),
        sum(part.rss_bytes for part in parts),
    )
