"""Signed webhook delivery with retries, recorded so tests can see every attempt."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import asdict, dataclass

import httpx

from ocpp_core.tls_trust import trusted

from .models import Event
from .settings import StripeSimulatorSettings

logger = logging.getLogger(__name__)


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    """Stripe's ``Stripe-Signature``: HMAC-SHA256 of ``"{t}.{payload}"`` under the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass(frozen=True, kw_only=True)
class DeliveryAttempt:
    event_id: str
    event_type: str
    attempt: int
    status_code: int | None
    error: str | None
    at: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"delivered": self.delivered}


class WebhookDispatcher:
    """Posts each event in a background task and retries it on failure.

    First attempts for one object go out in the order the events were created
    (a receiver then rarely sees ``completed`` before ``created``); retries run
    independently, so one failing event never holds back the rest. Stripe
    promises no order at all, so receivers must cope either way.
    """

    def __init__(self, settings: StripeSimulatorSettings) -> None:
        if settings.webhook_url is None or settings.webhook_secret is None:
            raise ValueError("webhooks need webhook_url and webhook_secret")
        self._url = settings.webhook_url
        self._secret = settings.webhook_secret
        self._retry_delays = settings.retry_delays
        self._client = httpx.AsyncClient(timeout=settings.webhook_timeout, verify=trusted())
        self._tasks: set[asyncio.Task[None]] = set()
        self._tails: dict[str, asyncio.Event] = {}
        self.attempts: list[DeliveryAttempt] = []

    def enqueue(self, event: Event) -> None:
        previous = self._tails.get(event.object_id)
        first_done = self._tails[event.object_id] = asyncio.Event()
        task = asyncio.create_task(self._deliver(event, previous, first_done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    async def _deliver(
        self, event: Event, previous: asyncio.Event | None, first_done: asyncio.Event
    ) -> None:
        try:
            if previous is not None:
                await previous.wait()
            delivered = await self._attempt(event, 1)
        finally:
            first_done.set()
            if self._tails.get(event.object_id) is first_done:
                del self._tails[event.object_id]
        for attempt, delay in enumerate(self._retry_delays, start=2):
            if delivered:
                return
            await asyncio.sleep(delay)
            delivered = await self._attempt(event, attempt)
        if not delivered:
            logger.warning("webhook %s (%s) given up after retries", event.id, event.type)

    async def _attempt(self, event: Event, attempt: int) -> bool:
        payload = json.dumps(event.to_dict(), indent=2)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": signature_header(payload, self._secret, int(time.time())),
        }
        status: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(self._url, content=payload, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        record = DeliveryAttempt(
            event_id=event.id,
            event_type=event.type,
            attempt=attempt,
            status_code=status,
            error=error,
            at=time.time(),
        )
        self.attempts.append(record)
        return record.delivered
