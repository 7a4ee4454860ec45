"""HAProxy in front of the bench's nodes, as the README tells operators to run it.

A charger through HAProxy takes two of its files (the charger's socket and the
node's), and HAProxy cannot raise its file limit above the hard limit (20,000
here): a fleet bigger than half of it gets several HAProxy processes, each in
front of every node, as a pair of load balancers would be. Only a node whose
``/health`` answers 200 gets chargers.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from bench.targets import Running, free_ports

START_TIMEOUT = 30.0

# The README's example, sized by ``maxconn``: websockets pass in HTTP mode, the
# tunnel outlives our keep-alive (a ping at most 55 s apart, a pong awaited 30 s),
# only a node whose /health says 200 gets chargers and calls, and a charger's
# handshake that a draining node refuses (503) is tried again on another node.
CONFIG = """\
global
    maxconn {maxconn}

defaults
    mode http
    option redispatch 1
    retries 2
    retry-on conn-failure empty-response 503
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout tunnel 2m
    timeout client-fin 5s
    timeout server-fin 5s

frontend ocpp
    bind 127.0.0.1:{port}
    maxconn {maxconn}
    default_backend nodes

backend nodes
    balance leastconn
    http-request disable-l7-retry unless {{ req.hdr(upgrade) -i websocket }}
    option httpchk GET /health
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 maxconn {maxconn}
{servers}

listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
"""


_SPARE_FILES = 1_000  # HAProxy's own besides its connections'


def installed() -> str | None:
    return shutil.which("haproxy") or shutil.which("/usr/sbin/haproxy")


@contextmanager
def haproxies(nodes: list[Running], chargers: int) -> Iterator[list[Running]]:
    """As many HAProxy processes in front of ``nodes`` as ``chargers`` need files."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    each = (hard - _SPARE_FILES) // 2 if hard != resource.RLIM_INFINITY else chargers
    count = -(-chargers // each)
    with ExitStack() as stack:
        yield [stack.enter_context(haproxy(nodes, -(-chargers // count))) for _ in range(count)]


@contextmanager
def haproxy(nodes: list[Running], chargers: int) -> Iterator[Running]:
    """HAProxy in front of ``nodes``, once its health checks hold them all up."""
    binary = installed()
    assert binary is not None
    port, stats_port = free_ports(2)
    servers = "\n".join(
        f"    server n{n} {node.url.split('/')[2]} check" for n, node in enumerate(nodes)
    )
    config = CONFIG.format(
        maxconn=chargers + 100, port=port, stats_port=stats_port, servers=servers
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
