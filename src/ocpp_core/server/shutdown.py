"""The server's shutdown, step by step, each bounded in time.

A step that does not end (a Redis or database call that never answers, spawned work
waiting on one) would keep the process from ending: the supervisor, systemd or the
operator's second SIGTERM asks for an end, and a worker must give it. Such a step is
left behind, named in the log, and the next one runs; what is left is cancelled when
the event loop closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

logger = logging.getLogger(__name__)

# Longer than one Stripe call's own bound (stripe.timeout, 20 s by default): a capture
# on its way at shutdown still gets its answer.
STEP_SECONDS = 30.0


async def bounded(name: str, step: Awaitable[object], seconds: float = STEP_SECONDS) -> None:
    """Run ``step``; past ``seconds``, go on without it. Its error, if it ends with one, is raised.

    ``asyncio.wait``, not ``asyncio.timeout``: a timeout cancels the waiting caller, and
    a caller awaiting a gather stays until every task gathered has ended.
    """
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        task.result()
        return
    task.cancel()
    logger.warning("shutting down: %s did not end within %g s; going on without it", name, seconds)
