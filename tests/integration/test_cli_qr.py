"""``ocpp-core qr``: one code as SVG/PNG, a PDF label sheet, and ``labels_for``.

Driven in-process against a real database (SQLite, or PostgreSQL with
``OCPP_CORE_TEST_DATABASE_URL``); every code written is decoded again.
"""

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cli_harness import Env, env_for, query, run
from ocpp_core.clock import utc_now
from ocpp_core.db.models import ChargePoint, Connector
from ocpp_core.db.session import Database
from ocpp_core.qr import LabelError, connector_ids, labels_for, start_url
from qrdecode import decode
from qrfiles import (
    SVG,
    pdf_page_count,
    pdf_qr_codes,
    pdf_text,
    png_modules,
    strip_quiet_zone,
    svg_document,
    svg_modules,
)

DEFAULT_BASE = "http://127.0.0.1:8082"
ODD = "CP+2:x"  # "+" and ":" must be percent-encoded in the link


@pytest.fixture
def env(migrated: str) -> Env:
    """CP-1 paid, FREE-1 free, CP+2:x without a price; no connector has reported yet."""
    env = env_for(migrated)
    run(["chargepoint", "add", "--no-password", "CP-1", "--name", "Garage links"], env)
    run(["chargepoint", "price", "CP-1", "--per-kwh", "0.39", "--max-kwh", "50"], env)
    run(["chargepoint", "add", "--no-password", "FREE-1", "--name", "Büro Süd"], env)
    run(["chargepoint", "price", "FREE-1", "--free"], env)
    run(["chargepoint", "add", "--no-password", ODD], env)
    return env


def add_connectors(database_url: str, *rows: tuple[str, int, str | None]) -> None:
    """As if the chargers had sent StatusNotifications."""

    async def work(session: AsyncSession) -> None:
        for charge_point_id, connector_id, name in rows:
            session.add(
                Connector(charge_point_id=charge_point_id, connector_id=connector_id, name=name)
            )

    query(database_url, work)


def codes_in(pdf: bytes) -> list[str]:
    return [decode(strip_quiet_zone(code, border=0)) for code in pdf_qr_codes(pdf)]


# --- one code -------------------------------------------------------------------------


def test_svg_for_a_connector(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "cp-1-2.svg"
    result = run(["qr", "CP-1", "--conn", "2", "--out", str(out)], env)

    url = f"{DEFAULT_BASE}/Public/Start?cp=CP-1&conn=2"
    assert result.output == f"wrote {out}: {url}\n"
    data = out.read_bytes()
    assert decode(svg_modules(data)) == url
    title = svg_document(data).find(f"{SVG}title")
    assert title is not None
    assert title.text == "QR code: start charging at CP-1, connector 2"


def test_png_for_connector_one_under_the_configured_base(env: Env, tmp_path: Path) -> None:
    env = {**env, "OCPP_CORE_PUBLIC_BASE_URL": "https://ev.example.com/"}
    out = tmp_path / "code.PNG"
    run(["qr", ODD, "--out", str(out), "--scale", "3"], env)

    assert decode(png_modules(out.read_bytes(), scale=3)) == (
        "https://ev.example.com/Public/Start?cp=CP%2B2%3Ax&conn=1"
    )


def test_base_url_option_wins_over_the_setting(env: Env, tmp_path: Path) -> None:
    env = {**env, "OCPP_CORE_PUBLIC_BASE_URL": "https://from-env.example"}
    out = tmp_path / "code.png"
    run(["qr", "CP-1", "--out", str(out), "--base-url", "https://flag.example/ev/"], env)

    url = "https://flag.example/ev/Public/Start?cp=CP-1&conn=1"
    assert decode(png_modules(out.read_bytes(), scale=10)) == url


def test_bad_base_url_is_refused(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "code.svg"
    result = run(
        ["qr", "CP-1", "--out", str(out), "--base-url", "ev.example.com"], env, exit_code=1
    )
    assert "OCPP_CORE_PUBLIC_BASE_URL (public_base_url): Value error, must start with http://" in (
        result.output
    )
    assert not out.exists()


def test_unknown_charge_point(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "code.svg"
    result = run(["qr", "NOPE", "--out", str(out)], env, exit_code=1)
    assert result.output == (
        "Error: unknown charge point 'NOPE': add it with `ocpp-core chargepoint add`\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["CP-1", "--out", "x.jpg"], "--out x.jpg: name it FILE.svg or FILE.png"),
        (["CP-1", "--out", "x"], "--out x: name it FILE.svg or FILE.png"),
        (["CP-1", "--out", "x.pdf"], "(a PDF label sheet needs --sheet)"),
        (["--out", "x.svg"], "give one charge point ID for a code, or --sheet"),
        (["CP-1", "FREE-1", "--out", "x.svg"], "give one charge point ID for a code, or --sheet"),
        (["--sheet", "--out", "x.svg"], "a label sheet is a PDF, name it FILE.pdf"),
        (["--sheet", "--conn", "2", "--out", "x.pdf"], "--conn and --scale go with a single code"),
        (["--sheet", "--scale", "2", "--out", "x.pdf"], "--conn and --scale go with a single code"),
        (["CP-1", "--conn", "0", "--out", "x.svg"], "0 is not in the range x>=1"),
        (["CP-1", "--scale", "0", "--out", "x.svg"], "0 is not in the range 1<=x<=100"),
        (["CP-1"], "Missing option '--out'"),
    ],
)
def test_usage_errors(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    work = tmp_path / "work"  # not tmp_path itself: the SQLite database is there
    work.mkdir()
    monkeypatch.chdir(work)
    result = run(["qr", *args], env, exit_code=2)
    assert message in result.output
    assert list(work.iterdir()) == []


def test_unwritable_output(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "code.svg"
    result = run(["qr", "CP-1", "--out", str(out)], env, exit_code=1)
    assert f"Error: cannot write {out}: No such file or directory" in result.output


def test_a_connector_the_charger_has_not_reported_gets_a_note(
    env: Env, migrated: str, tmp_path: Path
) -> None:
    add_connectors(migrated, ("CP-1", 1, None), ("CP-1", 2, None))
    reported = run(["qr", "CP-1", "--conn", "2", "--out", str(tmp_path / "a.svg")], env)
    assert "note" not in reported.output

    result = run(["qr", "CP-1", "--conn", "3", "--out", str(tmp_path / "b.svg")], env)
    assert "note: CP-1 has reported connector(s) 1, 2, not 3" in result.output
    assert decode(svg_modules((tmp_path / "b.svg").read_bytes())).endswith("cp=CP-1&conn=3")


# --- the label sheet ------------------------------------------------------------------


def test_sheet_of_every_connector_of_every_charge_point(
    env: Env, migrated: str, tmp_path: Path
) -> None:
    # Connector 0 is the whole charger, never a label.
    add_connectors(migrated, ("CP-1", 0, None), ("CP-1", 2, "Left"), ("CP-1", 1, None))
    out = tmp_path / "labels.pdf"
    result = run(["qr", "--sheet", "--out", str(out)], env)

    assert result.output == f"wrote {out}: 4 label(s) for 3 charge point(s) on 1 page(s)\n"
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert pdf_page_count(data) == 1
    assert codes_in(data) == [
        start_url(DEFAULT_BASE, ODD, 1),
        start_url(DEFAULT_BASE, "CP-1", 1),
        start_url(DEFAULT_BASE, "CP-1", 2),
        start_url(DEFAULT_BASE, "FREE-1", 1),
    ]
    text = pdf_text(data)
    for expected in [
        "Garage links",
        "CP-1 · connector 1",
        "CP-1 · connector 2 · Left",
        "0.39 EUR/kWh, max 50 kWh Card hold 19.50 EUR",
        "Büro Süd",
        "FREE-1 · connector 1",
        "Free charging",
        "Scan to charge · free",
        f"{ODD} · connector 1",
        "Price not set yet",
        "127.0.0.1:8082/cp/CP-1/2",
    ]:
        assert expected in text
    assert text.count("Scan to charge · pay by card") == 3


def test_sheet_of_the_charge_points_given_in_that_order(env: Env, tmp_path: Path) -> None:
    env = {**env, "OCPP_CORE_PUBLIC_BASE_URL": "https://ev.example.com"}
    out = tmp_path / "labels.pdf"
    result = run(["qr", "--sheet", "FREE-1", "CP-1", "FREE-1", "--out", str(out)], env)

    assert "2 label(s) for 2 charge point(s) on 1 page(s)" in result.output
    assert codes_in(out.read_bytes()) == [
        "https://ev.example.com/Public/Start?cp=FREE-1&conn=1",
        "https://ev.example.com/Public/Start?cp=CP-1&conn=1",
    ]


def test_sheet_with_unknown_charge_points(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "labels.pdf"
    result = run(["qr", "--sheet", "NOPE", "CP-1", "NADA", "--out", str(out)], env, exit_code=1)
    assert "unknown charge points 'NOPE', 'NADA': add them with" in result.output
    assert not out.exists()


def test_sheet_of_an_empty_database(migrated: str, tmp_path: Path) -> None:
    out = tmp_path / "labels.pdf"
    result = run(["qr", "--sheet", "--out", str(out)], env_for(migrated), exit_code=1)
    assert "no charge points to print labels for" in result.output
    assert not out.exists()


def test_sheet_runs_over_pages(env: Env, tmp_path: Path) -> None:
    rows = tmp_path / "chargers.csv"
    rows.write_text("id,name\n" + "".join(f"B-{n:02d},Bay {n}\n" for n in range(14)))
    run(["chargepoint", "import", "--allow-no-password", str(rows)], env)
    out = tmp_path / "labels.pdf"
    result = run(["qr", "--sheet", "--out", str(out)], env)

    assert "17 label(s) for 17 charge point(s) on 3 page(s)" in result.output
    data = out.read_bytes()
    assert pdf_page_count(data) == 3
    assert len(codes_in(data)) == 17
    assert "Bay 13" in pdf_text(data)


def test_help_shows_both_forms(env: Env) -> None:
    output = run(["qr", "--help"], env).output
    assert "ocpp-core qr CP-1 --conn 2 --out cp-1-2.svg" in output
    assert "ocpp-core qr --sheet --out labels.pdf" in output
    assert "OCPP_CORE_PUBLIC_BASE_URL" in output


# --- labels_for, as the management app calls it ----------------------------------------


async def test_labels_for_prices_a_row_without_currency_in_the_default_one(
    migrated: str,
) -> None:
    db = Database(migrated)
    try:
        async with db.session() as session:
            session.add(
                ChargePoint(
                    id="CP-9",
                    name=None,
                    price_kwh_millicents=40_000,
                    max_session_wh=10_000,
                    currency=None,
                    created_at=utc_now(),
                )
            )
        async with db.session() as session:
            [label] = await labels_for(session, "https://ev.example.com/", ["CP-9"], "chf")
            with pytest.raises(LabelError, match="unknown charge point 'X'"):
                await labels_for(session, "https://ev.example.com", ["X"], "chf")
            assert await connector_ids(session, "CP-9") == []
    finally:
        await db.close()

    assert label.station_name == "CP-9"
    assert label.url == "https://ev.example.com/Public/Start?cp=CP-9&conn=1"
    assert label.short_url == "https://ev.example.com/cp/CP-9/1"
    assert (
        label.price_text
        == "0.40 CHF/kWh, max 10 kWh\nCard hold 4.00 CHF, the unused part is released"
    )
