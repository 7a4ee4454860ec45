"""The plain decisions of a local list's sync: what differs, how it is cut, what follows."""

from __future__ import annotations

from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.commands import ListEntry, SendLocalList
from ocpp_core.domain.local_lists import Step, changes, limit_of, plan, step_after, version_of

A = ListEntry("A", "Accepted")
B = ListEntry("B", "Blocked")
C = ListEntry("C", "Accepted", group="G")


def answered(status: str | None) -> CommandResult:
    return CommandResult(Outcome.ANSWERED, status)


def test_changes_are_the_differing_entries_and_removals_in_tag_order() -> None:
    kept = {"A": A, "B": ListEntry("B", "Accepted"), "D": ListEntry("D", "Accepted")}
    assert changes({"A": A, "B": B, "C": C}, kept) == [B, C, ListEntry("D", None)]
    assert changes({"A": A}, {"A": A}) == []


def test_a_full_list_is_one_full_message_then_differential_ones() -> None:
    wanted = {"C": C, "A": A, "B": B}
    assert plan(wanted, {}, full=True, version=4, per_message=2) == [
        SendLocalList(5, True, (A, B)),
        SendLocalList(6, False, (C,)),
    ]


def test_an_empty_full_list_still_clears_the_charger() -> None:
    assert plan({}, {"A": A}, full=True, version=0, per_message=10) == [SendLocalList(1, True)]


def test_nothing_differs_nothing_is_sent() -> None:
    assert plan({"A": A}, {"A": A}, full=False, version=3, per_message=10) == []


def test_what_follows_an_answer() -> None:
    assert step_after(answered("Accepted"), full=False) is Step.NEXT
    assert step_after(answered("VersionMismatch"), full=False) is Step.FULL_NOW
    assert step_after(answered("Failed"), full=False) is Step.FULL_NOW
    assert step_after(answered("Failed"), full=True) is Step.LATER
    assert step_after(answered("NotSupported"), full=True) is Step.STOP
    assert step_after(CommandResult(Outcome.TIMEOUT), full=False) is Step.LATER


def test_limits_and_versions_read_from_the_charger() -> None:
    assert limit_of(answered("50"), 100) == 50
    assert limit_of(answered("5000"), 100) == 100  # never above ours
    assert limit_of(answered("0"), 100) == 100
    assert limit_of(answered("lots"), 100) == 100
    assert limit_of(answered(None), 100) == 100
    assert limit_of(CommandResult(Outcome.OFFLINE), 100) == 100
    assert version_of(answered("7")) == 7
    assert version_of(answered("-1")) == -1
    assert version_of(answered("None")) is None
    assert version_of(CommandResult(Outcome.TIMEOUT)) is None
