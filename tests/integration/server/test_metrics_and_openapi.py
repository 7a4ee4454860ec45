"""``/metrics`` (Prometheus text) and ``/openapi.json`` (the API's own description)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from prometheus_client.parser import text_string_to_metric_families

from builders import add_charge_point
from servers import ConnectCharger, RunningServer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def metrics(server: RunningServer) -> Samples:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_connected_chargers_gauge(server: RunningServer, charger: ConnectCharger) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_charge_point(db, "CP2")
    assert value(await metrics(server), "ocpp_connected_chargers") == 0
    one = await charger("CP1")
    await charger("CP2")
    assert value(await metrics(server), "ocpp_connected_chargers") == 2
    await one.connection.websocket.close()
    # Nothing signals when the server has handled the disconnect, so poll.
    async with asyncio.timeout(5):
        while value(await metrics(server), "ocpp_connected_chargers") != 1:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_messages_are_counted_by_action_and_direction(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await cp.call(call.Heartbeat())
    await cp.call(call.Heartbeat())
    await cp.call(call.StatusNotification(1, "NoError", "Available"))
    assert (await server.api.get("/API/Reset/CP1")).json() == {"status": "Accepted"}
    assert (await server.api.get("/API/ClearCache/CP1")).json() == {"status": "Accepted"}
    assert (await server.api.get("/API/ClearCache/CP1")).json() == {"status": "Accepted"}

    samples = await metrics(server)

    counted = {
        (dict(labels)["action"], dict(labels)["direction"]): count
        for (name, labels), count in samples.items()
        if name == "ocpp_messages_total"
    }
    assert counted == {
        ("Heartbeat", "in"): 2,
        ("StatusNotification", "in"): 1,
        ("Reset", "out"): 1,
        ("ClearCache", "out"): 2,
    }


async def test_callerrors_sent_to_chargers_are_counted_by_code(
    server: RunningServer, charger: ConnectCharger
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    assert (
        value(await metrics(server), "ocpp_errors_total", code="PropertyConstraintViolation") == 0
    )
    for _ in range(2):
        with pytest.raises(OCPPError) as refused:
            await cp.call(
                call.StatusNotification(1, "NoError", "Exploded"),
                suppress=False,
                skip_schema_validation=True,
            )
        assert refused.value.code == "PropertyConstraintViolation"
    samples = await metrics(server)
    assert value(samples, "ocpp_errors_total", code="PropertyConstraintViolation") == 2
    assert value(samples, "ocpp_messages_total", action="StatusNotification", direction="in") == 2


async def test_openapi_lists_the_api(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"]
    paths = set(schema["paths"])
    assert {
        "/API/Status",
        "/API/Transactions",
        "/API/Transactions/{transaction_id}",
        "/API/Reset/{cp}",
        "/API/Reset/{cp}/{mode}",
        "/API/UnlockConnector/{cp}/{conn}",
        "/API/SetChargingLimit/{cp}/{conn}/{limit}",
        "/API/ClearChargingLimit/{cp}/{conn}",
        "/API/StartTransaction/{cp}/{conn}/{tag}",
        "/API/StopTransaction/{cp}/{conn}",
        "/API/GetConfiguration/{cp}",
        "/API/GetConfiguration/{cp}/{key}",
        "/API/ChangeConfiguration/{cp}/{key}/{value}",
        "/API/TriggerMessage/{cp}/{message}",
        "/API/TriggerMessage/{cp}/{message}/{conn}",
        "/API/ChangeAvailability/{cp}/{conn}/{availability}",
        "/API/ClearCache/{cp}",
        "/API/DataTransfer/{cp}/{vendor_id}",
        "/API/DataTransfer/{cp}/{vendor_id}/{message_id}",
    } <= paths
    assert not any("{path}" in path for path in paths)  # the catch-all is not advertised
    assert not any(path.startswith(("/OCPP", "/metrics")) for path in paths)


async def test_openapi_documents_the_api_key(server: RunningServer) -> None:
    schema = (await server.api.get("/openapi.json")).json()
    [scheme] = schema["components"]["securitySchemes"].values()
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    # Signed by Stripe instead, and no part of the API: taken before FastAPI's routes.
    assert not {"/API/Payments/Webhook", "/Payments/Webhook"} & set(schema["paths"])
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert operation.get("security"), f"{path}: no API key in the schema"
