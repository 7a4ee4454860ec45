"""A request's progress: the history a charger's notifications grow is cut to its newest steps,
and the charger's answer is one word whatever became of the command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.progress import HISTORY_KEPT, answer_of, steps_of, with_step

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_history_keeps_the_newest_steps_in_order() -> None:
    history = "[]"
    for minute in range(HISTORY_KEPT + 3):
        history = with_step(history, f"S{minute}", START + timedelta(minutes=minute))
    steps = steps_of(history)
    assert len(steps) == HISTORY_KEPT
    assert (steps[0].status, steps[-1].status) == ("S3", f"S{HISTORY_KEPT + 2}")
    assert steps[-1].at == START + timedelta(minutes=HISTORY_KEPT + 2)


def test_the_answer_is_the_chargers_status_or_why_there_is_none() -> None:
    assert answer_of(CommandResult(Outcome.ANSWERED, "Rejected")) == "Rejected"
    assert answer_of(CommandResult(Outcome.ANSWERED)) == "Accepted"  # 1.6: an empty answer
    assert answer_of(CommandResult(Outcome.TIMEOUT)) == "Timeout"
    assert answer_of(CommandResult(Outcome.OFFLINE)) == "ChargerOffline"
