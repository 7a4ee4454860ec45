"""The one trust store every HTTPS client of the process verifies servers against."""

import ssl

from ocpp_core.tls_trust import trusted


def test_the_trust_store_is_built_once_and_verifies_servers() -> None:
    context = trusted()

    assert trusted() is context
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 100  # certifi's bundle, loaded
