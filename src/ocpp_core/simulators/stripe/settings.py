"""How one Stripe simulator is reached and where it sends its webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field

# Six attempts spread over about half a minute: long enough to ride out a
# receiver restart in a demo, short enough that a test never waits on it.
DEFAULT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)


@dataclass(frozen=True, kw_only=True)
class StripeSimulatorSettings:
    """Settings of one simulator instance.

    ``public_base_url`` is where browsers reach the simulator: it prefixes the
    hosted checkout ``url`` of every session, so it must be the address the
    driver's browser can open, not necessarily the bind address.
    ``retry_delays`` are the waits before each webhook retry; their count is
    the number of retries after the first attempt.
    """

    public_base_url: str
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    webhook_timeout: float = 10.0
    sweep_interval: float = 1.0

    def __post_init__(self) -> None:
        if (self.webhook_url is None) != (self.webhook_secret is None):
            raise ValueError("webhook_url and webhook_secret go together")
        if not self.public_base_url.startswith(("http://", "https://")):
            raise ValueError("public_base_url must be an http(s) URL")
        if any(delay < 0 for delay in self.retry_delays):
            raise ValueError("retry delays cannot be negative")
        if self.webhook_timeout <= 0 or self.sweep_interval <= 0:
            raise ValueError("webhook_timeout and sweep_interval must be positive")

    @property
    def base_url(self) -> str:
        return self.public_base_url.rstrip("/")
