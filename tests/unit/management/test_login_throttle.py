"""Login throttling: how long a name or an address must wait after failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ocpp_core.management.throttle import Limits, wait_time

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIMITS = Limits(per_name=5, per_address=20, window=timedelta(minutes=15))


def minutes_ago(*minutes: float, name: str = "ada") -> list[tuple[str, datetime]]:
    return [(name, NOW - timedelta(minutes=m)) for m in minutes]


def test_no_failures_no_wait() -> None:
    assert wait_time([], name="ada", limits=LIMITS, now=NOW) is None


def test_four_failures_still_allow_a_fifth_try() -> None:
    assert wait_time(minutes_ago(1, 2, 3, 4), name="ada", limits=LIMITS, now=NOW) is None


def test_five_failures_wait_until_the_oldest_ages_out() -> None:
    failures = minutes_ago(1, 2, 3, 4, 10)

    assert wait_time(failures, name="ada", limits=LIMITS, now=NOW) == timedelta(minutes=5)


def test_failures_older_than_the_window_do_not_count() -> None:
    failures = minutes_ago(1, 2, 3, 4, 15, 16, 60)

    assert wait_time(failures, name="ada", limits=LIMITS, now=NOW) is None


def test_other_names_do_not_count_against_this_one() -> None:
    failures = minutes_ago(1, 2, 3, 4, 5, name="bob")

    assert wait_time(failures, name="ada", limits=LIMITS, now=NOW) is None
    assert wait_time(failures, name="bob", limits=LIMITS, now=NOW) is not None


def test_many_names_from_one_address_hit_the_address_limit() -> None:
    failures = [(f"name-{i}", NOW - timedelta(minutes=i / 2)) for i in range(20)]

    wait = wait_time(failures, name="someone-new", limits=LIMITS, now=NOW)

    assert wait == timedelta(minutes=5.5)  # when the oldest, 9.5 minutes old, ages out


def test_the_longer_of_the_two_waits_applies() -> None:
    others = [(f"n{i}", NOW - timedelta(minutes=10)) for i in range(15)]
    failures = minutes_ago(1, 1, 1, 1, 1) + others  # the address: 5 minutes; ada: 14

    assert wait_time(failures, name="ada", limits=LIMITS, now=NOW) == timedelta(minutes=14)
    assert wait_time(failures, name="bob", limits=LIMITS, now=NOW) == timedelta(minutes=5)


def test_a_wait_is_never_zero() -> None:
    failures = [("ada", NOW - LIMITS.window + timedelta(microseconds=1))] * 5

    wait = wait_time(failures, name="ada", limits=LIMITS, now=NOW)

    assert wait == timedelta(seconds=1)
