"""How big each size of ``python -m bench`` is, and a row of its table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Size:
    closed_loop_connections: int
    closed_loop_seconds: float
    storm: int
    steady: int
    steady_idle: float
    steady_seconds: float
    heartbeat: float
    meter: float
    charging: float
    paid_chargers: int  # one driver each: the paid sessions under way at once
    paid_sessions: int
    paid_paced: int  # sessions at PAID_RATE a second, a charger each
    fleet_scale: float = 0.1  # of issue 12's fleet (bench.fleet)
    fleet_chargers: int = 300  # beating while the pages are asked for
    fleet_repeat: int = 11  # requests of each page: the first (cold), then ten (warm)
    fleet_baseline: float = 20.0  # seconds of heartbeats with no page asked for
    fleet_pause: float = 1.0  # seconds between two pages, for the beats a page held up
    # The cluster (issue 13): the steady fleet and the storm over --workers, a
    # command through another node, and a node of three killed under its chargers.
    cluster_steady: int = 4_000
    cluster_storm: int = 2_000
    cluster_commands: int = 400  # API commands, half on each node
    cluster_failover: int = 3_000
    # One server of each kind for all its scenarios, not a fresh one each: what a
    # scenario leaves behind (open transactions, rows) then weighs on the next one's
    # figures, so only a size that measures nothing shares them.
    shared_servers: bool = False


SIZES = {
    # Seconds: proves every scenario runs end to end (the test suite runs this one).
    "smoke": Size(
        4,
        0.5,
        40,
        40,
        1,
        2,
        1,
        0.5,
        0.5,
        paid_chargers=2,
        paid_sessions=4,
        paid_paced=4,
        fleet_scale=0.001,
        fleet_chargers=10,
        fleet_repeat=1,
        fleet_baseline=1.0,
        fleet_pause=0.05,
        cluster_steady=40,
        cluster_storm=40,
        cluster_commands=20,
        cluster_failover=30,
        shared_servers=True,
    ),
    # A few minutes: the shape of every figure, at a size any laptop takes.
    "quick": Size(
        50,
        10,
        2_000,
        2_000,
        35,
        30,
        60,
        10,
        0.30,
        paid_chargers=4,
        paid_sessions=200,
        paid_paced=100,
    ),
    # The targets: 10,000 booting at once, 19,000 connected at realistic rates.
    "full": Size(
        50,
        20,
        10_000,
        19_000,
        65,
        120,
        300,
        60,
        0.15,
        paid_chargers=10,
        paid_sessions=1_000,
        paid_paced=200,
        fleet_scale=1.0,
        cluster_steady=36_000,
        cluster_storm=20_000,
        cluster_commands=2_000,
        cluster_failover=10_000,
    ),
}


@dataclass
class Row:
    scenario: str
    target: str
    values: dict[str, Any] = field(default_factory=dict)
