"""A command line's client of the server's ``/API``: every failure as one line to show.

Commands to chargers go to the server, which holds their sockets (in a cluster any
node: the API routes a command to the node that holds the charger). Only commands
that talk to a server import this module, so httpx stays out of ``ocpp-core --help``.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

API_KEY_HEADER = "X-API-Key"  # the server's (api_auth), without importing the server's app
_CONNECT_SECONDS = 10.0


class ApiFailure(Exception):
    """What went wrong, in one line. ``fatal``: any further request would fail alike
    (the server unreachable, the key refused), so a loop over chargers stops."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class ServerApi:
    """Requests to one server's ``/API`` with the key; answers as parsed JSON."""

    def __init__(self, url: str, api_key: str, *, answer_seconds: float) -> None:
        self.url = url
        timeout = httpx.Timeout(answer_seconds, connect=_CONNECT_SECONDS)
        headers = {API_KEY_HEADER: api_key}
        self._client = httpx.Client(base_url=url, headers=headers, timeout=timeout)

    def __enter__(self) -> ServerApi:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._client.close()

    def get(self, path: str, **params: Any) -> Any:
        query = {name: value for name, value in params.items() if value is not None}
        return self._json(self._request("GET", path, params=query))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._json(self._request("POST", path, json=body))

    def download(self, path: str, target: Callable[[str | None], Path]) -> tuple[Path, int]:
        """Stream a file to the path ``target`` picks, given the server's name for it
        (None: it gave none); the path and the bytes written. A cut-off file is removed."""
        try:
            with self._client.stream("GET", path) as response:
                self._check(response, read=True)
                out = target(_file_name(response.headers.get("content-disposition")))
                return out, _save(response, out)
        except httpx.HTTPError as error:
            raise self._unreachable(error) from None

    def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **options)
        except httpx.HTTPError as error:
            raise self._unreachable(error) from None
        self._check(response)
        return response

    def _check(self, response: httpx.Response, *, read: bool = False) -> None:
        if response.is_success:
            return
        if read:
            response.read()
        if response.status_code == 401:
            raise ApiFailure(
                f"the server at {self.url} refused the API key (401): set OCPP_CORE_API_KEY "
                "(api_key in the config file) to the server's key",
                fatal=True,
            )
        raise ApiFailure(_error_line(response))

    def _unreachable(self, error: httpx.HTTPError) -> ApiFailure:
        if isinstance(error, httpx.TimeoutException) and not isinstance(
            error, httpx.ConnectTimeout
        ):
            return ApiFailure(f"the server at {self.url} did not answer in time")
        return ApiFailure(
            f"cannot reach the server at {self.url} ({error or type(error).__name__}): "
            "is `ocpp-core server` running there? Give its address with --url",
            fatal=True,
        )

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ApiFailure(
                f"the server at {self.url} answered no JSON: is it ocpp-core?"
            ) from None


def _error_line(response: httpx.Response) -> str:
    """The API's own words (``{"status": ..., "error": ...}``) on one line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "status" not in body:
        return f"{response.status_code} {response.reason_phrase}"
    details = {name: value for name, value in body.items() if name != "status"}
    error = details.pop("error", None)
    said = [str(error)] if error else []
    said += [f"{name} {value}" for name, value in details.items() if not isinstance(value, dict)]
    words = f": {'; '.join(said)}" if said else ""
    return " ".join(f"{response.status_code} {body['status']}{words}".split())


def _file_name(disposition: str | None) -> str | None:
    """The file name the server offers, as a bare name (never a path it could steer)."""
    if not disposition:
        return None
    header = Message()
    header["content-disposition"] = disposition
    name = Path(header.get_filename() or "").name
    return name if name not in ("", ".", "..") else None


def _save(response: httpx.Response, out: Path) -> int:
    written = 0
    try:
        with out.open("wb") as file:
            for chunk in response.iter_bytes():
                written += file.write(chunk)
    except httpx.HTTPError:
        out.unlink(missing_ok=True)
        raise
    except OSError as error:
        out.unlink(missing_ok=True)
        raise ApiFailure(f"cannot write {out}: {error.strerror or error}") from None
    return written
