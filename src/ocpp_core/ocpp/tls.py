"""The websocket protocol uvicorn runs for the server, with three additions.

1. The charger's TLS client certificate (OCPP security profile 3): uvicorn verifies
   the chain during the handshake but does not put the certificate into the ASGI
   scope; this protocol adds it as the ASGI TLS extension's ``client_cert_chain``,
   which the admission check then pins.
2. A refused upgrade (400/401/412 before the handshake) is a finished request:
   uvicorn's sans-I/O protocol otherwise logs every refusal as an ASGI error.
3. A request websockets itself refuses (a header line over 8 KiB, too many
   headers) gets the 431 websockets prepared: uvicorn never sends it, and the
   client would wait for an answer until it gave up.
4. Keep-alive pings are spread out: chargers that connected together (after a
   restart, 10,000 within seconds) would otherwise be pinged together, every
   interval, for ever. The first ping comes at a random point of the first
   interval, and every later one within 10 % of the interval.
"""

from __future__ import annotations

import random
import ssl

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

_JITTER = 0.1


class ClientCertWebSocketProtocol(WebSocketsSansIOProtocol):
    def start_keepalive(self) -> None:
        if self.ping_interval is not None and self.ping_interval > 0:
            delay = random.uniform(0.1, 1.0) * self.ping_interval
            self.ping_timer = self.loop.call_later(delay, self.send_keepalive_ping)

    def schedule_ping(self) -> None:
        assert self.ping_interval is not None
        spread = random.uniform(1 - _JITTER, 1 + _JITTER)
        delay = max(0.0, self.ping_interval * spread - self.last_ping_rtt)
        self.ping_timer = self.loop.call_later(delay, self.send_keepalive_ping)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()

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
