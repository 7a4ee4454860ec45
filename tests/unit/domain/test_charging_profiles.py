"""The decisions about charging profiles that need no charger: shapes, limits, answers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ocpp_core.domain import commands
from ocpp_core.domain.charging_profiles import (
    MAX_PERIODS,
    ChargerLimits,
    ProfileStatus,
    composite_of,
    configured_limits,
    refusal,
    reported_limits,
    shape_problem,
    status_after,
)
from ocpp_core.domain.command_results import CommandResult, Outcome

PROFILE = commands.ChargingProfile(
    profile_id=1,
    purpose="TxDefaultProfile",
    stack_level=1,
    kind="Absolute",
    unit="A",
    periods=(commands.SchedulePeriod(0, 160),),
)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"periods": ()}, f"a schedule has 1 to {MAX_PERIODS} periods"),
        ({"periods": (commands.SchedulePeriod(0, 1),) * (MAX_PERIODS + 1)}, "a schedule has"),
        ({"periods": (commands.SchedulePeriod(5, 1),)}, "the first period starts at 0"),
    ],
)
def test_a_schedule_no_charger_takes_is_named(changes: dict[str, Any], problem: str) -> None:
    found = shape_problem(1, replace(PROFILE, **changes))
    assert found is not None
    assert found.startswith(problem)


def test_limits_in_a_report_or_a_configuration_survive_what_does_not_fit() -> None:
    entries: list[Any] = [
        "junk",
        {"component": {"name": "Other"}, "variable": {"name": "ProfileStackLevel"}},
        {
            "component": {"name": "SmartChargingCtrlr"},
            "variable": {"name": "ProfileStackLevel"},
            "variableAttribute": [{"type": "Target", "value": "3"}],
        },
        {
            "component": {"name": "SmartChargingCtrlr"},
            "variable": {"name": "Entries", "instance": "ChargingProfiles"},
            "variableAttribute": [{"value": "0"}],
        },
    ]
    assert reported_limits(entries) == {}
    answers: list[Any] = [
        None,
        {"configurationKey": "junk"},
        {"configurationKey": [{"key": "ChargeProfileMaxStackLevel", "value": "4"}]},
        {"configurationKey": [{"key": "ChargeProfileMaxStackLevel", "value": "9"}]},
    ]
    assert configured_limits(answers) == {"ChargeProfileMaxStackLevel": "4"}  # the newest


def test_a_charger_that_said_nothing_is_held_to_nothing() -> None:
    assert refusal(ChargerLimits(), replace(PROFILE, stack_level=99), 1000) is None
    assert refusal(ChargerLimits(units=frozenset()), PROFILE, 0) == (
        "unit A is not in ChargingScheduleAllowedChargingRateUnit (none)"
    )


@pytest.mark.parametrize(
    ("result", "status"),
    [
        (CommandResult(Outcome.TIMEOUT), (ProfileStatus.SENT, "no answer in time")),
        (
            CommandResult(Outcome.REFUSED, error="NotSupported", description="no"),
            (ProfileStatus.REJECTED, "NotSupported: no"),
        ),
        (CommandResult(Outcome.ANSWERED, None), (ProfileStatus.REJECTED, None)),
    ],
)
def test_what_an_answer_means_for_the_record(
    result: CommandResult, status: tuple[ProfileStatus, str | None]
) -> None:
    assert status_after(result) == status


def test_an_answer_without_a_schedule_has_no_composite() -> None:
    assert composite_of({"status": "Accepted"}) is None
    assert composite_of({"schedule": "junk"}) is None
