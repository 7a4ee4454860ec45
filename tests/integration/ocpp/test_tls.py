"""OCPP security profile 3: chargers authenticated by a pinned TLS client certificate.

A throw-away CA, a server certificate for 127.0.0.1 and charger certificates are
made with ``cryptography`` per test; the server is the real uvicorn with TLS.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import update
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.typing import Subprotocol

from builders import PASSWORD, add_charge_point
from ocpp_core.config import Settings, TlsSettings
from ocpp_core.db.models import ChargePoint
from ocpp_core.ocpp.auth import thumbprint
from ocpp_core.server.app import create_server_app
from ocpp_core.server.run import uvicorn_config
from servers import RunningServer, basic_auth, listening_socket, serving

OCPP16 = [Subprotocol("ocpp1.6")]


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    der: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


class Authority:
    """A CA that writes PEM files into a folder."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.cert_file = folder / f"{name}-ca.pem"
        self.cert_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, *, server: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        cert_file = self.folder / f"{common_name}.pem"
        key_file = self.folder / f"{common_name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Issued(cert_file, key_file, cert.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class Pki:
    ca: Authority
    server: Issued
    cp1: Issued
    cp2: Issued
    stranger: Issued  # signed by another CA


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = Authority(tmp_path, "operator")
    other = Authority(tmp_path, "other")
    return Pki(
        ca,
        ca.issue("server", server=True),
        ca.issue("CP1"),
        ca.issue("CP2"),
        other.issue("CP1-forged"),
    )


def tls_settings(pki: Pki, *, require_client_cert: bool = False) -> TlsSettings:
    return TlsSettings(
        certfile=pki.server.cert,
        keyfile=pki.server.key,
        client_ca_file=pki.ca.cert_file,
        require_client_cert=require_client_cert,
    )


@pytest.fixture
def settings(settings: Settings, pki: Pki) -> Settings:
    return settings.model_copy(update={"tls": tls_settings(pki)})


def client_context(pki: Pki, cert: Issued | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca.cert_file)
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return context


def wss_url(port: int, charge_point_id: str = "CP1") -> str:
    return f"wss://127.0.0.1:{port}/OCPP/{charge_point_id}"


async def pin(server: RunningServer, charge_point_id: str, fingerprint: str) -> None:
    async with server.runtime.db.session() as session:
        await session.execute(
            update(ChargePoint)
            .where(ChargePoint.id == charge_point_id)
            .values(client_cert_thumbprint=fingerprint)
        )


async def heartbeat(
    url: str, context: ssl.SSLContext, headers: dict[str, str] | None = None
) -> None:
    async with connect(
        url, ssl=context, subprotocols=OCPP16, additional_headers=headers
    ) as websocket:
        await websocket.send(json.dumps([2, "hb", "Heartbeat", {}]))
        async with asyncio.timeout(5):
            answer = json.loads(await websocket.recv())
        assert answer[:2] == [3, "hb"]


async def refused_status(
    url: str, context: ssl.SSLContext, headers: dict[str, str] | None = None
) -> int:
    with pytest.raises(InvalidStatus) as refusal:
        async with connect(url, ssl=context, subprotocols=OCPP16, additional_headers=headers):
            pass
    assert refusal.value.response.headers["WWW-Authenticate"].startswith("Basic ")
    return refusal.value.response.status_code


def test_the_thumbprint_is_the_sha256_of_the_der_certificate(pki: Pki) -> None:
    pem = pki.cp1.cert.read_text()
    assert thumbprint(pem) == pki.cp1.sha256
    assert thumbprint(pem, 40) == hashlib.sha1(pki.cp1.der).hexdigest()  # noqa: S324


async def test_the_pinned_certificate_connects(server: RunningServer, pki: Pki) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await pin(server, "CP1", pki.cp1.sha256)
    await heartbeat(wss_url(server.port), client_context(pki, pki.cp1))
    await server.runtime.presence.flush()
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
    assert row is not None
    assert row.last_seen_at is not None


async def test_a_pin_in_upper_case_or_sha1_matches_too(server: RunningServer, pki: Pki) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    sha1 = hashlib.sha1(pki.cp1.der).hexdigest()  # noqa: S324
    for fingerprint in (
        pki.cp1.sha256.upper(),
        sha1,
        ":".join(sha1[i : i + 2] for i in range(0, 40, 2)).upper(),  # openssl -fingerprint
    ):
        await pin(server, "CP1", fingerprint)
        await heartbeat(wss_url(server.port), client_context(pki, pki.cp1))
    await pin(server, "CP1", sha1[:-1] + ("0" if sha1[-1] != "0" else "1"))
    assert await refused_status(wss_url(server.port), client_context(pki, pki.cp1)) == 401


async def test_another_certificate_of_the_same_ca_is_a_401(server: RunningServer, pki: Pki) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await add_charge_point(server.runtime.db, "CP2")
    await pin(server, "CP1", pki.cp1.sha256)
    await pin(server, "CP2", pki.cp2.sha256)
    assert await refused_status(wss_url(server.port), client_context(pki, pki.cp2)) == 401
    assert "CP1" not in server.runtime.registry


async def test_no_certificate_is_a_401(server: RunningServer, pki: Pki) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await pin(server, "CP1", pki.cp1.sha256)
    assert await refused_status(wss_url(server.port), client_context(pki, None)) == 401


async def test_a_certificate_from_another_ca_fails_the_tls_handshake(
    server: RunningServer, pki: Pki
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await pin(server, "CP1", pki.stranger.sha256)
    with pytest.raises((ssl.SSLError, ConnectionError, InvalidMessage)):
        await heartbeat(wss_url(server.port), client_context(pki, pki.stranger))
    assert "CP1" not in server.runtime.registry


async def test_password_and_certificate_are_both_required_when_both_are_set(
    server: RunningServer, pki: Pki
) -> None:
    await add_charge_point(server.runtime.db, "CP1", password=PASSWORD)
    await pin(server, "CP1", pki.cp1.sha256)
    url = wss_url(server.port)
    assert await refused_status(url, client_context(pki, pki.cp1)) == 401
    credentials = basic_auth("CP1", PASSWORD)
    assert await refused_status(url, client_context(pki, None), credentials) == 401
    await heartbeat(url, client_context(pki, pki.cp1), credentials)


async def test_a_charger_without_a_pin_needs_no_certificate(
    server: RunningServer, pki: Pki
) -> None:
    """Security profile 2: TLS for the server only, a password for the charger."""
    await add_charge_point(server.runtime.db, "CP1", password=PASSWORD)
    await heartbeat(wss_url(server.port), client_context(pki, None), basic_auth("CP1", PASSWORD))


async def test_a_required_client_certificate_is_enforced_in_the_handshake(
    settings: Settings, pki: Pki
) -> None:
    strict = settings.model_copy(update={"tls": tls_settings(pki, require_client_cert=True)})
    app = create_server_app(strict)
    sock, _ = listening_socket()
    async with serving(uvicorn_config(app, strict), sock):
        port = sock.getsockname()[1]
        await add_charge_point(app.state.runtime.db, "CP1")
        with pytest.raises((ssl.SSLError, ConnectionError, InvalidMessage)):
            await heartbeat(wss_url(port), client_context(pki, None))
        await heartbeat(wss_url(port), client_context(pki, pki.cp1))
