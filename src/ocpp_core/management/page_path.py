"""The path of the page being answered, rebuilt from the route that matched it.

Links back to the same page (the language switcher's) are made from this, never
from the raw request path: ``GET //evil.example/x`` must not become a link to
another site, and a path only reaches a page through a route anyway.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.convertors import PathConvertor
from starlette.requests import Request


def page_path(request: Request) -> str | None:
    """The matched route's path with this request's path parameters; None without a route."""
    route = request.scope.get("route")
    template = _template(request, route)
    if not isinstance(route, APIRoute) or template is None:
        return None
    for name, value in request.path_params.items():
        convertor = route.param_convertors[name]
        safe = "/" if isinstance(convertor, PathConvertor) else ""
        template = template.replace(f"{{{name}}}", quote(convertor.to_string(value), safe=safe))
    # A parameter can't lead the path in our routes, but a link must never read as //host.
    return "/" + template.lstrip("/")


def _template(request: Request, route: object) -> str | None:
    """The route's path as the app serves it, prefixes of included routers and all."""
    for context in iter_route_contexts(request.app.routes):
        if context.original_route is route:
            return context.path_format
    return None
