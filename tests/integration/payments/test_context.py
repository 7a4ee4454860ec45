"""Work the payments spawn (a start, a release) is never lost silently when it fails."""

from __future__ import annotations

import logging

import pytest

from integration.payments.payflow import payments_of
from ocpp_core.db.health import DatabaseUnavailable
from servers import RunningServer


async def test_spawned_work_that_fails_is_logged_by_name_an_outage_only_as_a_warning(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    context = payments_of(server)

    async def finds_the_database_down() -> None:
        raise DatabaseUnavailable("connection refused")

    async def breaks() -> None:
        raise RuntimeError("a bug")

    async def works() -> None:
        return None

    with caplog.at_level(logging.WARNING, logger="ocpp_core.payments"):
        context.spawn(finds_the_database_down(), "release-r1")
        context.spawn(breaks(), "start-r2")
        context.spawn(works(), "settle-r3")
        await context.drain()

    logged = {(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records}
    assert logged == {
        ("WARNING", "release-r1: the database is unreachable; the sweep retries", False),
        ("ERROR", "start-r2 failed", True),
    }
