"""What the operator pages share: a rendering helper, flash messages, form values.

Pages post, then redirect (post/redirect/get) with a one-time *flash* message
kept in the session; a form with errors is rendered again at once, each
message next to its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from ocpp_core.management.i18n import N_, gettext
from ocpp_core.management.templating import render

_FLASH = "flash"
DATE_ERROR = N_("A date as YYYY-MM-DD.")


def flash(request: Request, message: str, *, ok: bool = True) -> None:
    request.session[_FLASH] = {"message": message, "ok": ok}


def redirect(
    request: Request, url: str, message: str | None = None, *, ok: bool = True
) -> RedirectResponse:
    if message is not None:
        flash(request, message, ok=ok)
    return RedirectResponse(url, 303)


def page(
    request: Request,
    template: str,
    values: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page with the flash message (once) and the helpers the admin templates use."""
    shown = request.session.pop(_FLASH, None)
    extra = {"flash": shown, "q": path_part, "query": query_string, "can_edit": _is_admin(request)}
    values = {**extra, **(values or {})}
    return render(request, template, values, status_code=status_code, headers=headers)


def _is_admin(request: Request) -> bool:
    user = getattr(request.state, "user", None)
    return bool(user is not None and user.is_admin)


def path_part(value: str | int) -> str:
    return quote(str(value), safe="")


def query_string(values: Mapping[str, object]) -> str:
    """``?a=1&b=2`` of the values that are set, or the empty string."""
    kept = {k: str(v) for k, v in values.items() if v not in (None, "")}
    return f"?{urlencode(kept)}" if kept else ""


def text(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def checked(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def decimal_text(value: int, scale: int, *, min_places: int = 0) -> str:
    """``35_500`` at scale 100_000 → ``"0.355"``; zero is the empty field."""
    if not value:
        return ""
    number = (Decimal(value) / scale).normalize()
    places = max(min_places, -number.as_tuple().exponent)  # type: ignore[operator]
    return f"{number:.{places}f}"


def parse_date(value: str) -> date | None:
    """A ``YYYY-MM-DD`` field; raises ValueError for anything else."""
    return date.fromisoformat(value) if value else None


def parse_days(fields: Mapping[str, str], errors: dict[str, str]) -> dict[str, date]:
    """The date fields filled in; ``DATE_ERROR`` in ``errors`` for each that is not a date."""
    days: dict[str, date] = {}
    for name, value in fields.items():
        try:
            day = parse_date(value)
        except ValueError:
            errors[name] = gettext(DATE_ERROR)
        else:
            if day is not None:
                days[name] = day
    return days


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def day_after(day: date) -> datetime:
    return day_start(day) + timedelta(days=1)
