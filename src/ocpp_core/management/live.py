"""Live fragments: the parts of a page that htmx polls, answered 204 while nothing changed.

A page embeds its fragment with the fragment's *version*, a hash of the values
shown; each poll sends that version back as ``v``. Comparing versions on the
server means an idle page costs the browser no repaint, loses no focus or
scroll position, and the screen reader's live region stays quiet. The connector
pages and the driver's status page poll this way; the dashboard, a page of many
tiles, goes further and is sent only the tiles that changed (see board.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from ocpp_core.management.templating import render

VERSION = "version"  # the key of the values that holds the fragment's version


def version_of(shown: object) -> str:
    """Changes whenever anything in ``shown`` does; its values must have a stable repr."""
    return hashlib.sha256(repr(shown).encode()).hexdigest()[:16]


def fragment(
    request: Request, template: str, values: Mapping[str, object], *, seen: str
) -> Response:
    """The fragment, or 204 No Content when ``seen`` is the version the browser shows."""
    if seen and seen == values[VERSION]:
        return Response(status_code=204)
    return render(request, template, values)
