"""The bars of a period: every UTC day, or every month once days get too thin to read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ocpp_core.domain.reporting import Period, buckets, by_month


def days(first: date, last: date) -> Period:
    """The UTC days from ``first`` to ``last``, both included, as the pages ask for them."""
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    until = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return Period(since, until)


def test_a_month_has_a_bar_per_day_empty_days_included() -> None:
    november = days(date(2026, 11, 1), date(2026, 11, 30))

    found = buckets(november)

    assert not by_month(november)
    assert (found[0], found[-1], len(found)) == (date(2026, 11, 1), date(2026, 11, 30), 30)
    assert november.last_day == date(2026, 11, 30)


def test_two_months_across_new_year_still_have_days() -> None:
    winter = days(date(2026, 12, 1), date(2027, 1, 31))

    assert len(buckets(winter)) == 62


def test_a_longer_period_has_a_bar_per_month() -> None:
    assert buckets(days(date(2026, 11, 15), date(2027, 2, 3))) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]
    year = days(date(2026, 1, 1), date(2026, 12, 31))
    assert by_month(year)
    assert len(buckets(year)) == 12
