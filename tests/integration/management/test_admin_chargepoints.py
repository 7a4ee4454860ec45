"""Charge points over real HTTP: create with a tariff, edit, validation, delete, reset, QR codes."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import httpx
import pytest
from ocpp.v16 import call
from sqlalchemy import func, select

from builders import NOW, add_charge_point, add_tag, timestamp
from integration.management.admin_helpers import error_of, post_form
from integration.management.pages import ADMIN, VIEWER, RunningManagement, csrf_token, log_in
from ocpp_core.config import DiagnosticsSettings
from ocpp_core.db.models import ChargePoint, Connector, LogUpload, Transaction
from ocpp_core.domain import chargepoints, log_uploads
from ocpp_core.security import verify_secret
from qrdecode import decode
from qrfiles import pdf_text, png_modules
from servers import ConnectCharger, RunningServer

PASSWORD = "a-charger-password-of-28-chr"
PDF_SIGNATURE = b"%PDF-"


TARIFF_FORM = {
    "per_kwh": "0.355",
    "session_fee": "1.00",
    "usage_fee": "0.10",
    "usage_grace": "30",
    "usage_max": "120",
    "usage_after": "on",
    "max_kwh": "50",
    "currency": "EUR",
}


async def test_create_edit_and_delete_a_charge_point_with_a_tariff(
    management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await log_in(client, *ADMIN)

    created = await post_form(
        client,
        "/Home/ChargePoint/@",
        {"id": "CP-7", "name": "Garage", "comment": "left", "password": PASSWORD, **TARIFF_FORM},
    )
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/Home/ChargePoint/CP-7"
    edit = await client.get("/Home/ChargePoint/CP-7")
    assert "Charge point CP-7 added." in edit.text
    async with management.db.session() as session:
        row = await session.get(ChargePoint, "CP-7")
        assert row is not None
        assert (row.name, row.comment, row.auth_user) == ("Garage", "left", "CP-7")
        assert row.password_hash is not None
        assert verify_secret(PASSWORD, row.password_hash)
        assert (row.price_kwh_millicents, row.session_fee_cents) == (35_500, 100)
        assert (row.usage_fee_minute_millicents, row.usage_grace_minutes) == (10_000, 30)
        assert (row.usage_max_minutes, row.usage_after_charging) == (120, True)
        assert (row.max_session_wh, row.currency, row.free_charging) == (50_000, "eur", False)
    assert 'value="0.355"' in edit.text  # the form shows the stored tariff back
    listed = (await client.get("/Home/ChargePoint")).text
    assert 'data-cp="CP-7"' in listed
    assert "0.355 EUR/kWh" in listed
    assert "30.75 EUR" in listed  # the hold: 50 x 0.355 + 120 x 0.10 + 1.00

    edited = await post_form(
        client,
        "/Home/ChargePoint/CP-7",
        {
            "name": "Garage right",
            "comment": "",
            "thumbprint": "AB:" * 31 + "AB",
            "free": "on",
            **TARIFF_FORM,
        },
    )
    assert edited.status_code == 303, edited.text
    async with management.db.session() as session:
        row = await session.get(ChargePoint, "CP-7")
        assert row is not None
        assert (row.name, row.comment, row.free_charging) == ("Garage right", None, True)
        assert row.client_cert_thumbprint == "ab" * 32
        assert row.password_hash is not None  # an empty password field keeps it

    confirm = await client.get("/Home/ChargePoint/CP-7", params={"confirm": "delete"})
    assert "Delete charge point CP-7?" in confirm.text
    deleted = await post_form(
        client,
        "/Home/ChargePoint/CP-7?confirm=delete",
        {"action": "delete"},
        "/Home/ChargePoint/CP-7",
    )
    assert deleted.status_code == 303
    assert "Charge point CP-7 deleted." in (await client.get("/Home/ChargePoint")).text
    assert (await client.get("/Home/ChargePoint/CP-7")).status_code == 404


async def test_delete_takes_connectors_and_transactions_with_it(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    db = server.runtime.db
    await add_charge_point(db, "CP1")
    await add_charge_point(db, "CP2")
    await add_tag(db, "TAG1")
    async with db.session() as session:
        for cp_id in ("CP1", "CP2"):
            session.add(Connector(charge_point_id=cp_id, connector_id=1, status="Available"))
            session.add(
                Transaction(
                    charge_point_id=cp_id,
                    connector_id=1,
                    start_tag="TAG1",
                    start_at=NOW,
                    meter_start_wh=0,
                    start_result="Accepted",
                )
            )
    await log_in(client, *ADMIN)

    confirm = await client.get("/Home/ChargePoint/CP1", params={"confirm": "delete"})
    assert "1 connector(s), 1 transaction(s)" in confirm.text
    await post_form(
        client,
        "/Home/ChargePoint/CP1?confirm=delete",
        {"action": "delete"},
        "/Home/ChargePoint/CP1",
    )

    async with db.session() as session:
        left = (await session.execute(select(Transaction.charge_point_id))).scalars().all()
        connectors = await session.scalar(select(func.count()).select_from(Connector))
    assert left == ["CP2"]
    assert connectors == 1


async def test_the_list_shows_which_ocpp_version_each_charger_speaks(
    management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await log_in(client, *ADMIN)
    for charge_point_id, protocol in (("CP-16", "ocpp1.6"), ("CP-201", "ocpp2.0.1")):
        await add_charge_point(management.db, charge_point_id)
        info = chargepoints.BootInfo("ACME", "W")
        await management.db.group_execute(
            chargepoints.BOOT,
            chargepoints.boot_parameters(charge_point_id, info, protocol=protocol, now=NOW),
        )
    listed = (await client.get("/Home/ChargePoint")).text
    assert '<small class="muted" data-protocol>OCPP 1.6</small>' in listed
    assert '<small class="muted" data-protocol>OCPP 2.0.1</small>' in listed


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"id": "bad id"}, "id", "Use 1-48 of the characters"),
        ({"id": ".."}, "id", "(not . or .. alone)"),
        ({"id": "."}, "id", "(not . or .. alone)"),
        ({"id": "CP1", "password": "short"}, "password", "Password must be 16 to 40 characters"),
        (
            {"id": "CP1", "per_kwh": "0.39"},
            "max_kwh",
            "A per-kWh price needs “Max kWh per session”",
        ),
        ({"id": "CP1", "per_kwh": "abc", "max_kwh": "10"}, "per_kwh", "is not a number"),
        ({"id": "CP1", "usage_max": "-3"}, "usage_max", "a whole number of minutes"),
        ({"id": "CP1", "thumbprint": "xyz"}, "thumbprint", "SHA-256 (64 hex digits)"),
        ({"id": "CP1", "session_fee": "1", "currency": "jpy"}, "currency", "two decimals"),
    ],
)
async def test_a_refused_field_is_explained_next_to_it_and_nothing_is_stored(
    management: RunningManagement,
    client: httpx.AsyncClient,
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    await log_in(client, *ADMIN)
    chosen = {} if "password" in form else {"no_password": "on"}

    response = await post_form(client, "/Home/ChargePoint/@", {**chosen, **form})

    assert response.status_code == 400
    assert message in error_of(response.text, field)
    assert 'role="alert"' in response.text
    async with management.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ChargePoint)) == 0


async def test_rows_with_ids_from_before_the_rule_break_no_page(
    server: RunningServer, management: RunningManagement, client: httpx.AsyncClient
) -> None:
    odd = ("..", ".", "CP 1", "Zoë/2")
    async with management.db.session() as session:
        for charge_point_id in odd:
            session.add(ChargePoint(id=charge_point_id, name=None, created_at=NOW))
            session.add(Connector(charge_point_id=charge_point_id, connector_id=1))
    await log_in(client, *ADMIN)

    pages = ["/", "/Home/Tiles", "/Home/ChargePoint", "/Home/Connector", "/Home/Transactions"]
    pages += ["/Home/Connector/Live", "/Home/QR/Labels.pdf", "/Home/Payments", "/Home/Reports"]
    answers = {url: (await client.get(url)).status_code for url in pages}

    assert answers == dict.fromkeys(pages, 200)
    listed = (await client.get("/Home/ChargePoint")).text
    assert all(f'data-cp="{charge_point_id}"' in listed for charge_point_id in ("..", "CP 1"))
    assert (await server.api.get("/API/Status")).status_code == 200


async def test_no_password_is_a_choice_the_form_asks_for_and_the_pages_show(
    management: RunningManagement, client: httpx.AsyncClient
) -> None:
    await log_in(client, *ADMIN)
    unchosen = await post_form(client, "/Home/ChargePoint/@", {"id": "CP-OPEN"})
    both = {"id": "CP-OPEN", "password": PASSWORD, "no_password": "on"}
    contradicted = await post_form(client, "/Home/ChargePoint/@", both)

    assert unchosen.status_code == contradicted.status_code == 400
    assert error_of(unchosen.text, "password") == (
        "Give a password, or tick “No password” to let any charger connect under this id."
    )
    assert error_of(contradicted.text, "password") == (
        "Give a password or tick “No password”, not both."
    )
    async with management.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ChargePoint)) == 0

    for form in (
        {"id": "CP-OPEN", "no_password": "on"},
        {"id": "CP-CERT", "thumbprint": "ab" * 32},  # a pinned certificate is a credential
        {"id": "CP-PW", "password": PASSWORD},
    ):
        assert (await post_form(client, "/Home/ChargePoint/@", form)).status_code == 303

    listed = (await client.get("/Home/ChargePoint")).text
    marked = [cp for cp in ("CP-OPEN", "CP-CERT", "CP-PW") if "data-no-password" in row(listed, cp)]
    assert marked == ["CP-OPEN"]
    page = (await client.get("/Home/ChargePoint/CP-OPEN")).text
    assert "No password: any charger can connect under this id and push the real one off." in page
    assert "data-no-password" not in (await client.get("/Home/ChargePoint/CP-CERT")).text
    client.headers["Accept-Language"] = "de"
    assert "Kein Passwort" in row((await client.get("/Home/ChargePoint")).text, "CP-OPEN")
    german = (await client.get("/Home/ChargePoint/CP-OPEN")).text
    assert "Kein Passwort: Jede Ladestation kann sich unter dieser ID verbinden" in german


def row(html: str, charge_point_id: str) -> str:
    start = html.index(f'data-cp="{charge_point_id}"')
    return html[start : html.index("</tr>", start)]


async def test_a_taken_id_and_a_hold_below_the_minimum_are_refused(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await log_in(client, *ADMIN)

    taken = await post_form(client, "/Home/ChargePoint/@", {"id": "CP1", "no_password": "on"})
    too_small = await post_form(client, "/Home/ChargePoint/CP1", {"session_fee": "0.10"})

    assert "already exists" in error_of(taken.text, "id")
    assert too_small.status_code == 400
    assert "is below the 0.50 EUR the payment settings capture" in error_of(
        too_small.text, "tariff"
    )


async def test_a_viewer_reads_but_can_not_change(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1", name="Yard")
    await log_in(client, *VIEWER)

    listed = await client.get("/Home/ChargePoint")
    page = await client.get("/Home/ChargePoint/CP1")
    token = csrf_token(page.text)
    posts = [
        await client.post("/Home/ChargePoint/CP1", data={"csrf_token": token, "name": "x"}),
        await client.post("/Home/ChargePoint/@", data={"csrf_token": token, "id": "CP9"}),
        await client.post("/Home/ChargePoint/CP1", data={"csrf_token": token, "action": "delete"}),
    ]

    assert listed.status_code == page.status_code == 200
    assert "Add a charge point" not in listed.text
    assert "<fieldset disabled>" in page.text
    assert (await client.get("/Home/ChargePoint/@")).status_code == 403
    assert [post.status_code for post in posts] == [403, 403, 403]
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
        assert row is not None
        assert row.name == "Yard"


async def test_a_post_without_the_csrf_token_is_refused(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1", name="Yard")
    await log_in(client, *ADMIN)

    response = await client.post("/Home/ChargePoint/CP1", data={"name": "forged"})

    assert response.status_code == 403
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
        assert row is not None
        assert row.name == "Yard"


async def test_reset_buttons_reach_the_charger(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await log_in(client, *ADMIN)

    hard = await post_form(client, "/Home/ChargePoint/CP1", {"action": "reset", "mode": "Hard"})
    shown = (await client.get(hard.headers["location"])).text
    cp.answers["Reset"] = {"status": "Rejected"}
    soft = await post_form(client, "/Home/ChargePoint/CP1", {"action": "reset", "mode": "Soft"})
    refused = (await client.get(soft.headers["location"])).text

    assert [request for action, request in cp.requests if action == "Reset"] == [
        {"type": "Hard"},
        {"type": "Soft"},
    ]
    assert "Hard reset: Accepted." in shown
    assert "Soft reset: Rejected." in refused
    assert 'role="alert"' in refused


async def test_reset_of_an_offline_charger_says_so(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    await log_in(client, *ADMIN)

    response = await post_form(client, "/Home/ChargePoint/CP1", {"action": "reset", "mode": "Soft"})

    assert "the charger is not connected" in (await client.get(response.headers["location"])).text


async def test_qr_codes_inline_png_and_label_sheets(
    server: RunningServer,
    charger: ConnectCharger,
    management: RunningManagement,
    client: httpx.AsyncClient,
) -> None:
    await add_charge_point(server.runtime.db, "CP+1", name="Yard")
    await add_charge_point(server.runtime.db, "CP2")
    cp = await charger("CP+1")
    for connector_id in (1, 2):
        await cp.call(
            call.StatusNotification(connector_id, "NoError", "Available", timestamp=timestamp())
        )
    await log_in(client, *VIEWER)
    base = management.context.settings.public_base_url

    page = (await client.get("/Home/ChargePoint/CP%2B1")).text
    png = await client.get("/Home/QR/CP%2B1/2.png")
    station_sheet = await client.get("/Home/QR/CP%2B1/Labels.pdf")
    all_sheet = await client.get("/Home/QR/Labels.pdf")
    unknown_sheet = await client.get("/Home/QR/CP-NONE/Labels.pdf")

    assert page.count('<svg role="img"') == 2
    assert "QR code: start charging at CP+1, connector 2" in page
    assert f"{base}/Public/Start?cp=CP%2B1&amp;conn=2" in page
    assert 'href="/Home/QR/CP%2B1/2.png"' in page
    assert png.headers["content-type"] == "image/png"
    assert "attachment" in png.headers["content-disposition"]
    assert decode(png_modules(png.content, 10)) == f"{base}/Public/Start?cp=CP%2B1&conn=2"
    for sheet in (station_sheet, all_sheet):
        assert sheet.status_code == 200
        assert sheet.content.startswith(PDF_SIGNATURE)
    assert len(all_sheet.content) > len(station_sheet.content)
    assert unknown_sheet.status_code == 404


async def test_the_list_prints_the_labels_of_the_stations_it_shows(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    async with server.runtime.db.session() as session:
        session.add_all(ChargePoint(id=f"CP-{n:03d}", created_at=NOW) for n in range(60))
    await log_in(client, *VIEWER)

    first = await _labels_of(client, "/Home/ChargePoint")
    following = re.search(
        r'href="([^"]+)" rel="next"', (await client.get("/Home/ChargePoint")).text
    )
    assert following is not None
    second = await _labels_of(client, unescape(following.group(1)))
    searched = await _labels_of(client, "/Home/ChargePoint?q=cp-05")
    nothing = await client.get("/Home/QR/Labels.pdf", params={"q": "none-such"})

    assert _stations(first) == [f"CP-{n:03d}" for n in range(50)]  # a page of the list
    assert _stations(second) == [f"CP-{n:03d}" for n in range(50, 60)]
    assert _stations(searched) == [f"CP-{n:03d}" for n in range(50, 60)]
    assert nothing.status_code == 404


async def _labels_of(client: httpx.AsyncClient, list_url: str) -> str:
    """The text of the label sheet the list page's button links to."""
    found = re.search(r'href="(/Home/QR/Labels\.pdf[^"]*)"', (await client.get(list_url)).text)
    assert found is not None, list_url
    # A page's sheet draws 50 QR codes: about a second, several with coverage on a busy machine.
    sheet = await client.get(unescape(found.group(1)), timeout=60)
    assert sheet.content.startswith(PDF_SIGNATURE)
    return pdf_text(sheet.content)


def _stations(sheet: str) -> list[str]:
    return sorted(set(re.findall(r"CP-\d{3}(?= · connector)", sheet)))


async def test_replace_and_remove_the_chargers_password(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1", password=PASSWORD)
    await log_in(client, *ADMIN)
    new_password = "another-password-0123456789"

    await post_form(client, "/Home/ChargePoint/CP1", {"password": new_password})
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
        assert row is not None
        assert row.password_hash is not None
        assert verify_secret(new_password, row.password_hash)
    connected = await charger("CP1", password=new_password)  # the charger gets in with it
    assert connected is not None

    await post_form(client, "/Home/ChargePoint/CP1", {"remove_password": "on"})
    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
        assert row is not None
        assert (row.password_hash, row.auth_user) == (None, None)
    warning = "No password: any charger can connect under this id and push the real one off."
    assert warning in (await client.get("/Home/ChargePoint/CP1")).text


async def test_firmware_and_diagnostics_progress_is_shown_on_the_charge_point_page(
    server: RunningServer, charger: ConnectCharger, client: httpx.AsyncClient
) -> None:
    await add_charge_point(server.runtime.db, "CP1")
    cp = await charger("CP1")
    await log_in(client, *VIEWER)
    before = await client.get("/Home/ChargePoint/CP1")
    assert before.text.count("Nothing reported yet") == 2

    await cp.call(call.FirmwareStatusNotification("Installing"))
    await cp.call(call.DiagnosticsStatusNotification("UploadFailed"))
    page = await client.get("/Home/ChargePoint/CP1")
    german = await client.get("/Home/ChargePoint/CP1", params={"lang": "de"})

    async with server.runtime.db.session() as session:
        row = await session.get(ChargePoint, "CP1")
    assert row is not None
    assert row.firmware_status_at is not None
    assert row.diagnostics_status_at is not None
    for status, at, element in (
        ("Installing", row.firmware_status_at, "firmware-status"),
        ("UploadFailed", row.diagnostics_status_at, "diagnostics-status"),
    ):
        shown = page.text[page.text.index(f'id="{element}"') :]
        shown = shown[: shown.index("</dd>")]
        assert status in shown
        assert f'<time datetime="{at.isoformat()}">' in shown
    assert "Firmware and diagnostics" in page.text
    assert "Firmware und Diagnose" in german.text


async def test_delete_takes_the_chargers_uploaded_files_with_it(
    server: RunningServer,
    management: RunningManagement,
    client: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    settings = management.context.settings
    diagnostics = DiagnosticsSettings(directory=tmp_path / "diagnostics")
    management.context.settings = settings.model_copy(update={"diagnostics": diagnostics})
    db = server.runtime.db
    for cp_id in ("CP1", "CP2"):
        await add_charge_point(db, cp_id)
    async with db.session() as session:
        uploads = [
            LogUpload(
                charge_point_id=cp_id,
                request_id=1,
                log_type="DiagnosticsLog",
                requested_at=NOW,
                token_hash=cp_id.ljust(64, "0"),
                token_expires_at=NOW,
            )
            for cp_id in ("CP1", "CP2")
        ]
        session.add_all(uploads)
    diagnostics.directory.mkdir()
    files = [log_uploads.file_of(diagnostics.directory, upload.id) for upload in uploads]
    for file in files:
        file.write_bytes(b"a charger's log")
    await log_in(client, *ADMIN)

    await post_form(
        client,
        "/Home/ChargePoint/CP1?confirm=delete",
        {"action": "delete"},
        "/Home/ChargePoint/CP1",
    )

    assert [file.exists() for file in files] == [False, True]
