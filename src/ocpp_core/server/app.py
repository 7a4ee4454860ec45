"""``create_server_app(settings)``: the OCPP endpoint, the ``/API`` routes and ``/metrics``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from ocpp_core.body_limit import BodyLimit
from ocpp_core.clock import Clock, utc_now
from ocpp_core.config import ConfigError, HttpSettings, OcppSettings, Settings
from ocpp_core.db.lookup import BatchedLookup
from ocpp_core.db.migrate import bring_up_to_date
from ocpp_core.db.models import ChargePoint
from ocpp_core.db.session import Database
from ocpp_core.domain import chargepoints, local_lists, reservations, retention
from ocpp_core.domain.events import Event
from ocpp_core.domain.messagelog import MessageLog
from ocpp_core.domain.presence import Presence
from ocpp_core.logs import hide_secrets
from ocpp_core.metrics import Metrics
from ocpp_core.ocpp import v16, v201
from ocpp_core.ocpp.adapter import ProtocolAdapter
from ocpp_core.ocpp.endpoint import Endpoint, ocpp_endpoint
from ocpp_core.ocpp.journal import CommandJournal
from ocpp_core.ocpp.registry import ConnectionRegistry
from ocpp_core.ocpp.router import CommandRouter, Encoder, LocalCommandRouter
from ocpp_core.payments import lifecycle, sweeps
from ocpp_core.payments.context import PaymentContext
from ocpp_core.payments.gateway import StripeGateway
from ocpp_core.runtime import Runtime
from ocpp_core.server import (
    api_commands,
    api_firmware,
    api_local_lists,
    api_payments,
    api_profiles,
    api_reservations,
    api_status,
    api_tags,
    api_transactions,
    health,
    node_server,
    uploads,
)
from ocpp_core.server.api_auth import ApiKeyGate, fallback, install_error_handler
from ocpp_core.server.api_payments import WEBHOOK_PATHS
from ocpp_core.shared_routes import add_routes

logger = logging.getLogger(__name__)

ADAPTERS: dict[str, ProtocolAdapter] = {
    adapter.subprotocol: adapter for adapter in (v16.ADAPTER, v201.ADAPTER, v201.ADAPTER_21)
}


def _encoder(adapter: ProtocolAdapter, settings: OcppSettings) -> Encoder:
    return lambda command: adapter.encode(command, settings)


def build_runtime(settings: Settings, clock: Clock = utc_now) -> Runtime:
    db = Database(settings.database_url, one_at_a_time=True, limits=settings.database)
    registry = ConnectionRegistry()
    ocpp = settings.ocpp
    message_log = MessageLog(db, ocpp.message_log_level, max_bytes=ocpp.message_log_max_bytes)
    metrics = Metrics()
    local = LocalCommandRouter(
        registry,
        {name: _encoder(adapter, ocpp) for name, adapter in ADAPTERS.items()},
        {name: adapter.status_of for name, adapter in ADAPTERS.items()},
        ocpp.command_timeout,
        CommandJournal(message_log, metrics),
        clock,
    )
    presence = Presence(db, clock=clock)
    router: CommandRouter = local
    node = None
    if settings.cluster.enabled:
        # Imported here: a single process never loads Redis's client.
        from ocpp_core.cluster.node import ClusterNode
        from ocpp_core.cluster.router import ClusterCommandRouter

        node = ClusterNode(settings.cluster, registry, local, presence, ocpp.command_timeout)
        router = ClusterCommandRouter(registry, local, node)

    async def find_charge_points(ids: list[str]) -> dict[str, ChargePoint]:
        async with db.reading() as session:
            return await chargepoints.find_many(session, ids)

    return Runtime(
        settings,
        db,
        registry,
        router,
        message_log,
        presence,
        BatchedLookup(find_charge_points),
        metrics,
        clock,
        cluster=node,
    )


def build_payments(runtime: Runtime) -> PaymentContext:
    stripe = runtime.settings.stripe
    payments = PaymentContext(runtime, StripeGateway(stripe) if stripe.enabled else None)

    async def follow(event: Event) -> None:
        await lifecycle.on_event(payments, event)

    runtime.events.subscribe(follow)
    return payments


class ServerApp(FastAPI):
    """The API, with the OCPP websockets and the Stripe webhook taken straight to their apps.

    FastAPI's stack (error middleware, routing, dependency solving) cost a sixth
    of a charger's connection and wrapped every frame sent; the OCPP endpoint
    answers its own errors and needs none of it. Neither does the webhook (see
    :class:`api_payments.Webhook`), which keeps only its body limit.
    """

    def __init__(self, ocpp: Endpoint, webhook: ASGIApp, uploads: ASGIApp, **options: Any) -> None:
        super().__init__(**options)
        self._ocpp = ocpp
        self._webhook = webhook
        self._uploads = uploads  # chargers' log uploads: their own body limit, no API key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"].startswith("/OCPP/"):
            await self._ocpp(WebSocket(scope, receive, send))
            return
        if scope["type"] == "http" and scope["path"] in WEBHOOK_PATHS:
            await self._webhook(scope, receive, send)
            return
        if uploads.is_upload(scope):
            await self._uploads(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_server_app(settings: Settings, clock: Clock = utc_now) -> FastAPI:
    settings.require_api_key()
    if problem := settings.stripe.problem():
        raise ConfigError(problem)
    hide_secrets()
    runtime = build_runtime(settings, clock)
    payments = build_payments(runtime)

    joined = False

    async def join() -> None:
        """What may refuse the start: migrations, the cluster's node id. Once, whoever is first:
        ``NodeServer`` calls it before uvicorn's start-up, so a refusal is one line."""
        nonlocal joined
        if joined:
            return
        joined = True
        if settings.migrate_on_start:
            await bring_up_to_date(runtime.db, settings.database_url)
        runtime.presence.start()
        if runtime.cluster is not None:
            await runtime.cluster.start()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await join()
        background = [
            asyncio.create_task(sweeps.run_forever(payments), name="payment-sweeps"),
            asyncio.create_task(
                retention.run_forever(runtime.db, settings.ocpp.message_log_retention_days, clock),
                name="message-log-retention",
            ),
            asyncio.create_task(
                reservations.run_forever(runtime.db, lambda: runtime.clock()),
                name="reservation-expiry",
            ),
            asyncio.create_task(
                local_lists.run_forever(
                    api_local_lists.lists_of(runtime), settings.ocpp.local_list_sync_interval
                ),
                name="local-lists",
            ),
        ]
        app.state.accepting = True
        try:
            yield
        finally:
            app.state.accepting = False
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await _shut_down(runtime, payments)

    app = ServerApp(
        ocpp_endpoint(runtime, ADAPTERS),
        _webhook(payments, settings.http),
        uploads.Uploads(runtime),
        title="ocpp-core server API",
        summary="Commands to chargers, their live status and transactions.",
        lifespan=lifespan,
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema is enough
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.payments = payments
    app.state.join = join
    app.add_api_route("/OCPP/{path:path}", _not_a_websocket, include_in_schema=False)
    app.add_api_route("/metrics", _metrics, include_in_schema=False)
    app.add_api_route("/health", health.health, include_in_schema=False)
    add_routes(
        app,
        api_status.router,
        api_commands.router,
        api_transactions.router,
        api_payments.router,
        api_firmware.router,
        api_profiles.router,
        api_reservations.router,
        api_tags.router,
        api_local_lists.router,
        fallback,
    )
    install_error_handler(app)
    _guard_requests(app, settings)
    return app


def _guard_requests(app: FastAPI, settings: Settings) -> None:
    """The key first, then the body's size; both before a route reads a byte of the body.

    Only API requests pass here: the OCPP websockets and the Stripe webhook are taken
    before this stack.
    """
    limit = settings.http.api_max_body
    app.add_middleware(BodyLimit, limit_for=lambda _: limit, too_large=_too_large)
    app.add_middleware(ApiKeyGate, api_key=settings.api_key.get_secret_value())


def _webhook(payments: PaymentContext, http: HttpSettings) -> ASGIApp:
    webhook = api_payments.Webhook(payments)
    limit = http.webhook_max_body
    return BodyLimit(webhook, limit_for=lambda _: limit, too_large=_too_large)


async def _too_large(request: Request, limit: int) -> Response:
    error = f"request body over {limit} bytes"
    return JSONResponse({"status": "PayloadTooLarge", "error": error}, status_code=413)


async def _not_a_websocket() -> Response:
    return PlainTextResponse("OCPP endpoint: connect with a websocket\n", status_code=400)


async def _metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def _shut_down(runtime: Runtime, payments: PaymentContext) -> None:
    await node_server.close_chargers(runtime)  # any left: served by plain uvicorn (tests)
    await payments.drain()
    if runtime.cluster is not None:  # after the sockets: their entries go first, one by one
        await runtime.cluster.stop()
    if payments.gateway is not None:
        await payments.gateway.close()
    await runtime.message_log.close()
    await runtime.presence.close()
    await runtime.db.close()
