"""The simulator as one ASGI app: Stripe's ``/v1`` slice, the hosted page and ``/_sim``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from .api import StripeApi
from .controls import SimulatorControls
from .hosted import HostedCheckout
from .settings import StripeSimulatorSettings
from .state import StripeState
from .webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)


def create_stripe_simulator(settings: StripeSimulatorSettings) -> Starlette:
    """The app; its state is reachable as ``app.state.stripe`` for in-process tests."""
    dispatcher = WebhookDispatcher(settings) if settings.webhook_url else None
    state = StripeState(base_url=settings.base_url, webhooks_enabled=dispatcher is not None)
    if dispatcher is not None:
        state.subscribe(dispatcher.enqueue)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(_sweep(state, settings.sweep_interval))
        try:
            yield
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            if dispatcher is not None:
                await dispatcher.close()

    routes = [
        *StripeApi(state).routes(),
        *HostedCheckout(state).routes(),
        *SimulatorControls(state, dispatcher).routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.stripe = state
    return app


async def _sweep(state: StripeState, interval: float) -> None:
    """Expire sessions nobody reads, so ``checkout.session.expired`` is sent on time."""
    while True:
        await asyncio.sleep(interval)
        try:
            state.expire_due_sessions()
        except Exception:  # a bug here must not stop later sweeps
            logger.exception("checkout session sweep failed")
