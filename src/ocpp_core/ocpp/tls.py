"""The websocket protocol uvicorn runs for the server, with two additions.

1. The charger's TLS client certificate (OCPP security profile 3): uvicorn verifies
   the chain during the handshake but does not put the certificate into the ASGI
   scope; this protocol adds it as the ASGI TLS extension's ``client_cert_chain``,
   which the admission check then pins.
2. A refused upgrade (400/401/412 before the handshake) is a finished request:
   uvicorn's sans-I/O protocol otherwise logs every refusal as an ASGI error.
"""

from __future__ import annotations

import ssl

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class ClientCertWebSocketProtocol(WebSocketsSansIOProtocol):
    async def run_asgi(self) -> None:
        ssl_object = self.transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            extensions = self.scope.setdefault("extensions", {})
            assert extensions is not None
            extensions["tls"] = {
                "server_cert": None,
                "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)],
                "client_cert_name": None,
                "client_cert_error": None,
                "tls_version": None,
                "cipher_suite": None,
            }
        await super().run_asgi()

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True  # the denial response ends the handshake
