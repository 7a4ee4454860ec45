"""Pages: Jinja2 templates with autoescaping, translations and fingerprinted static URLs."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ocpp_core.management import csrf, i18n

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"


@cache
def build_templates() -> Jinja2Templates:
    """Built once per process: nothing in it depends on an app's settings.

    The test suite builds hundreds of apps in one process, and compiling the
    templates again for each cost a management test about 60 ms of CPU.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the page, not renders empty
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The request's language is looked up at each call, so one environment serves them all.
    i18n.load_all()
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.translate, i18n.translate_plural, newstyle=True
    )
    env.globals["static"] = static_url
    env.globals["page_language"] = i18n.current
    env.globals["language_links"] = i18n.switch_links
    return Jinja2Templates(env=env)


def static_url(path: str) -> str:
    """The asset's URL with its content hash, so it can be cached for good."""
    return f"{STATIC_PREFIX}/{path}?v={_fingerprint(path)}"


@cache
def _fingerprint(path: str) -> str:
    return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:12]


class StaticAssets(StaticFiles):
    """Vendored assets; their URLs carry a content hash, so browsers keep them."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC)

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def render(
    request: Request,
    template: str,
    values: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page, with what every page needs: the user (if any) and the CSRF token."""
    templates: Jinja2Templates = request.app.state.management.templates
    context = {
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf.token(request.session),
        **(values or {}),
    }
    response: HTMLResponse = templates.TemplateResponse(
        request, template, context, status_code=status_code, headers=headers
    )
    return response
