"""Helpers for the operator page tests: posting forms with their page's CSRF token."""

from __future__ import annotations

import httpx

from integration.management.pages import csrf_token


async def post_form(
    client: httpx.AsyncClient, page_url: str, form: dict[str, str], action: str | None = None
) -> httpx.Response:
    """Post ``form`` with the CSRF token of the page it is on, as a browser would."""
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(action or page_url, data={"csrf_token": csrf_token(page.text), **form})


async def follow(client: httpx.AsyncClient, response: httpx.Response) -> str:
    """The page a post/redirect/get leads to (with its one-time message)."""
    assert response.status_code == 303, response.text
    return (await client.get(response.headers["location"])).text


def error_of(html: str, field: str) -> str:
    """The message shown next to a field (tied to it by aria-describedby)."""
    marker = f'id="f-{field}-error"'
    assert marker in html, f"no error next to {field}"
    start = html.index(">", html.index(marker)) + 1
    return html[start : html.index("</", start)]
