"""The trust store HTTPS clients verify servers against, loaded once per process.

httpx loads certifi's CA bundle again for every client it builds: about 30 ms of CPU
(two AMD EPYC cores), paid by every operator action that calls the server's API through a
client of its own, and by every simulated firmware or log transfer. One context,
never changed once built, serves them all.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def trusted() -> ssl.SSLContext:
    """httpx's own default: certifi's bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` if set."""
    return httpx.create_ssl_context()
