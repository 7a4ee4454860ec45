"""Pricing: the hold, usage minutes, rounding, parsing, and settlement properties."""

from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ocpp_core.domain.pricing import (
    MAX_HOLD_CENTS,
    MAX_SETTING,
    Tariff,
    TariffError,
    amount_to_capture,
    billable_minutes,
    energy_cents,
    format_money,
    hold_cents,
    parse_money,
    settle,
    usage_cents,
)

EUR_PER_KWH = 100_000  # millicents in one currency unit
PAID = Tariff(
    price_kwh_millicents=35_000,  # 0.35 EUR/kWh
    session_fee_cents=100,
    usage_fee_minute_millicents=10_000,  # 0.10 EUR/min
    usage_grace_minutes=10,
    usage_max_minutes=60,
    max_energy_wh=50_000,
)

# --- the hold ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tariff", "expected"),
    [
        # 0.35 * 50 kWh + 0.10 * 60 min + 1.00 = 17.50 + 6.00 + 1.00
        (PAID, 2450),
        # the grace does not shrink the hold: settlement bills up to the cap after it
        (replace(PAID, usage_grace_minutes=0), 2450),
        (replace(PAID, usage_after_charging=True), 2450),
        (Tariff(price_kwh_millicents=35_500, max_energy_wh=22_000), 781),  # 7.81
        (Tariff(session_fee_cents=250), 250),
        (Tariff(usage_fee_minute_millicents=5_000, usage_max_minutes=90), 450),
        # 0.333 * 1.5 kWh = 0.4995 → 0.50: half up at the cent
        (Tariff(price_kwh_millicents=33_300, max_energy_wh=1_500), 50),
        # 0.3333 * 1.5 kWh = 0.49995 → 0.50
        (Tariff(price_kwh_millicents=33_330, max_energy_wh=1_500), 50),
        # 0.00449 EUR/min * 1 min → 0.449 cents → 0
        (Tariff(usage_fee_minute_millicents=449, usage_max_minutes=1, session_fee_cents=1), 1),
        # 0.005 EUR/min * 1 min → exactly half a cent → 1
        (Tariff(usage_fee_minute_millicents=500, usage_max_minutes=1), 1),
    ],
)
def test_the_hold(tariff: Tariff, expected: int) -> None:
    assert hold_cents(tariff) == expected


@pytest.mark.parametrize(
    ("millicents", "energy_wh", "expected"),
    [
        (35_000, 1_000, 35),
        (35_500, 1_000, 36),  # 35.5 cents: half up
        (35_499, 1_000, 35),
        (1, 499_999, 0),  # 0.499999 cents
        (1, 500_000, 1),  # 0.5 cents
        (35_000, 0, 0),
        (35_000, -5, 0),  # a meter that ran backwards delivers nothing
    ],
)
def test_energy_rounds_half_up_at_the_cent(millicents: int, energy_wh: int, expected: int) -> None:
    assert energy_cents(Tariff(price_kwh_millicents=millicents), energy_wh) == expected


def test_usage_rounds_half_up_at_the_cent() -> None:
    tariff = Tariff(usage_fee_minute_millicents=2_500)  # 2.5 cents a minute

    assert [usage_cents(tariff, minutes) for minutes in (0, 1, 2, 3)] == [0, 3, 5, 8]


# --- usage minutes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "grace", "cap", "expected"),
    [
        (0, 0, 60, 0),
        (1, 0, 60, 1),  # a started minute counts
        (60, 0, 60, 1),
        (61, 0, 60, 2),
        (-30, 0, 60, 0),  # a clock that went backwards bills nothing
        (600, 10, 60, 0),  # within the grace
        (601, 10, 60, 1),
        (30 * 60, 10, 60, 20),
        (70 * 60, 10, 60, 60),  # the cap counts after the grace
        (10 * 3600, 10, 60, 60),
        (3600, 0, 0, 0),  # no cap, no minutes
    ],
)
def test_billable_minutes(seconds: int, grace: int, cap: int, expected: int) -> None:
    tariff = Tariff(usage_grace_minutes=grace, usage_max_minutes=cap)

    assert billable_minutes(tariff, seconds) == expected


@pytest.mark.parametrize("after_charging", [False, True])
def test_the_anchor_does_not_change_the_minutes(after_charging: bool) -> None:
    tariff = replace(PAID, usage_after_charging=after_charging)

    settlement = settle(tariff, energy_wh=10_000, usage_seconds=25 * 60 + 1)

    assert (settlement.usage_minutes, settlement.usage_cents) == (16, 160)


def test_only_an_idle_fee_waits_for_the_unplug() -> None:
    assert replace(PAID, usage_after_charging=True).waits_for_unplug
    assert not PAID.waits_for_unplug
    assert not Tariff(usage_after_charging=True, session_fee_cents=100).waits_for_unplug


def test_a_settlement_adds_up() -> None:
    settlement = settle(PAID, energy_wh=12_345, usage_seconds=45 * 60)

    # 0.35 * 12.345 kWh = 4.32075 → 4.32; 35 minutes after 10 of grace * 0.10 = 3.50
    assert (settlement.energy_cents, settlement.usage_minutes, settlement.usage_cents) == (
        432,
        35,
        350,
    )
    assert settlement.total_cents == 432 + 350 + 100


def test_without_a_usage_fee_no_minutes_are_counted() -> None:
    tariff = Tariff(session_fee_cents=100, usage_max_minutes=60)

    assert settle(tariff, energy_wh=1_000, usage_seconds=3600).usage_minutes == 0


# --- capture ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("energy_wh", "authorized", "min_energy", "min_charge", "expected"),
    [
        (12_345, 2450, 1_000, 50, 882),
        (12_345, 500, 1_000, 50, 500),  # never more than authorized
        (999, 2450, 1_000, 50, 0),  # below the minimum energy: not even the session fee
        (1_000, 2450, 1_000, 50, 35 + 350 + 100),  # exactly the minimum energy
        (1_000, 2450, 1_000, 500, 0),  # under the smallest amount worth capturing
        (0, 2450, 0, 0, 450),  # minimums disabled: the fees alone
    ],
)
def test_amount_to_capture(
    energy_wh: int, authorized: int, min_energy: int, min_charge: int, expected: int
) -> None:
    settlement = settle(PAID, energy_wh=energy_wh, usage_seconds=45 * 60)

    amount = amount_to_capture(
        settlement,
        authorized_cents=authorized,
        min_energy_wh=min_energy,
        min_charge_cents=min_charge,
    )

    assert amount == expected


def test_nothing_owed_captures_nothing_even_without_minimums() -> None:
    settlement = settle(Tariff(free=True), energy_wh=5_000, usage_seconds=0)

    assert (
        amount_to_capture(settlement, authorized_cents=0, min_energy_wh=0, min_charge_cents=0) == 0
    )


# --- parsing and formatting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("0.355", EUR_PER_KWH, 35_500),
        ("0.35", EUR_PER_KWH, 35_000),
        ("0.00001", EUR_PER_KWH, 1),
        ("1.10", 100, 110),  # binary floats would give 110.00000000000001
        ("0.1", 100, 10),
        ("2", 100, 200),
        ("22.5", 1000, 22_500),
        ("1.500", 100, 150),  # trailing zeros beyond the scale are still exact
        ("1e2", 100, 10_000),
        (" 3 ", 100, 300),
        ("0", 100, 0),
        ("-0", 100, 0),
        ("21474836.47", 100, MAX_SETTING),
    ],
)
def test_parse_money_is_exact(text: str, scale: int, expected: int) -> None:
    value = parse_money(text, scale=scale, name="--x")

    assert value == expected
    assert type(value) is int


@pytest.mark.parametrize(
    ("text", "scale", "message"),
    [
        ("0.355", 100, "'0.355' must be non-negative with at most 2 decimals"),
        ("0.000001", EUR_PER_KWH, "at most 5 decimals"),
        ("-1", 100, "must be non-negative"),
        ("-0.01", 100, "must be non-negative"),
        ("abc", 100, "'abc' is not a number"),
        ("", 100, "is not a number"),
        ("1,5", 100, "is not a number"),
        ("NaN", 100, "is not a number"),
        ("sNaN", 100, "is not a number"),
        ("Infinity", 100, "is not a number"),
        ("-Infinity", 100, "is not a number"),
        ("1e999999", 100, "has too many digits"),
        # more digits than a default decimal context keeps: must not be rounded into a yes
        ("1.00000000000000000000000000000001", 100, "at most 2 decimals"),
        ("21474836.48", 100, "is too large"),
    ],
)
def test_parse_money_refuses(text: str, scale: int, message: str) -> None:
    with pytest.raises(TariffError) as raised:
        parse_money(text, scale=scale, name="--x")

    assert str(raised.value).startswith("--x: ")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [(2450, "eur", "24.50 EUR"), (5, "usd", "0.05 USD"), (0, "eur", "0.00 EUR")],
)
def test_format_money(cents: int, currency: str, expected: str) -> None:
    assert format_money(cents, currency) == expected


# --- problems ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tariff", "problem"),
    [
        (Tariff(price_kwh_millicents=35_000), "a per-kWh price needs --max-kwh"),
        (Tariff(usage_fee_minute_millicents=10_000), "a usage fee needs --usage-max-minutes"),
        (Tariff(), "no price: set --per-kwh, --session-fee or --usage-fee-per-minute, or --free"),
        (Tariff(max_energy_wh=50_000), "no price"),
        (replace(PAID, session_fee_cents=-1), "--session-fee must not be negative"),
        (replace(PAID, price_kwh_millicents=-1), "--per-kwh must not be negative"),
        (replace(PAID, usage_grace_minutes=-1), "--usage-grace-minutes must not be negative"),
        (replace(PAID, usage_max_minutes=-1), "--usage-max-minutes must not be negative"),
        (replace(PAID, max_energy_wh=-1), "--max-kwh must not be negative"),
        (replace(PAID, usage_fee_minute_millicents=-1), "--usage-fee-per-minute must not be"),
        (replace(PAID, max_energy_wh=MAX_SETTING + 1), "--max-kwh is too large"),
        # 0.001 cents a kWh * 1 kWh rounds to nothing
        (Tariff(price_kwh_millicents=1, max_energy_wh=1_000), "the hold would be zero"),
        (Tariff(session_fee_cents=MAX_HOLD_CENTS + 1), "is more than a card payment may be"),
        (replace(PAID, currency="EUR"), "three-letter ISO 4217 code, lower case"),
        (replace(PAID, currency="euro"), "three-letter ISO 4217 code"),
        (replace(PAID, currency="jpy"), "only currencies with two decimals"),
        (replace(PAID, currency="kwd"), "only currencies with two decimals"),
        (Tariff(free=True, session_fee_cents=-5), "--session-fee must not be negative"),
    ],
)
def test_a_tariff_that_cannot_be_charged_says_why(tariff: Tariff, problem: str) -> None:
    found = tariff.problem()

    assert found is not None
    assert problem in found


@pytest.mark.parametrize(
    "tariff",
    [
        PAID,
        Tariff(free=True),  # free needs nothing
        Tariff(free=True, price_kwh_millicents=35_000),  # nor a cap for prices it won't charge
        Tariff(session_fee_cents=MAX_HOLD_CENTS),
        Tariff(session_fee_cents=1),
        Tariff(usage_fee_minute_millicents=10_000, usage_max_minutes=30, usage_grace_minutes=90),
        replace(PAID, currency="usd"),
    ],
)
def test_a_tariff_without_problems(tariff: Tariff) -> None:
    assert tariff.problem() is None


def test_only_the_flag_makes_a_station_free() -> None:
    assert Tariff(free=True, session_fee_cents=100).is_free
    assert not Tariff().is_free  # unpriced is unconfigured: never give energy away by default


# --- settlement properties --------------------------------------------------------------------


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    """Any paid tariff that passes its own check (the only kind a reservation freezes)."""
    tariff = Tariff(
        price_kwh_millicents=draw(st.integers(0, 200_000)),
        session_fee_cents=draw(st.integers(0, 2_000)),
        usage_fee_minute_millicents=draw(st.integers(0, 100_000)),
        usage_grace_minutes=draw(st.integers(0, 120)),
        usage_max_minutes=draw(st.integers(0, 600)),
        usage_after_charging=draw(st.booleans()),
        max_energy_wh=draw(st.integers(0, 150_000)),
    )
    assume(tariff.problem() is None)
    return tariff


def up_to(cap: int) -> st.SearchStrategy[int]:
    """0..cap, with the cap itself often: the hold is tight exactly there."""
    return st.one_of(st.just(cap), st.integers(0, cap))


@st.composite
def sessions(draw: st.DrawFn) -> tuple[Tariff, int, int]:
    """A tariff, energy up to its cap and a stay up to the last billable second."""
    tariff = draw(tariffs())
    window = (tariff.usage_grace_minutes + tariff.usage_max_minutes) * 60
    return tariff, draw(up_to(tariff.max_energy_wh)), draw(up_to(window))


@given(sessions(), st.integers(0, 5_000), st.integers(0, 200))
def test_a_session_never_costs_more_than_its_hold(
    session: tuple[Tariff, int, int], min_energy_wh: int, min_charge_cents: int
) -> None:
    tariff, energy_wh, seconds = session
    hold = hold_cents(tariff)

    settlement = settle(tariff, energy_wh=energy_wh, usage_seconds=seconds)
    captured = amount_to_capture(
        settlement,
        authorized_cents=hold,
        min_energy_wh=min_energy_wh,
        min_charge_cents=min_charge_cents,
    )

    assert settlement.total_cents <= hold
    assert captured <= hold
    amounts = (
        settlement.energy_cents,
        settlement.usage_cents,
        settlement.session_fee_cents,
        settlement.total_cents,
        settlement.usage_minutes,
        captured,
    )
    assert all(type(amount) is int and amount >= 0 for amount in amounts)
    if energy_wh < min_energy_wh:
        assert captured == 0


@given(sessions(), st.integers(0, 10**9))
def test_capture_never_exceeds_what_was_authorized(
    session: tuple[Tariff, int, int], authorized: int
) -> None:
    """Even past the tariff's caps (a charger that overshoots), the card pays at most the hold."""
    tariff, energy_wh, seconds = session

    settlement = settle(tariff, energy_wh=energy_wh * 3, usage_seconds=seconds * 3)
    captured = amount_to_capture(
        settlement, authorized_cents=authorized, min_energy_wh=0, min_charge_cents=0
    )

    assert 0 <= captured <= min(authorized, settlement.total_cents)


@given(sessions(), st.integers(0, 50_000), st.integers(0, 36_000))
def test_the_total_grows_with_energy_and_time(
    session: tuple[Tariff, int, int], more_wh: int, more_seconds: int
) -> None:
    tariff, energy_wh, seconds = session

    base = settle(tariff, energy_wh=energy_wh, usage_seconds=seconds).total_cents
    more_energy = settle(tariff, energy_wh=energy_wh + more_wh, usage_seconds=seconds)
    more_time = settle(tariff, energy_wh=energy_wh, usage_seconds=seconds + more_seconds)

    assert more_energy.total_cents >= base
    assert more_time.total_cents >= base


@given(sessions(), st.integers(1, 5_000))
def test_below_the_minimum_energy_nothing_is_captured(
    session: tuple[Tariff, int, int], min_energy_wh: int
) -> None:
    tariff, _, seconds = session
    settlement = settle(tariff, energy_wh=min_energy_wh - 1, usage_seconds=seconds)

    captured = amount_to_capture(
        settlement,
        authorized_cents=hold_cents(tariff),
        min_energy_wh=min_energy_wh,
        min_charge_cents=0,
    )

    assert captured == 0


@given(tariffs())
def test_the_hold_is_what_a_session_at_the_caps_costs(tariff: Tariff) -> None:
    window = (tariff.usage_grace_minutes + tariff.usage_max_minutes) * 60

    settlement = settle(tariff, energy_wh=tariff.max_energy_wh, usage_seconds=window)

    assert settlement.total_cents == hold_cents(tariff) > 0
