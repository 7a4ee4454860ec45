"""The gateway's HTTP transport against a real socket that behaves as a server may.

Stripe (or the simulator) answers well; these servers also close connections,
answer nothing or break off, which only a server of our own can be made to do.
Each answers every request with the same PaymentIntent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import orjson
import pytest
import stripe
from pydantic import SecretStr

from ocpp_core.config import StripeSettings
from ocpp_core.payments.gateway import GatewayError, StripeGateway
from ocpp_core.payments.stripe_http import StreamsClient, http_client
from servers import free_port

INTENT = {
    "id": "pi_test_1",
    "object": "payment_intent",
    "status": "requires_capture",
    "amount": 5000,
    "amount_capturable": 5000,
    "amount_received": 0,
}
BODY = orjson.dumps(INTENT)
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRequest-Id: req_1\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.connections = 0

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.serve(reader, writer)
        finally:
            writer.close()


@asynccontextmanager
async def gateway_to(
    serve: Serve, timeout: float = 5
) -> AsyncIterator[tuple[StripeGateway, Server]]:
    server = Server(serve)
    listening = await asyncio.start_server(server.accept, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    settings = StripeSettings(
        enabled=True,
        api_key=SecretStr("sk_test_transport"),
        api_base=f"http://127.0.0.1:{port}",
        timeout=timeout,
    )
    gateway = StripeGateway(settings)
    try:
        yield gateway, server
    finally:
        await gateway.close()
        listening.close()
        await listening.wait_closed()


async def answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep-alive: every request on the connection answered, until the client closes it."""
    while await reader.readuntil(b"\r\n\r\n"):
        writer.write(ANSWER)
        await writer.drain()


async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One answer, then the connection closed, with no ``Connection: close`` said."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(ANSWER)
    await writer.drain()


async def close_unanswered(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await asyncio.sleep(10)


async def break_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(ANSWER[: len(ANSWER) - 10])  # the body cut short
    await writer.drain()


async def test_requests_one_after_another_share_one_connection() -> None:
    async with gateway_to(answer_each) as (gateway, server):
        for _ in range(3):
            held = await gateway.payment_intent("pi_test_1")
            assert (held.id, held.status, held.amount_capturable) == (
                "pi_test_1",
                "requires_capture",
                5000,
            )
        assert server.connections == 1


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async with gateway_to(answer_once) as (gateway, server):
        assert (await gateway.payment_intent("pi_test_1")).id == "pi_test_1"
        await asyncio.sleep(0.1)  # the server's close arrives while the connection idles
        assert (await gateway.payment_intent("pi_test_1")).id == "pi_test_1"
        assert server.connections == 2


async def test_a_kept_alive_connection_closed_as_it_is_reused_is_sent_on_a_new_one() -> None:
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One answer kept alive, then closed as the next request comes, unanswered.

        As a server whose idle timeout ends just as the client sends on the connection.
        """
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(ANSWER)
        await writer.drain()
        heads.append(await reader.readuntil(b"\r\n\r\n"))

    async with gateway_to(serve) as (gateway, server):
        await gateway.payment_intent("pi_test_1")
        captured = await gateway.capture("pi_test_1", 1000, "reservation-1")

    assert captured.id == "pi_test_1"
    assert server.connections == 2
    posts = [head for head in heads if head.startswith(b"POST")]
    key = b"idempotency-key:"
    keys = [line for post in posts for line in post.split(b"\r\n") if line.lower().startswith(key)]
    assert len(posts) == 2  # the capture, on the closed connection and on the new one
    first, second = keys
    assert first == second


async def test_a_kept_alive_connection_that_breaks_off_its_answer_is_not_sent_again() -> None:
    """Part of the answer came: the server took the request, so it is not sent twice."""
    posts = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal posts
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        posts += head.startswith(b"POST")
        writer.write(ANSWER[:20])

    async with gateway_to(serve) as (gateway, server):
        await gateway.payment_intent("pi_test_1")
        with pytest.raises(GatewayError) as failed:
            await gateway.capture("pi_test_1", 1000, "reservation-1")

    assert failed.value.transient
    assert (server.connections, posts) == (1, 1)


async def test_an_answer_that_says_close_is_read_and_its_connection_not_used_again() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Says ``Connection: close`` and leaves closing to the client."""
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(ANSWER.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
            await writer.drain()

    async with gateway_to(serve) as (gateway, server):
        for _ in range(2):
            assert (await gateway.payment_intent("pi_test_1")).id == "pi_test_1"

    assert server.connections == 2


async def test_an_informational_answer_before_the_answer_is_passed_over() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + ANSWER)
            await writer.drain()

    async with gateway_to(serve) as (gateway, server):
        for _ in range(2):
            held = await gateway.payment_intent("pi_test_1")
            assert (held.status, held.amount_capturable) == ("requires_capture", 5000)

    assert server.connections == 1


async def test_a_new_connection_closed_unanswered_is_not_sent_again() -> None:
    async with gateway_to(close_unanswered) as (gateway, server):
        with pytest.raises(GatewayError) as failed:
            await gateway.capture("pi_test_1", 1000, "reservation-1")

    assert failed.value.transient
    assert server.connections == 1


@pytest.mark.parametrize("serve", [never_answer, break_off])
async def test_an_answer_that_does_not_come_whole_is_a_transient_error(serve: Serve) -> None:
    async with gateway_to(serve, timeout=0.5) as (gateway, _):
        with pytest.raises(GatewayError) as failed:
            await gateway.capture("pi_test_1", 1000, "reservation-1")
        assert failed.value.transient
        assert isinstance(failed.value.__cause__, stripe.APIConnectionError)


async def test_nothing_listening_is_a_transient_error() -> None:
    settings = StripeSettings(
        api_key=SecretStr("sk_test_x"), api_base=f"http://127.0.0.1:{free_port()}"
    )
    refused = StripeGateway(settings)
    try:
        with pytest.raises(GatewayError) as failed:
            await refused.payment_intent("pi_test_1")
        assert failed.value.transient
    finally:
        await refused.close()


def test_behind_a_proxy_the_sdk_httpx_client_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert isinstance(http_client("https://api.stripe.com", 20), stripe.HTTPXClient)
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("https_proxy", raising=False)
    assert isinstance(http_client("https://api.stripe.com", 20), StreamsClient)
