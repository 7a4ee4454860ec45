"""The quick choices' figures kept fresh in the background, so no operator waits for them.

Summing a year of a large fleet takes the database a second or more
(``domain.report_snapshots``); computed on a first view, that second is the
operator's. The periods operators open most, the quick choices beside every
period (this month, last month, this year, last year, for the whole fleet; this
month is also what the charts and the report show by default), are computed here
instead, every ``figures_max_age_seconds``, for both pages. Other periods and
one station's are computed on their first view, as before.

In a cluster one management process at a time does it (a database lock), and
the first round waits one interval: the snapshots outlive a restart, so a node
starting does not add a round of sums to the load of the others.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.locks import exclusive
from ocpp_core.management.context import ManagementContext
from ocpp_core.management.periods import preset_periods
from ocpp_core.management.report_charts import kept_sums
from ocpp_core.management.reports import kept_report

logger = logging.getLogger(__name__)

LOCK_NAME = "figures-warmer"


async def warm(context: ManagementContext) -> None:
    """Compute each quick choice's figures that are missing, and refresh those that are stale."""
    for period in preset_periods(context.clock().date()):
        await kept_sums(context, period)
        await kept_report(context, period)
        await context.snapshots.settle()  # one period's sums at a time on the database


async def warm_forever(context: ManagementContext) -> None:
    interval = context.snapshots.max_age
    if interval <= timedelta(0):
        return  # every view computes its figures: nothing is kept to warm
    while True:
        await asyncio.sleep(interval.total_seconds())
        try:
            async with exclusive(context.db, LOCK_NAME) as mine:
                if mine:
                    await warm(context)
        except DatabaseUnavailable:
            pass  # the database's health says so; the next round tries again
        except Exception:
            logger.exception("keeping the quick choices' figures failed; trying again later")
