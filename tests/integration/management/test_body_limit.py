"""Forms have one small size limit for everyone, checked before the body is read."""

from __future__ import annotations

import httpx
import pytest

from integration.management.pages import ADMIN, RunningManagement, csrf_token, log_in
from ocpp_core.config import HttpSettings
from rawhttp import chunk, raw_connection, request_head

LIMIT = HttpSettings().management_max_body
FORM = "application/x-www-form-urlencoded"
NEW_CHARGE_POINT = "/Home/ChargePoint/@"


def port_of(management: RunningManagement) -> int:
    return int(management.url.rsplit(":", 1)[1])


@pytest.mark.parametrize("path", ["/Public/Start", "/Account/Login"])
async def test_an_anonymous_form_over_the_limit_is_refused_before_it_is_sent(
    management: RunningManagement, path: str
) -> None:
    head = request_head("POST", path, Content_Type=FORM, Content_Length=str(LIMIT + 1))
    async with raw_connection(port_of(management)) as connection:
        await connection.send(head + b"tag=")

        status, _, page = await connection.response()

        assert status == 413
        assert b"That was more than this page takes." in page
        assert await connection.closed_by_server()


async def test_a_streamed_form_is_refused_as_soon_as_it_passes_the_limit(
    management: RunningManagement,
) -> None:
    head = request_head("POST", "/Public/Start", Content_Type=FORM, Transfer_Encoding="chunked")
    async with raw_connection(port_of(management)) as connection:
        await connection.send(head + chunk(b"tag=" + b"A" * LIMIT))

        status, _, _ = await connection.response()

        assert status == 413
        assert await connection.closed_by_server()


async def test_a_logged_in_operator_has_the_same_limit(
    client: httpx.AsyncClient,
) -> None:
    await log_in(client, *ADMIN)
    token = csrf_token((await client.get(NEW_CHARGE_POINT)).text)

    response = await client.post(
        NEW_CHARGE_POINT, data={"csrf_token": token, "comment": "x" * LIMIT}
    )

    assert response.status_code == 413
    assert "That was more than this page takes." in response.text


async def test_a_form_just_under_the_limit_is_taken(client: httpx.AsyncClient) -> None:
    page = await client.get("/Account/Login")
    form = {"csrf_token": csrf_token(page.text), "name": ADMIN[0], "password": ADMIN[1]}
    size = len(httpx.QueryParams(form).__str__()) + len("&padding=")
    form["padding"] = "x" * (LIMIT - size)

    response = await client.post("/Account/Login", data=form)

    assert response.request.headers["content-length"] == str(LIMIT)
    assert response.status_code == 303  # logged in
