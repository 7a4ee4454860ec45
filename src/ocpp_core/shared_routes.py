"""Routers' routes added to an app as they were built, not included again.

FastAPI builds an ``APIRoute`` (its dependencies, their parameters' pydantic
adapters) when a router's decorator runs, at import. ``include_router`` (FastAPI
0.165, the version locked here) keeps a lazy copy per app instead, built again at
that app's first request that passes the router: for each process that makes one
app that is nothing, but each app built costs it again (every test's server: a
fifth of the CPU of the server tests). Our routers take no options at inclusion
(their prefix, tags and dependencies are their own, and none has events or a
lifespan), so the routes built at import serve every app as they are.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def add_routes(app: FastAPI, *routers: APIRouter) -> None:
    """After the app's own routes, in the routers' order, as ``include_router`` would."""
    for router in routers:
        app.router.routes.extend(router.routes)
