"""The Stripe simulator as the tests see it: paying, inspecting money, injecting faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import stripe
import uvicorn
from pydantic import SecretStr

from ocpp_core.config import StripeSettings
from ocpp_core.simulators.stripe.app import create_stripe_simulator
from ocpp_core.simulators.stripe.settings import StripeSimulatorSettings
from ocpp_core.tls_trust import trusted
from servers import PATIENCE, listening_socket, serving

STRIPE_KEY = "sk_test_ocpp_core_tests_0123456789"
WEBHOOK_SECRET = "whsec_ocpp_core_tests"
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
# The paid flow's Stripe timeout in tests. Tests delay calls by a second to widen a race;
# at 2 s, such a call timed out on a machine running at half speed.
GATEWAY_TIMEOUT = 4.0
PAST_TIMEOUT = GATEWAY_TIMEOUT + 0.5  # a delay the gateway gives up on; Stripe still runs it


@dataclass
class StripeSim:
    url: str
    client: stripe.StripeClient
    web: httpx.AsyncClient

    def settings(self, return_base_url: str = "http://127.0.0.1:9") -> StripeSettings:
        """The server's Stripe settings for this simulator, as every paying test uses them."""
        return StripeSettings(
            enabled=True,
            api_key=SecretStr(STRIPE_KEY),
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            return_base_url=return_base_url,
            api_base=self.url,
            timeout=GATEWAY_TIMEOUT,
        )

    async def pay(self, checkout_url: str, card: str = CARD_OK) -> httpx.Response:
        """What the driver does on the hosted page."""
        return await self.web.post(checkout_url, data={"card_number": card, "action": "pay"})

    async def intent_of(self, session_id: str) -> stripe.PaymentIntent:
        session = await self.client.v1.checkout.sessions.retrieve_async(session_id)
        assert isinstance(session.payment_intent, str), "the session was never paid"
        return await self.client.v1.payment_intents.retrieve_async(session.payment_intent)

    async def fault(
        self, method: str, path: str, kind: str = "error", count: int = 1, seconds: float = 0
    ) -> None:
        body = {"method": method, "path": path, "kind": kind, "count": count, "seconds": seconds}
        (await self.web.post("/_sim/faults", json=body)).raise_for_status()

    async def calls(self, path: str = "") -> list[dict[str, Any]]:
        """The ``/v1`` calls received so far whose path starts with ``path``."""
        response = await self.web.get("/_sim/calls", params={"path": path})
        calls: list[dict[str, Any]] = response.raise_for_status().json()["calls"]
        return calls

    async def deliveries(self) -> list[dict[str, Any]]:
        deliveries: list[dict[str, Any]] = (await self.web.get("/_sim/deliveries")).json()[
            "deliveries"
        ]
        return deliveries


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5) -> None:
    """Wait until ``check`` holds (webhooks and spawned work are asynchronous)."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 -- the state lives in a database
            await asyncio.sleep(0.02)


@asynccontextmanager
async def running_stripe_sim(webhook_url: str) -> AsyncIterator[StripeSim]:
    """The simulator on a free port, its signed webhooks going to ``webhook_url``."""
    sock, url = listening_socket()
    app = create_stripe_simulator(
        StripeSimulatorSettings(
            public_base_url=url,
            webhook_url=webhook_url,
            webhook_secret=WEBHOOK_SECRET,
            retry_delays=(0.2, 0.5, 1.0),
        )
    )
    http = stripe.HTTPXClient(timeout=10)
    client = stripe.StripeClient(
        STRIPE_KEY, base_addresses={"api": url}, http_client=http, max_network_retries=0
    )
    async with (
        serving(uvicorn.Config(app, log_level="warning"), sock),
        httpx.AsyncClient(base_url=url, verify=trusted(), timeout=PATIENCE) as web,
    ):
        yield StripeSim(url, client, web)
    await http.close_async()  # type: ignore[no-untyped-call]
