"""The period (and station) a report or chart covers, as typed, with quick choices.

Days are UTC days, as everywhere in the operator pages, and the last day is
included. With nothing chosen a page covers the current month: what an
operator looks at most, and what the charts make sense of at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated

from fastapi import Depends

from ocpp_core.domain.reporting import Period
from ocpp_core.management.admin_forms import day_after, day_start, parse_days, query_string
from ocpp_core.management.context import ContextDep
from ocpp_core.management.i18n import N_, gettext

# A chart draws a bar per month of the period: ten years are 120 bars, a page still small.
MAX_PERIOD_DAYS = 3_653  # ten years and their leap days


@dataclass(frozen=True, slots=True)
class Preset:
    label: str
    since: date
    until: date  # inclusive


def _month_start(day: date, months_before: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_before
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _month_start(day, -1) - timedelta(days=1)


_PRESETS: tuple[tuple[str, Callable[[date], tuple[date, date]]], ...] = (
    (N_("This month"), lambda today: (_month_start(today), _month_end(today))),
    (N_("Last month"), lambda today: (_month_start(today, 1), _month_start(today) - timedelta(1))),
    (N_("This year"), lambda today: (date(today.year, 1, 1), date(today.year, 12, 31))),
    (N_("Last year"), lambda today: (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))),
)


def presets(today: date) -> list[Preset]:
    return [Preset(gettext(label), *span(today)) for label, span in _PRESETS]


def preset_periods(today: date) -> list[Period]:
    """The quick choices' periods for the whole fleet, as a page asked for them computes them."""
    return [
        Period(day_start(since), day_after(until), None)
        for since, until in (span(today) for _, span in _PRESETS)
    ]


@dataclass
class PeriodForm:
    """The query as typed, the problems found in it, and the quick choices beside it."""

    since: str
    until: str
    cp: str
    presets: list[Preset]
    errors: dict[str, str] = field(default_factory=dict)

    def period(self) -> Period | None:
        """The period asked for, or None when the form has errors (then in ``errors``)."""
        days = parse_days({"since": self.since, "until": self.until}, self.errors)
        for name in ("since", "until"):
            if not getattr(self, name) and name not in self.errors:
                self.errors[name] = gettext("Choose a date.")
        if self.errors:
            return None
        if days["until"] < days["since"]:
            self.errors["until"] = gettext("The end is before the start.")
            return None
        if (days["until"] - days["since"]).days + 1 > MAX_PERIOD_DAYS:
            self.errors["until"] = gettext("A period of at most ten years.")
            return None
        return Period(day_start(days["since"]), day_after(days["until"]), self.cp or None)

    def query(self, **changed: str) -> str:
        """This form's query string, with some values changed (a preset's dates, say)."""
        return query_string({"since": self.since, "until": self.until, "cp": self.cp, **changed})

    def preset_query(self, preset: Preset) -> str:
        return self.query(since=preset.since.isoformat(), until=preset.until.isoformat())

    def is_preset(self, preset: Preset) -> bool:
        return (self.since, self.until) == (preset.since.isoformat(), preset.until.isoformat())


def _typed_period(
    context: ContextDep, since: str = "", until: str = "", cp: str = ""
) -> PeriodForm:
    choices = presets(context.clock().date())
    since, until = since.strip(), until.strip()
    if not since and not until:
        since, until = choices[0].since.isoformat(), choices[0].until.isoformat()
    return PeriodForm(since, until, cp.strip(), choices)


PeriodDep = Annotated[PeriodForm, Depends(_typed_period)]
