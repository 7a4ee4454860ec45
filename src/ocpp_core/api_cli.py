"""What the commands that drive a running server through its ``/API`` share: the server's
address (``--url``), the key from the settings, times, tables and the exit status.

Operators script these commands, so each says its outcome on stdout, a failure in
one line on stderr, and exits non-zero unless the charger accepted. Only click is
imported here: the client (httpx) and the settings come in when a command runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import click

from ocpp_core.cli_support import cli_settings, user_errors

if TYPE_CHECKING:
    from ocpp_core.api_client import ServerApi

F = TypeVar("F", bound=Callable[..., Any])

# A charger has the server's command timeout to answer; the server then needs a moment more.
_ANSWER_MARGIN_SECONDS = 15.0
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 -- read, not bound
_SHIFT = re.compile(r"^([+-])(\d{1,6})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def url_option(command: F) -> F:
    """``--url``: which server to drive (each command that talks to one takes it)."""
    return click.option(
        "--url",
        metavar="URL",
        callback=_checked_url,
        help="The server's address (default http://HOST:PORT of the settings' server).",
    )(command)


def _checked_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter("give the server's address as http://HOST:PORT")
    return value


def default_url(host: str, port: int) -> str:
    """Where ``ocpp-core server`` listens by the same settings; a wildcard address is
    reached on the loopback."""
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def server_api(ctx: click.Context, url: str | None) -> Iterator[ServerApi]:
    """The server's API with the settings' key; any failure ends the command in one line."""
    from ocpp_core.api_client import ApiFailure, ServerApi

    settings = cli_settings(ctx)
    key = settings.api_key.get_secret_value()
    if not key:
        raise click.ClickException(
            "no API key: set OCPP_CORE_API_KEY (api_key in the config file) to the server's key"
        )
    address = url or default_url(settings.host, settings.port)
    seconds = settings.ocpp.command_timeout + _ANSWER_MARGIN_SECONDS
    with user_errors(ApiFailure), ServerApi(address, key, answer_seconds=seconds) as api:
        yield api


def segment(value: str | int) -> str:
    """A charge point id (or any value) as one path segment of a URL."""
    return quote(str(value), safe="")


class Moment(click.ParamType[datetime]):
    """A time: ISO 8601 (``2026-12-06T14:00:00Z``; without a zone, UTC), or from now:
    ``+90m``, ``+2h``, ``-1d`` (s, m, h, d)."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        shift = _SHIFT.match(text)
        if shift:
            sign, amount, unit = shift.groups()
            delta = timedelta(**{_UNITS[unit]: int(amount)})
            return datetime.now(UTC) + (delta if sign == "+" else -delta)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r}: give 2026-12-06T14:00:00Z, or +2h / -1d from now", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """A time as the API takes it (UTC, ``Z``)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def accepted(answer: dict[str, Any]) -> bool:
    """Whether the charger took the request (2.0.1 also says ``AcceptedCanceled``: it took
    this one, cancelling one in progress)."""
    return str(answer.get("status", "")).startswith("Accepted")


def said(answer: dict[str, Any]) -> str:
    """The charger's answer in words: its status, and why when it gave a reason."""
    why = [str(answer[name]) for name in ("error", "description") if answer.get(name)]
    return f"{answer['status']} ({': '.join(why)})" if why else str(answer["status"])


def finish(ok: bool) -> None:
    """Exit non-zero when the charger (or any charger of a run) did not accept."""
    if not ok:
        raise click.exceptions.Exit(1)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
    """Rows in aligned columns under their headers (``-`` where there is nothing)."""
    if not rows:
        click.echo(empty)
        return
    cells = [list(headers), *[["-" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
