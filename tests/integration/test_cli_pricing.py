"""``chargepoint price`` and ``tag free``, driven in-process against a real database."""

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cli_harness import Env, env_for, query, run
from ocpp_core.db.models import ChargePoint, ChargeTagPrivilege
from ocpp_core.domain.pricing import Tariff
from ocpp_core.domain.tariffs import tariff_of

CP = "CP-1"
PAID = [
    "--per-kwh",
    "0.35",
    "--max-kwh",
    "50",
    "--usage-fee-per-minute",
    "0.10",
    "--usage-max-minutes",
    "60",
    "--session-fee",
    "1.00",
]


@pytest.fixture
def env(migrated: str) -> Env:
    """A migrated database with charge point CP-1 and tag STAFF."""
    env = env_for(migrated)
    run(["chargepoint", "add", "--no-password", CP], env)
    run(["tag", "add", "STAFF"], env)
    return env


def tariff(database_url: str, charge_point_id: str = CP) -> Tariff:
    async def work(session: AsyncSession) -> Tariff:
        row = await session.get(ChargePoint, charge_point_id)
        assert row is not None
        return tariff_of(row, "eur")

    return query(database_url, work)


def privileges(database_url: str) -> list[tuple[str, str | None, str | None]]:
    async def work(session: AsyncSession) -> list[tuple[str, str | None, str | None]]:
        rows = await session.scalars(select(ChargeTagPrivilege))
        return sorted(
            ((row.tag_id, row.charge_point_id, row.note) for row in rows),
            key=lambda row: row[1] or "",
        )

    return query(database_url, work)


def price(env: Env, *args: str, exit_code: int = 0) -> list[str]:
    return run(["chargepoint", "price", CP, *args], env, exit_code=exit_code).output.splitlines()


# --- chargepoint price ------------------------------------------------------------------------


def test_price_a_charge_point(env: Env, migrated: str) -> None:
    lines = price(env, *PAID)

    assert lines == [
        "charge point CP-1: 0.35 EUR/kWh, session fee 1.00 EUR,"
        " usage fee 0.10 EUR/min from start, 0 min grace, at most 60 min, max 50 kWh",
        "card hold: 24.50 EUR",  # 17.50 + 6.00 + 1.00
    ]
    assert tariff(migrated) == Tariff(
        price_kwh_millicents=35_000,
        session_fee_cents=100,
        usage_fee_minute_millicents=10_000,
        usage_max_minutes=60,
        max_energy_wh=50_000,
    )


def test_options_not_given_keep_their_value(env: Env, migrated: str) -> None:
    price(env, *PAID, "--currency", "USD")

    lines = price(
        env, "--per-kwh", "0.355", "--usage-grace-minutes", "10", "--usage-after-charging"
    )

    assert lines[-1] == "card hold: 24.75 USD"
    assert tariff(migrated) == Tariff(
        price_kwh_millicents=35_500,
        session_fee_cents=100,
        usage_fee_minute_millicents=10_000,
        usage_grace_minutes=10,
        usage_max_minutes=60,
        usage_after_charging=True,
        max_energy_wh=50_000,
        currency="usd",
    )
    price(env, "--usage-from-start")
    assert not tariff(migrated).usage_after_charging


def test_free_and_paid_again(env: Env, migrated: str) -> None:
    price(env, *PAID)

    assert price(env, "--free") == ["charge point CP-1: free", "card hold: none (free)"]
    assert tariff(migrated).free
    assert price(env, "--paid")[-1] == "card hold: 24.50 EUR"  # the prices were kept


def test_a_free_station_needs_no_prices(env: Env, migrated: str) -> None:
    price(env, "--free")

    assert tariff(migrated) == Tariff(free=True)


def test_a_value_without_a_change_prints_the_current_tariff(env: Env) -> None:
    price(env, "--session-fee", "2")

    assert price(env) == ["charge point CP-1: session fee 2.00 EUR", "card hold: 2.00 EUR"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--per-kwh", "0.35"], "Error: charge point 'CP-1': a per-kWh price needs --max-kwh"),
        (
            ["--usage-fee-per-minute", "0.1"],
            "a usage fee needs --usage-max-minutes: it bounds the card hold",
        ),
        ([], "no price: set --per-kwh, --session-fee or --usage-fee-per-minute, or --free"),
        (["--paid"], "no price"),
        (["--per-kwh", "0.355555", "--max-kwh", "50"], "Error: --per-kwh: '0.355555' must be"),
        (["--session-fee", "1.005"], "--session-fee: '1.005' must be non-negative with at most 2"),
        (["--session-fee", "-1"], "--session-fee: '-1' must be non-negative"),
        (["--session-fee", "one"], "--session-fee: 'one' is not a number"),
        (["--session-fee", "NaN"], "--session-fee: 'NaN' is not a number"),
        (["--max-kwh", "1.0001", "--per-kwh", "1"], "--max-kwh: '1.0001' must be"),
        (["--per-kwh", "0.00001", "--max-kwh", "1"], "the hold would be zero"),
        (["--session-fee", "0.30"], "the hold of 0.30 EUR is below the 0.50 EUR"),
        (["--session-fee", "1000000"], "is more than a card payment may be (999999.99 EUR)"),
        (["--session-fee", "1", "--currency", "JPY"], "only currencies with two decimals"),
        (["--session-fee", "1", "--currency", "euro"], "three-letter ISO 4217 code"),
    ],
)
def test_an_invalid_tariff_stores_nothing(
    env: Env, migrated: str, args: list[str], message: str
) -> None:
    output = "\n".join(price(env, *args, exit_code=1))

    assert message in output
    assert "Traceback" not in output
    assert tariff(migrated) == Tariff()


def test_a_negative_minute_count_is_a_usage_error(env: Env, migrated: str) -> None:
    output = "\n".join(price(env, "--usage-grace-minutes", "-1", exit_code=2))

    assert "Invalid value for '--usage-grace-minutes'" in output
    assert tariff(migrated) == Tariff()


def test_an_invalid_change_keeps_the_stored_tariff(env: Env, migrated: str) -> None:
    price(env, *PAID)

    price(env, "--max-kwh", "0", exit_code=1)

    assert tariff(migrated).max_energy_wh == 50_000


def test_pricing_an_unknown_charge_point(env: Env) -> None:
    result = run(["chargepoint", "price", "CP-NONE", "--free"], env, exit_code=1)

    assert "Error: charge point 'CP-NONE' does not exist: add it with" in result.output


def test_the_default_currency_comes_from_the_settings(env: Env, migrated: str) -> None:
    lines = price({**env, "OCPP_CORE_STRIPE__CURRENCY": "chf"}, "--session-fee", "1")

    assert lines[-1] == "card hold: 1.00 CHF"
    assert tariff(migrated).currency == "chf"


# --- tag free ---------------------------------------------------------------------------------


def test_grant_and_revoke_free_charging(env: Env, migrated: str) -> None:
    everywhere = run(["tag", "free", "STAFF", "--note", "caretaker"], env).output
    here = run(["tag", "free", "STAFF", "--charge-point", CP], env).output

    assert everywhere.strip() == "tag STAFF charges for free at every station"
    assert here.strip() == "tag STAFF charges for free at CP-1"
    assert privileges(migrated) == [("STAFF", None, "caretaker"), ("STAFF", CP, None)]

    revoked = run(["tag", "free", "STAFF", "--revoke"], env).output
    again = run(["tag", "free", "STAFF", "--revoke"], env).output

    assert revoked.strip() == "tag STAFF no longer charges for free at every station"
    assert again.strip() == "tag STAFF had no privilege to charge for free at every station"
    assert privileges(migrated) == [("STAFF", CP, None)]


def test_granting_twice_is_harmless(env: Env, migrated: str) -> None:
    run(["tag", "free", "STAFF", "--charge-point", CP, "--note", "one"], env)
    run(["tag", "free", "STAFF", "--charge-point", CP, "--note", "two"], env)

    assert privileges(migrated) == [("STAFF", CP, "two")]


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["NOBODY"], 1, "Error: tag 'NOBODY' does not exist: add it with `ocpp-core tag add`"),
        (["STAFF", "--charge-point", "CP-NONE"], 1, "charge point 'CP-NONE' does not exist"),
        (["STAFF", "--note", "n" * 201], 1, "--note must be at most 200 characters"),
        (["STAFF", "--revoke", "--note", "x"], 2, "--note goes with a grant, not with --revoke"),
    ],
)
def test_a_wrong_grant_is_refused(
    env: Env, migrated: str, args: list[str], exit_code: int, message: str
) -> None:
    result = run(["tag", "free", *args], env, exit_code=exit_code)

    assert message in result.output
    assert privileges(migrated) == []
