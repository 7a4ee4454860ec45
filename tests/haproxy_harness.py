"""A real HAProxy in front of the test's nodes, configured as the README tells operators.

The configuration is written into the test's folder with free loopback ports and
HAProxy runs in the foreground (``-db``) as the test's child, killed at teardown.
A missing HAProxy fails the test, never skips it (``make test`` installs it, see
`make haproxy`). Its stats page (CSV) says which nodes its health checks
hold up or down.
"""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.balancer import CONFIG
from servers import free_port

HAPROXY = Path(os.environ.get("OCPP_CORE_TEST_HAPROXY", "/usr/sbin/haproxy"))


@dataclass(frozen=True)
class Balancer:
    port: int
    stats_port: int

    def ws_url(self, charge_point_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/OCPP/{charge_point_id}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def states(self) -> dict[str, str]:
        """Each node's state as HAProxy's health checks see it: ``UP``, ``DOWN``, …"""
        return {name: row["status"] for name, row in (await self.stats()).items()}

    async def stats(self) -> dict[str, dict[str, str]]:
        """Each node's row of HAProxy's statistics (``status``, ``wretr`` retries, …)."""
        async with httpx.AsyncClient() as client:
            page = await client.get(f"http://127.0.0.1:{self.stats_port}/stats;csv")
        rows = csv.DictReader(page.text.removeprefix("# ").splitlines())
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == "nodes" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    async def until(self, states: Mapping[str, str]) -> None:
        """Until the health checks hold each named node in the given state."""
        # Another process's checks: nothing to wait on but its stats page, polled.
        while {name: (await self.states()).get(name) for name in states} != dict(states):  # noqa: ASYNC110
            await asyncio.sleep(0.2)


def installed() -> Path:
    if not HAPROXY.exists():
        pytest.fail(f"HAProxy is not at {HAPROXY}: run `make haproxy`")
    return HAPROXY


@asynccontextmanager
async def haproxy(folder: Path, nodes: Mapping[str, int]) -> AsyncIterator[Balancer]:
    """HAProxy in front of ``nodes`` (name: port), once it holds them all up."""
    binary = installed()
    balancer = Balancer(free_port(), free_port())
    servers = "\n".join(f"    server {name} 127.0.0.1:{port} check" for name, port in nodes.items())
    config = folder / "haproxy.cfg"
    config.write_text(
        CONFIG.format(
            maxconn=4096, port=balancer.port, stats_port=balancer.stats_port, servers=servers
        )
    )
    with (folder / "haproxy.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            str(binary), "-f", str(config), "-db", stdout=log, stderr=subprocess.STDOUT
        )
    try:
        async with asyncio.timeout(30):
            while True:
                if process.returncode is not None:
                    raise AssertionError(f"HAProxy exited with {process.returncode}; see {log}")
                try:
                    await balancer.until(dict.fromkeys(nodes, "UP"))
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        yield balancer
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
