"""QR codes and label sheets: the links, the codes as SVG/PNG/PDF, and what they carry.

Every rendered code is read back into modules, compared with segno's matrix for
the same URL, and decoded by the reader in ``tests/qrdecode.py``: a code that
decodes to the configured link is what a driver's phone needs.
"""

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import segno

from ocpp_core.config import ConfigError, load_settings
from ocpp_core.domain.pricing import Tariff
from ocpp_core.qr import (
    Label,
    label_sheet_pdf,
    page_count,
    price_text,
    printable,
    qr_code,
    qr_matrix,
    qr_png,
    qr_svg,
    short_url,
    start_url,
)
from ocpp_core.qr.sheet import SCAN_FREE
from qrdecode import QRDecodeError, decode
from qrfiles import (
    SVG,
    pdf_page_count,
    pdf_qr_codes,
    pdf_streams,
    pdf_text,
    pdf_text_lines,
    png_modules,
    strip_quiet_zone,
    svg_document,
    svg_modules,
)

BASE = "https://ev.example.com"
# Every character a charge point id may hold, and then some an old database might.
ODD_IDS = ["CP+1", "a*b-c_d=e:f+g|h@i.j", "Süd 1/2 & ?#%", "東京-01"]
URLS = [
    start_url(BASE, "CP-1", 2),
    start_url("http://127.0.0.1:8082", "a*b-c_d=e:f+g|h@i.j", 12),
    start_url("https://laden.stadtwerke-musterstadt.example/charging/", "CP-0001", 1),
]


def segno_matrix(url: str) -> list[list[bool]]:
    """What segno makes of the URL on its own, at the documented settings."""
    return [[bool(m) for m in row] for row in segno.make(url, error="q", micro=False).matrix]


# --- links ----------------------------------------------------------------------------


def test_start_and_short_url_formats() -> None:
    assert start_url(BASE, "CP-1", 2) == "https://ev.example.com/Public/Start?cp=CP-1&conn=2"
    assert short_url(BASE, "CP-1", 2) == "https://ev.example.com/cp/CP-1/2"


def test_base_url_keeps_its_path_and_loses_trailing_slashes() -> None:
    assert (
        start_url("https://x.example/ev//", "A", 1)
        == "https://x.example/ev/Public/Start?cp=A&conn=1"
    )
    assert short_url("https://x.example/ev/", "A", 1) == "https://x.example/ev/cp/A/1"


@pytest.mark.parametrize("charge_point_id", ODD_IDS)
def test_ids_are_percent_encoded_and_read_back_exactly(charge_point_id: str) -> None:
    url = start_url(BASE, charge_point_id, 3)
    query = urlsplit(url).query
    assert parse_qs(query, strict_parsing=True) == {"cp": [charge_point_id], "conn": ["3"]}
    # A bare "+" would read as a space, "&", "#" or "=" would split the query.
    encoded = query.removeprefix("cp=").removesuffix("&conn=3")
    assert not set(encoded) & set("+&#=?/ :|@*")

    path = urlsplit(short_url(BASE, charge_point_id, 3)).path
    assert path.count("/") == 3
    assert unquote(path.split("/")[2]) == charge_point_id


def test_plus_in_an_id_is_encoded() -> None:
    assert start_url(BASE, "CP+1", 1).endswith("?cp=CP%2B1&conn=1")
    assert short_url(BASE, "CP+1", 1).endswith("/cp/CP%2B1/1")


@pytest.mark.parametrize("connector_id", [0, -1, True, 1.5, "2"])
def test_connector_must_be_a_whole_number_from_one(connector_id: object) -> None:
    with pytest.raises(ValueError, match="connector id"):
        start_url(BASE, "CP-1", connector_id)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="connector id"):
        short_url(BASE, "CP-1", connector_id)  # type: ignore[arg-type]


def test_empty_charge_point_id_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        start_url(BASE, "", 1)


# --- the setting ----------------------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OCPP_CORE_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_environment")
def test_public_base_url_default() -> None:
    assert load_settings().public_base_url == "http://127.0.0.1:8082"


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://ev.example.com/", "https://ev.example.com"),
        ("  https://ev.example.com/charging//  ", "https://ev.example.com/charging"),
        ("http://10.0.0.5:8082", "http://10.0.0.5:8082"),
    ],
)
def test_public_base_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, given: str, kept: str
) -> None:
    monkeypatch.setenv("OCPP_CORE_PUBLIC_BASE_URL", given)
    assert load_settings().public_base_url == kept


@pytest.mark.usefixtures("clean_environment")
def test_public_base_url_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "ocpp-core.toml"
    path.write_text('public_base_url = "https://toml.example/"\n', encoding="utf-8")
    assert load_settings(path).public_base_url == "https://toml.example"


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize(
    "bad", ["ev.example.com", "ftp://ev.example.com", "https://", "https://x.example/?a=1", ""]
)
def test_public_base_url_must_be_http(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("OCPP_CORE_PUBLIC_BASE_URL", bad)
    with pytest.raises(ConfigError, match=r"OCPP_CORE_PUBLIC_BASE_URL \(public_base_url\)"):
        load_settings()


# --- the codes ------------------------------------------------------------------------


@pytest.mark.parametrize("url", URLS)
def test_symbol_is_a_full_qr_code_with_at_least_q_error_correction(url: str) -> None:
    code = qr_code(url)
    assert not code.is_micro
    assert code.error in {"Q", "H"}
    assert [list(row) for row in qr_matrix(url)] == segno_matrix(url)


@pytest.mark.parametrize("url", URLS)
def test_png_at_scale_one_is_segnos_matrix_pixel_for_pixel(url: str) -> None:
    modules = png_modules(qr_png(url, 1), scale=1)  # checks the 4-module white quiet zone
    assert modules == segno_matrix(url)
    assert decode(modules) == url


@pytest.mark.parametrize("url", URLS)
def test_png_scaled_is_the_same_code_in_bigger_squares(url: str) -> None:
    modules = png_modules(qr_png(url, 7), scale=7)
    assert modules == segno_matrix(url)
    assert decode(modules) == url


@pytest.mark.parametrize("url", URLS)
def test_svg_draws_segnos_matrix_and_decodes_to_the_url(url: str) -> None:
    modules = svg_modules(qr_svg(url, 4))
    assert modules == segno_matrix(url)
    assert decode(modules) == url


def test_svg_is_accessible_and_scalable() -> None:
    url = URLS[0]
    data = qr_svg(url, 3)
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = svg_document(data)
    assert root.get("role") == "img"
    size = 3 * (len(qr_matrix(url)) + 8)
    assert (root.get("width"), root.get("height")) == (str(size), str(size))
    assert root.get("viewBox") == f"0 0 {size} {size}"
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == f"QR code: {url}"


def test_svg_for_inline_use_has_no_xml_declaration() -> None:
    data = qr_svg(URLS[0], xml_declaration=False)
    assert data.startswith(b'<svg role="img" viewBox=')
    assert decode(svg_modules(data)) == URLS[0]


def test_svg_title_is_escaped() -> None:
    root = svg_document(qr_svg(URLS[0], title='Start <CP-1> & "pay"'))
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == 'Start <CP-1> & "pay"'


@pytest.mark.parametrize("scale", [0, 101, True])
def test_scale_is_checked(scale: int) -> None:
    with pytest.raises(ValueError, match="scale"):
        qr_png(URLS[0], scale)
    with pytest.raises(ValueError, match="scale"):
        qr_svg(URLS[0], scale)


def test_empty_url_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        qr_png("")


def test_the_reader_notices_a_damaged_code() -> None:
    """So that decoding to the URL above means something."""
    modules = segno_matrix(URLS[0])
    assert decode(modules) == URLS[0]
    size = len(modules)
    modules[size - 1][size - 1] = not modules[size - 1][size - 1]  # the first data module
    with pytest.raises(QRDecodeError):
        decode(modules)


# --- the label sheet ------------------------------------------------------------------


def label(charge_point_id: str, connector_id: int = 1, **fields: str) -> Label:
    values = {
        "station_name": f"Station {charge_point_id}",
        "price_text": "0.39 EUR/kWh, max 50 kWh",
        "url": start_url(BASE, charge_point_id, connector_id),
        "short_url": short_url(BASE, charge_point_id, connector_id),
    } | fields
    return Label(charge_point_id=charge_point_id, connector_id=connector_id, **values)


def test_sheet_is_a_pdf_with_eight_labels_a_page() -> None:
    labels = [label(f"CP-{n}", n % 3 + 1) for n in range(11)]
    data = label_sheet_pdf(labels)

    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert pdf_page_count(data) == page_count(11) == 2
    codes = pdf_qr_codes(data)
    assert len(codes) == 11
    for code, expected in zip(codes, labels, strict=True):
        modules = strip_quiet_zone(code, border=0)
        assert modules == segno_matrix(expected.url)
        assert decode(modules) == expected.url
    text = pdf_text(data)
    for expected in labels:
        assert expected.station_name in text
        assert f"{expected.charge_point_id} · connector {expected.connector_id}" in text
    assert text.count("0.39 EUR/kWh, max 50 kWh") == 11
    assert text.count("Scan to charge · pay by card") == 11
    assert "ev.example.com/cp/CP-0/1" in pdf_text_lines(data)


def test_sheet_prints_euro_signs_and_umlauts_in_the_core_font() -> None:
    data = label_sheet_pdf(
        [label("CP-1", station_name="Müller Straße Süd", price_text="0,39 €/kWh · Öko")]
    )
    text = pdf_text(data)
    assert "Müller Straße Süd" in text
    assert "0,39 €/kWh · Öko" in text
    content = b"".join(pdf_streams(data))
    assert b"0,39 \x80/kWh" in content  # € in WinAnsiEncoding
    assert b"/Encoding /WinAnsiEncoding" in data


def test_letters_the_core_font_lacks_lose_their_accent_or_become_question_marks() -> None:
    assert printable("Łódź Żabka") == "Lódz Zabka"
    assert printable("東京 station") == "?? station"
    assert printable("  a \t b \n\n c ") == "a b\n\nc"
    data = label_sheet_pdf([label("CP-1", station_name="Łódź 東京")])
    assert "Lódz ??" in pdf_text(data)


def test_long_texts_are_cut_with_an_ellipsis() -> None:
    name = "Ladepark am Marktplatz " * 6
    price = "0.355 EUR/kWh, session fee 1.00 EUR, usage fee 0.10 EUR/min " * 8
    lines = pdf_text_lines(label_sheet_pdf([label("CP-1", station_name=name, price_text=price)]))
    # the short link, two lines of name, the code, the price lines, the call to action
    assert lines[1:4] == ["Ladepark am", "Marktplatz…", "CP-1 · connector 1"]
    assert lines[-2:] == ["Scan to charge · pay", "by card"]
    price_lines = lines[4:-2]
    assert 5 <= len(price_lines) < 12
    assert price_lines[-1].endswith("…")


def test_connector_name_and_free_call_to_action() -> None:
    free = label("CP-1", 2, price_text="Free charging", call_to_action=SCAN_FREE)
    named = Label("CP-2", 1, "Garage", "Free charging", start_url(BASE, "CP-2", 1), "Left")
    assert named.code == "CP-2 · connector 1 · Left"
    text = pdf_text(label_sheet_pdf([free, named]))
    assert "Scan to charge · free" in text
    assert "CP-2 · connector 1 · Left" in text


def test_short_link_is_printed_as_typed() -> None:
    lines = pdf_text_lines(label_sheet_pdf([label("CP+1:a", 2)]))
    assert "ev.example.com/cp/CP+1:a/2" in lines


def test_an_empty_sheet_is_refused() -> None:
    with pytest.raises(ValueError, match="no labels"):
        label_sheet_pdf([])


# --- price lines ----------------------------------------------------------------------


def test_price_text() -> None:
    assert price_text(Tariff(free=True)) == "Free charging"
    assert price_text(Tariff()) == "Price not set yet"
    paid = Tariff(price_kwh_millicents=39_000, max_energy_wh=50_000, session_fee_cents=100)
    assert price_text(paid) == (
        "0.39 EUR/kWh, session fee 1.00 EUR, max 50 kWh\n"
        "Card hold 20.50 EUR, the unused part is released"
    )
    assert price_text(Tariff(session_fee_cents=250, currency="chf")).startswith(
        "Session fee 2.50 CHF\n"
    )
