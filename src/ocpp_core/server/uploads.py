"""The HTTP endpoint chargers upload their diagnostics and logs to.

``PUT`` or ``POST`` to ``/diagnostics/upload/{token}`` (or ``.../{token}/{file name}``,
for chargers that add the file's name to the location): the body as it is, or a
multipart form whose ``file`` field (or first file) is the log, as many chargers send
it over HTTP. The token is checked before a byte of the body is read; the body
streams to a file of its own in ``diagnostics.directory`` and becomes the request's
file only once it arrived whole. Bigger than ``diagnostics.max_upload_bytes`` is a 413,
declared or counted as it streams in, and nothing of it is kept: the partial file is
gone before the answer goes out (so the limit is counted here, not by
:mod:`ocpp_core.body_limit`, which answers from inside the body's stream).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ocpp_core.domain import log_uploads
from ocpp_core.domain.log_uploads import UPLOAD_PATH, Refusal
from ocpp_core.runtime import Runtime

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# A file name is only shown (and offered to the operator's browser): anything else goes.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FIELD = b"file"
_UNNAMED = "upload"
_HEADER_KEPT = 1024


class BadUpload(Exception):
    """A multipart body without a file, or cut short."""


class TooLarge(Exception):
    """The body passed ``diagnostics.max_upload_bytes``."""


def is_upload(scope: Scope) -> bool:
    return scope["type"] == "http" and str(scope["path"]).startswith(UPLOAD_PATH)


def _too_large(limit: int) -> Response:
    return _answer(413, "PayloadTooLarge", f"an upload may have {limit} bytes at most")


def _answer(code: int, status: str, error: str | None = None) -> Response:
    body = {"status": status} if error is None else {"status": status, "error": error}
    # Refusals close the connection: the rest of the body is never read.
    headers = {"connection": "close"} if code >= 400 else None
    return JSONResponse(body, status_code=code, headers=headers)


def safe_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE.sub("_", base).strip("._")[: log_uploads.FILE_NAME_LENGTH] or _UNNAMED


class Uploads:
    """The endpoint as an ASGI app of its own: no API key (the token is the permission), and
    its own size limit instead of the API's."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.directory = runtime.settings.diagnostics.directory
        self.limit = runtime.settings.diagnostics.max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.receive(request)
        await response(scope, receive, send)

    async def receive(self, request: Request) -> Response:
        if request.method not in ("PUT", "POST"):
            return _answer(405, "MethodNotAllowed", "upload with PUT or POST")
        token, _, path_name = request.url.path.removeprefix(UPLOAD_PATH).partition("/")
        if not _TOKEN.match(token):
            return _answer(404, "NotFound")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            return _too_large(self.limit)
        async with self.runtime.db.reading() as session:
            target = await log_uploads.open_upload(session, token, now=self.runtime.clock())
        if isinstance(target, Refusal):
            return _answer(target.value, "NotFound" if target is Refusal.UNKNOWN else "Spent")
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        part = self.directory / f"{target}.{secrets.token_hex(8)}.part"
        try:
            return await self._keep(request, target, part, path_name)
        finally:
            await asyncio.to_thread(part.unlink, missing_ok=True)

    async def _keep(self, request: Request, upload_id: int, part: Path, path_name: str) -> Response:
        try:
            size, sent_name = await _store(request, part, self.limit)
        except TooLarge:
            return _too_large(self.limit)
        except ClientDisconnect:  # nobody left to answer
            return _answer(400, "Incomplete")
        except BadUpload as error:
            return _answer(400, "BadUpload", str(error))
        final = log_uploads.file_of(self.directory, upload_id)
        try:
            await asyncio.to_thread(os.link, part, final)  # fails if another upload got there
        except FileExistsError:
            return _answer(403, "Spent")
        name = safe_name(sent_name or path_name)
        done = False
        try:
            async with self.runtime.db.session() as session:
                done = await log_uploads.finish_upload(
                    session, upload_id, file_name=name, size=size, now=self.runtime.clock()
                )
        finally:
            if not done:
                await asyncio.to_thread(final.unlink, missing_ok=True)
        return _answer(200, "Uploaded") if done else _answer(403, "Spent")


async def _store(request: Request, part: Path, limit: int) -> tuple[int, str | None]:
    """Write the body's file to ``part``; its size and the name the form gave it, if any."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    body = _bounded(request.stream(), limit)
    handle = await asyncio.to_thread(part.open, "wb")
    try:
        if content_type == b"multipart/form-data" and b"boundary" in options:
            return await _from_form(body, options[b"boundary"], handle)
        return await _write(body, handle), None
    finally:
        await asyncio.to_thread(handle.close)


async def _bounded(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise TooLarge
        yield chunk


async def _write(chunks: AsyncIterator[bytes], handle: IO[bytes]) -> int:
    size = 0
    async for chunk in chunks:
        if chunk:
            await asyncio.to_thread(handle.write, chunk)
            size += len(chunk)
    return size


class _Form:
    """What the streaming parser found so far: the file's bytes of the last chunk fed."""

    def __init__(self) -> None:
        self.header_field = b""
        self.header_value = b""
        self.disposition: dict[bytes, bytes] = {}
        self.in_file = False
        self.found: bytes | None = None  # the file's name (b"" when it has none)
        self.done = False
        self.pending: list[bytes] = []

    def header_end(self) -> None:
        if self.header_field.lower() == b"content-disposition":
            self.disposition = parse_options_header(self.header_value)[1]
        self.header_field = self.header_value = b""

    def headers_finished(self) -> None:
        """The part is the log if it is the ``file`` field, or the first file of a form."""
        named = self.disposition.get(b"name") == _FIELD or b"filename" in self.disposition
        self.in_file = self.found is None and named
        if self.in_file:
            self.found = self.disposition.get(b"filename", b"")
        self.disposition = {}

    def data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.pending.append(data[start:end])

    def part_end(self) -> None:
        self.in_file = False

    def end(self) -> None:
        self.done = True


async def _from_form(
    chunks: AsyncIterator[bytes], boundary: bytes, handle: IO[bytes]
) -> tuple[int, str | None]:
    form = _Form()

    # A part's header may come in pieces; what is past any sane length is dropped.
    def field(data: bytes, start: int, end: int) -> None:
        form.header_field = (form.header_field + data[start:end])[:_HEADER_KEPT]

    def value(data: bytes, start: int, end: int) -> None:
        form.header_value = (form.header_value + data[start:end])[:_HEADER_KEPT]

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": field,
            "on_header_value": value,
            "on_header_end": form.header_end,
            "on_headers_finished": form.headers_finished,
            "on_part_data": form.data,
            "on_part_end": form.part_end,
            "on_end": form.end,
        },
    )
    size = 0
    async for chunk in chunks:
        try:
            parser.write(chunk)
        except MultipartParseError as error:
            raise BadUpload(f"not a multipart body: {error}") from None
        data, form.pending = b"".join(form.pending), []
        if data:
            await asyncio.to_thread(handle.write, data)
            size += len(data)
    if not form.done:
        raise BadUpload("the multipart body ended before its closing boundary")
    if form.found is None:
        raise BadUpload('the form has no "file" field')
    return size, form.found.decode("utf-8", "replace") or None
