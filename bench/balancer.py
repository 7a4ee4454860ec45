"""HAProxy in front of the bench's nodes, as the README tells operators to run it.

Sized for a fleet: ``maxconn`` above the bench's chargers (HAProxy, run as
root, raises its own file limit to match; otherwise it says so and the bench
fails). Only a node whose ``/health`` answers 200 gets chargers.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.targets import Running, free_ports

START_TIMEOUT = 30.0

_CONFIG = """\
global
    maxconn {maxconn}

defaults
    mode http
    option redispatch
    retries 2
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout tunnel 2m

frontend ocpp
    bind 127.0.0.1:{port}
    maxconn {maxconn}
    default_backend nodes

backend nodes
    balance leastconn
    option httpchk GET /health
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 maxconn {maxconn}
{servers}

listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
"""


def installed() -> str | None:
    return shutil.which("haproxy") or shutil.which("/usr/sbin/haproxy")


@contextmanager
def haproxy(nodes: list[Running], chargers: int) -> Iterator[Running]:
    """HAProxy in front of ``nodes``, once its health checks hold them all up."""
    binary = installed()
    assert binary is not None
    port, stats_port = free_ports(2)
    servers = "\n".join(
        f"    server n{n} {node.url.split('/')[2]} check" for n, node in enumerate(nodes)
    )
    config = _CONFIG.format(
        maxconn=chargers + 1_000, port=port, stats_port=stats_port, servers=servers
    )
    with tempfile.TemporaryDirectory(prefix="ocpp-core-haproxy-") as folder:
        path = Path(folder) / "haproxy.cfg"
        path.write_text(config)
        argv = [binary, "-f", str(path), "-db"]
        log = Path(folder) / "haproxy.log"
        with (
            log.open("wb") as output,
            subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT) as process,
        ):
            try:
                _until_up(stats_port, len(nodes), process, log)
                yield Running("HAProxy", f"ws://127.0.0.1:{port}/OCPP/", process)
            finally:
                process.kill()


def _until_up(stats_port: int, count: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"HAProxy exited: {log.read_text()[-2000:]}")
        try:
            page = httpx.get(f"http://127.0.0.1:{stats_port}/stats;csv").text
        except httpx.TransportError:
            page = ""
        if sum(",UP," in line for line in page.splitlines() if line.startswith("nodes,n")) == count:
            return
        time.sleep(0.1)
    raise RuntimeError(f"HAProxy did not hold the {count} nodes up within {START_TIMEOUT:.0f} s")
