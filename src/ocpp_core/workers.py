"""``ocpp-core server --workers N``: N server processes on one port, every core used.

Each worker is a full node of the cluster (``ocpp_core.cluster``) with a node
id of its own, in a child process (``ocpp_core.app_process``) on a socket of
its own bound with SO_REUSEPORT: the kernel spreads new connections over the
workers' sockets, so no worker's accept loop is a bottleneck and no charger
waits behind a busy sibling. The supervisor, this process, binds every socket
first (a taken port is one clear line, as with one process) and keeps them, so
a worker that is restarted listens on the same socket and the connections
that arrived meanwhile wait in its queue instead of being refused.

A worker that dies is restarted after a pause that doubles while it keeps
dying soon after its start; after ``_MAX_QUICK_DEATHS`` of those in a row the
command stops with an error, so a failure that repeats (a wrong setting, a
database that refuses) is not hidden behind an endless loop. A worker that
fails on the very first start stops the command at once, as one process would,
with its reason in one line (a node id in use, a database that refuses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn

from ocpp_core.app_process import AppProcess
from ocpp_core.config import Settings, default_node_id
from ocpp_core.listening import CannotServe, bind

logger = logging.getLogger(__name__)

_FIRST_PAUSE = 1.0  # seconds before a dead worker's first restart
_MAX_PAUSE = 30.0
_STEADY = 60.0  # a worker up this long died of something new: its pauses start over
_MAX_QUICK_DEATHS = 5


def worker_settings(settings: Settings, number: int) -> Settings:
    """Worker ``number``'s settings: a node id set by the operator gets ``-<number>``.

    The default node id (host name and process id) is made again in the worker
    (``own_node_id``), where the process id is the worker's.
    """
    cluster = settings.cluster
    if "node_id" not in cluster.model_fields_set:
        return settings
    node = cluster.model_copy(update={"node_id": f"{cluster.node_id}-{number}"})
    return settings.model_copy(update={"cluster": node})


def own_node_id(settings: Settings) -> Settings:
    """In the worker: the default node id made with this process's id."""
    cluster = settings.cluster
    if "node_id" in cluster.model_fields_set:
        return settings
    node = cluster.model_copy(update={"node_id": default_node_id()})
    return settings.model_copy(update={"cluster": node})


class Workers:
    """``count`` server workers; ``listening.running`` drives them as one server.

    Drained (``drain``) then stopped (``should_exit``), each worker does what one
    server does: /health says 503, its chargers' websockets close with 1001, it
    leaves the presence; ``serve`` returns once all are gone.
    """

    def __init__(self, settings: Settings, count: int, config: uvicorn.Config) -> None:
        self.config = config
        self.started = False
        self._settings = settings
        self._count = count
        self._processes: dict[int, AppProcess] = {}
        self._should_exit = False
        self._draining = False
        self._stopping = asyncio.Event()

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._should_exit = value
        if value:
            self._stopping.set()
            for process in self._processes.values():
                process.should_exit = True

    def drain(self) -> None:
        """Each worker drains (``ocpp_core.server.node_server``), one restarted meanwhile too."""
        self._draining = True
        for process in self._processes.values():
            process.drain()

    @property
    def pids(self) -> list[int]:
        """The workers' process ids, for the log and the tests."""
        return [process.pid for process in self._processes.values() if process.pid is not None]

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Run the workers on the bound socket and siblings of it; return when all have ended."""
        assert sockets is not None
        (first,) = sockets
        host, port = first.getsockname()[:2]
        siblings = [bind(host, port, reuse_port=True) for _ in range(self._count - 1)]
        try:
            keeping = [
                asyncio.create_task(self._keep(number, sock))
                for number, sock in enumerate([first, *siblings], start=1)
            ]
            while not self.started and not any(task.done() for task in keeping):
                await asyncio.sleep(0.05)
                self.started = len(self._processes) == self._count and all(
                    process.started for process in self._processes.values()
                )
            if self.started:
                logger.info("%d workers on port %d: pids %s", self._count, port, self.pids)
            await asyncio.wait(keeping, return_when=asyncio.FIRST_COMPLETED)
            self.should_exit = True  # stopped, or one gave up: the others go too
            await asyncio.gather(*keeping)
        finally:
            for sock in siblings:
                sock.close()

    async def _keep(self, number: int, sock: socket.socket) -> None:
        """Keep worker ``number`` running until told to stop, or until it keeps dying."""
        loop = asyncio.get_running_loop()
        quick_deaths = 0
        first = True
        while not self._should_exit:
            process = AppProcess(
                worker_settings(self._settings, number),
                self.config,
                app="server",
                name=f"worker {number}",
            )
            self._processes[number] = process
            if self._draining:
                process.drain()
            began = loop.time()
            try:
                await process.serve(sockets=[sock])
            except CannotServe as refused:
                if first:  # as one process would: the command stops, saying why
                    raise
                logger.warning("worker %d could not start again: %s", number, refused)
            if self._should_exit or (first and not process.started):  # stopped, or never up
                return
            first = False
            quick_deaths = 1 if loop.time() - began > _STEADY else quick_deaths + 1
            if quick_deaths > _MAX_QUICK_DEATHS:
                logger.error("worker %d died %d times in a row: giving up", number, quick_deaths)
                return
            pause = min(_FIRST_PAUSE * 2 ** (quick_deaths - 1), _MAX_PAUSE)
            logger.warning("worker %d (pid %s): restarting in %.0f s", number, process.pid, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
