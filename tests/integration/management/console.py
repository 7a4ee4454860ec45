"""What a tab logs as errors: the page tests fail on any they did not expect."""

from __future__ import annotations

from playwright.async_api import ConsoleMessage, Page


class Console:
    """Errors a tab logs: a CSP violation, a script error, a failed request. Given ``site``,
    those of our own pages only: the Stripe simulator's page is not ours to fix."""

    def __init__(self, site: str | None = None) -> None:
        self.errors: list[str] = []
        self.expected: list[str] = []
        self._site = site

    def watch(self, page: Page) -> Console:
        page.on("console", self._logged)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return self

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(x in e for x in self.expected)]

    def _logged(self, message: ConsoleMessage) -> None:
        ours = self._site is None or message.location.get("url", "").startswith(self._site)
        if message.type == "error" and ours:
            self.errors.append(message.text)
