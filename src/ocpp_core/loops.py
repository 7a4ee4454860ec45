"""Running a long-lived service's event loop: uvloop where it exists (not on Windows).

The event loop's own work is a large share of each OCPP message's cost; uvloop
roughly halves it. ``uvicorn.Server.serve`` runs in whatever loop calls it, so
the choice is made here rather than by uvicorn's ``loop`` option, for every
process that serves an app (``serve``'s management child included).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_fast(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the coroutine to completion on a new uvloop loop, or asyncio's without uvloop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
