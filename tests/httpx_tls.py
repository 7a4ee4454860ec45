"""One default TLS context for every httpx client the tests make, instead of one per client.

httpx builds a fresh ``ssl.SSLContext`` and loads certifi's whole CA bundle into it
for each client with the default ``verify=True``: about 0.1 s on a busy machine,
which was the largest single cost of a short test's set-up (the ``server``
fixture, the management app's API client, every test's own client). The tests
speak plain HTTP on loopback, and an ``SSLContext`` may be shared by any number of
connections, so the default one is built once per process (once per value of
``SSL_CERT_FILE``/``SSL_CERT_DIR``, which httpx reads). A client given its own
``verify`` or ``cert`` still gets what httpx would have built.
"""

from __future__ import annotations

import functools
import os
import ssl

from httpx import _config
from httpx._transports import default as transports
from httpx._types import CertTypes


@functools.cache
def _default_context(
    trust_env: bool, cert_file: str | None, cert_dir: str | None
) -> ssl.SSLContext:
    """What httpx builds for ``verify=True`` with these settings (it reads them itself)."""
    return _config.create_ssl_context(trust_env=trust_env)


def _create_ssl_context(
    verify: ssl.SSLContext | str | bool = True,
    cert: CertTypes | None = None,
    trust_env: bool = True,
) -> ssl.SSLContext:
    if verify is True and cert is None:
        cert_file, cert_dir = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
        return _default_context(trust_env, cert_file, cert_dir)
    return _config.create_ssl_context(verify, cert, trust_env)


def share_default_context() -> None:
    """Make httpx's transports take the shared context (for this test process only)."""
    # The name the transports call it by, imported from _config; not a public attribute.
    transports.create_ssl_context = _create_ssl_context  # type: ignore[attr-defined]
