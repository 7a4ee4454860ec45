"""Languages: the Babel catalogues, and which one a request is answered in.

The ``.po`` files are the committed source; they are compiled in memory once per
process rather than shipping ``.mo`` files that could drift from them. Requests
interleave on one event loop, so the language is a context variable set per
request by :class:`LanguageMiddleware`, never a global: each request runs in its
own task, which has its own copy of the context.

Module-level messages are marked with :func:`N_` and translated where they are
used, because they are built at import time, before any request has a language.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpp_core.management.page_path import page_path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"
# German covers every page; drivers, often travelling, get a few more languages.
OPERATOR_LANGUAGES = ("en", "de")
DRIVER_LANGUAGES = ("en", "de", "fr", "nl", "es")
# The driver pages' URLs (public.py), so their error pages speak the driver's language too.
DRIVER_PATHS = ("/cp/", "/Public/", "/Payments/")
NAMES = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "nl": "Nederlands",
    "es": "Español",
}
COOKIE = "lang"
QUERY = "lang"
COOKIE_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class PageLanguage:
    """The language a page is shown in, and the ones it could be shown in."""

    code: str
    offered: tuple[str, ...]


_current: ContextVar[PageLanguage] = ContextVar(
    "ocpp_core_page_language",
    default=PageLanguage(SOURCE_LANGUAGE, OPERATOR_LANGUAGES),  # noqa: B039 -- frozen
)


# --- the catalogues ---------------------------------------------------------------------


@cache
def catalogue(code: str) -> stdlib_gettext.NullTranslations:
    """The compiled catalogue of a language; English, the source, needs none."""
    path = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if code == SOURCE_LANGUAGE or not path.is_file():
        return stdlib_gettext.NullTranslations()
    with path.open("rb") as po:
        messages = read_po(po, locale=code, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, messages)  # fuzzy entries are left out: English until reviewed
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def load_all() -> None:
    """Compile every catalogue now, at start-up, so a broken one fails the start, not a page."""
    for code in DRIVER_LANGUAGES:
        catalogue(code)


def current() -> PageLanguage:
    return _current.get()


def translate(message: str) -> str:
    """The message in the request's language (itself where it has no translation)."""
    return catalogue(_current.get().code).gettext(message)


def translate_plural(singular: str, plural: str, n: int) -> str:
    return catalogue(_current.get().code).ngettext(singular, plural, n)


def gettext(message: str, **values: object) -> str:
    """Translated, then filled in: ``gettext("Tag %(id)s saved.", id=tag)``, as templates do."""
    text = translate(message)
    return text % values if values else text


def N_(message: str) -> str:  # noqa: N802 -- the name gettext tools look for
    """Marks a message for extraction only; it is translated where it is used."""
    return message


# --- choosing the language ----------------------------------------------------------------


def offered_at(path: str) -> tuple[str, ...]:
    return DRIVER_LANGUAGES if path.startswith(DRIVER_PATHS) else OPERATOR_LANGUAGES


def choose(
    offered: tuple[str, ...],
    *,
    asked: str | None,
    remembered: str | None,
    accept_language: str | None,
) -> str:
    """The link's choice, then the remembered one, then the browser's preference, then English."""
    for explicit in (asked, remembered):
        if explicit in offered:
            return explicit
    return negotiate(accept_language or "", offered)


def negotiate(accept_language: str, offered: Iterable[str]) -> str:
    """The first offered language in the ``Accept-Language`` header, by quality then order."""
    available = set(offered)
    for tag in preferred(accept_language):
        language = tag.split("-")[0]
        if language in available:
            return language
    return SOURCE_LANGUAGE


def preferred(accept_language: str) -> list[str]:
    """The header's language tags, lower-cased, best first; ``q=0`` means "not this one"."""
    weighted: list[tuple[float, str]] = []
    for item in accept_language.split(",")[:32]:  # a browser sends a handful
        tag, _, parameters = item.partition(";")
        tag = tag.strip().lower()
        quality = _quality(parameters)
        if tag and quality > 0:
            weighted.append((quality, tag))
    weighted.sort(key=lambda pair: -pair[0])  # stable: equal qualities keep their order
    return [tag for _, tag in weighted]


def _quality(parameters: str) -> float:
    name, _, value = parameters.strip().partition("=")
    if name.strip().lower() != "q":
        return 1.0
    try:
        quality = float(value)
    except ValueError:
        return 0.0
    return quality if 0.0 <= quality <= 1.0 else 0.0


def switch_links(request: Request) -> list[tuple[str, str, str | None]]:
    """``(code, name, link)`` for the page's language switcher; no link for the current one.

    The link is the page's route with its parameters and query, never the raw
    request path (see ``page_path``). A posted page has no URL to come back to,
    and a path no route took is no page: neither offers links.
    """
    path = page_path(request) if request.method in ("GET", "HEAD") else None
    if path is None:
        return []
    page = current()
    query = [(key, value) for key, value in request.query_params.multi_items() if key != QUERY]
    links: list[tuple[str, str, str | None]] = []
    for code in page.offered:
        link = None if code == page.code else f"{path}?{urlencode([*query, (QUERY, code)])}"
        links.append((code, NAMES[code], link))
    return links


class LanguageMiddleware:
    """Sets the request's language; a ``?lang=`` link also remembers it in a cookie."""

    def __init__(self, app: ASGIApp, *, secure_cookie: bool) -> None:
        self.app = app
        self.secure_cookie = secure_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        asked = connection.query_params.get(QUERY)
        offered = offered_at(connection.url.path)
        code = choose(
            offered,
            asked=asked,
            remembered=connection.cookies.get(COOKIE),
            accept_language=connection.headers.get("accept-language"),
        )
        token = _current.set(PageLanguage(code, offered))
        try:
            if asked is not None and asked in NAMES:
                send = self._remembering(asked, send)
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)

    def _remembering(self, code: str, send: Send) -> Send:
        cookie = f"{COOKIE}={code}; Max-Age={COOKIE_SECONDS}; Path=/; SameSite=Lax"
        if self.secure_cookie:
            cookie += "; Secure"

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("Set-Cookie", cookie)
            await send(message)

        return with_cookie
