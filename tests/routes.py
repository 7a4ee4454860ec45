"""Every integer a route of an app takes from its path or query string, found by walking it."""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import quote, urlencode

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

_PLACEHOLDER = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class IntParam:
    method: str
    path: str  # the route's template, e.g. /Home/Connector/{cp_id}/{conn:int}
    name: str
    in_path: bool
    query: tuple[str, ...]  # every query parameter of the route
    body: bool = False  # the route also takes a JSON body

    def url(self, value: str, path: dict[str, str], query: dict[str, str]) -> str:
        """The route with ``value`` for this integer, and for its other parts the values
        given (path parts not given are 1; query parameters not given are left out)."""

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            return quote(value if name == self.name else path.get(name, "1"), safe="")

        query = {name: query[name] for name in self.query if name in query}
        if not self.in_path:
            query[self.name] = value
        url = _PLACEHOLDER.sub(fill, self.path)
        return f"{url}?{urlencode(query)}" if query else url


def int_params(app: FastAPI) -> list[IntParam]:
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None:
            continue
        parameters = _parameters(route.dependant)
        query = tuple(field.alias for field, in_path in parameters if not in_path)
        body = bool(route.dependant.body_params)
        for field, in_path in parameters:
            if _is_int(field.field_info.annotation):
                for method in sorted((route.methods or set()) - {"HEAD"}):
                    found.append(IntParam(method, context.path, field.alias, in_path, query, body))
    return found


def _parameters(dependant: Dependant) -> list[tuple[Any, bool]]:
    own = [(p, True) for p in dependant.path_params] + [(p, False) for p in dependant.query_params]
    return own + [item for sub in dependant.dependencies for item in _parameters(sub)]


def _is_int(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_int(arg) for arg in get_args(annotation))
    if get_origin(annotation) is Annotated:
        return _is_int(get_args(annotation)[0])
    return annotation is int
