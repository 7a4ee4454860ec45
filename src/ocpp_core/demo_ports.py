"""The demo's ports and the flags that choose them.

Apart from ``ocpp_core.demo``, which loads every app, so that ``ocpp-core demo
--help`` can show the defaults without loading them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ports:
    server: int
    management: int
    stripe: int


DEFAULT_PORTS = Ports(server=8081, management=8082, stripe=12111)
PORT_OPTIONS = {"server": "--port", "management": "--management-port", "stripe": "--stripe-port"}
