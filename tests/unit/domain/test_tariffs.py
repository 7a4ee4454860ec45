"""Stored tariffs and free-charging privileges, on a real database."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from builders import NOW, add_charge_point, add_tag
from ocpp_core.db.models import ChargePoint, ChargeTagPrivilege
from ocpp_core.db.session import Database
from ocpp_core.domain.pricing import Tariff, TariffError
from ocpp_core.domain.tariffs import (
    current_tariff,
    describe,
    grant_free_charging,
    has_free_charging,
    revoke_free_charging,
    set_tariff,
    tariff_of,
)

CP = "CP-PRICE-1"
OTHER_CP = "CP-PRICE-2"
TAG = "STAFF-1"
PAID = Tariff(
    price_kwh_millicents=35_500,
    session_fee_cents=100,
    usage_fee_minute_millicents=10_000,
    usage_grace_minutes=15,
    usage_max_minutes=120,
    usage_after_charging=True,
    max_energy_wh=60_000,
    currency="usd",
)


@pytest.fixture
async def db(db: Database) -> Database:
    await add_charge_point(db, CP)
    await add_charge_point(db, OTHER_CP)
    await add_tag(db, TAG)
    return db


async def stored(db: Database, charge_point_id: str = CP) -> Tariff:
    async with db.session() as session:
        return await current_tariff(session, charge_point_id, default_currency="eur")


async def privileges(db: Database) -> list[tuple[str, str | None, str | None]]:
    async with db.session() as session:
        rows = await session.scalars(
            select(ChargeTagPrivilege).order_by(ChargeTagPrivilege.charge_point_id)
        )
        return [(row.tag_id, row.charge_point_id, row.note) for row in rows]


async def grant(db: Database, charge_point_id: str | None, note: str | None = None) -> None:
    async with db.session() as session:
        await grant_free_charging(
            session, tag_id=TAG, charge_point_id=charge_point_id, note=note, now=NOW
        )


async def is_free(db: Database, charge_point_id: str = CP, *, at: timedelta = timedelta()) -> bool:
    async with db.session() as session:
        return await has_free_charging(
            session, tag_id=TAG, charge_point_id=charge_point_id, now=NOW + at
        )


async def revoke(db: Database, charge_point_id: str | None) -> bool:
    async with db.session() as session:
        return await revoke_free_charging(session, tag_id=TAG, charge_point_id=charge_point_id)


# --- tariffs ----------------------------------------------------------------------------------


async def test_a_new_charge_point_is_unpriced_not_free(db: Database) -> None:
    tariff = await stored(db)

    assert tariff == Tariff(currency="eur")
    assert not tariff.is_free
    assert tariff.problem() is not None


async def test_a_tariff_is_stored_and_read_back(db: Database) -> None:
    async with db.session() as session:
        await set_tariff(session, CP, PAID)

    assert await stored(db) == PAID
    assert await stored(db, OTHER_CP) == Tariff(currency="eur")


async def test_a_row_without_a_currency_takes_the_default(db: Database) -> None:
    async with db.session() as session:
        row = await session.get(ChargePoint, CP)
        assert row is not None
        row.price_kwh_millicents = 30_000

    async with db.session() as session:
        row = await session.get(ChargePoint, CP)
        assert row is not None
        assert row.currency is None
        assert tariff_of(row, "chf").currency == "chf"


async def test_a_free_station_keeps_its_prices_for_later(db: Database) -> None:
    async with db.session() as session:
        await set_tariff(session, CP, PAID)
    async with db.session() as session:
        await set_tariff(session, CP, replace(PAID, free=True))

    assert await stored(db) == replace(PAID, free=True)


@pytest.mark.parametrize(
    ("tariff", "message"),
    [
        (Tariff(price_kwh_millicents=35_000), "a per-kWh price needs --max-kwh"),
        (Tariff(usage_fee_minute_millicents=1_000), "a usage fee needs --usage-max-minutes"),
        (Tariff(), "no price"),
        (replace(PAID, session_fee_cents=-1), "--session-fee must not be negative"),
        (Tariff(price_kwh_millicents=1, max_energy_wh=1), "the hold would be zero"),
        (replace(PAID, currency="jpy"), "only currencies with two decimals"),
    ],
)
async def test_a_tariff_that_cannot_produce_a_hold_is_refused(
    db: Database, tariff: Tariff, message: str
) -> None:
    async with db.session() as session:
        await set_tariff(session, CP, PAID)

    with pytest.raises(TariffError) as raised:
        async with db.session() as session:
            await set_tariff(session, CP, tariff)

    assert str(raised.value).startswith(f"charge point {CP!r}: ")
    assert message in str(raised.value)
    assert await stored(db) == PAID


async def test_a_hold_below_the_capture_minimum_is_refused(db: Database) -> None:
    cheap = Tariff(session_fee_cents=30)

    with pytest.raises(TariffError, match=r"the hold of 0\.30 EUR is below the 0\.50 EUR"):
        async with db.session() as session:
            await set_tariff(session, CP, cheap, min_hold_cents=50)
    async with db.session() as session:
        await set_tariff(session, CP, replace(cheap, free=True), min_hold_cents=50)
        await set_tariff(session, OTHER_CP, replace(cheap, session_fee_cents=50), min_hold_cents=50)

    assert (await stored(db)).free


async def test_an_unknown_charge_point_is_named(db: Database) -> None:
    with pytest.raises(TariffError, match="'CP-NONE' does not exist: add it with"):
        async with db.session() as session:
            await set_tariff(session, "CP-NONE", PAID)
    with pytest.raises(TariffError, match="'CP-NONE' does not exist"):
        await stored(db, "CP-NONE")


@pytest.mark.parametrize(
    ("tariff", "expected"),
    [
        (Tariff(free=True, price_kwh_millicents=35_000), "free"),
        (
            PAID,
            "0.355 USD/kWh, session fee 1.00 USD, usage fee 0.10 USD/min after charging,"
            " 15 min grace, at most 120 min, max 60 kWh",
        ),
        (
            Tariff(price_kwh_millicents=30_000, max_energy_wh=22_500),
            "0.30 EUR/kWh, max 22.5 kWh",
        ),
        (Tariff(session_fee_cents=250), "session fee 2.50 EUR"),
        (Tariff(), "no price"),
    ],
)
def test_describe(tariff: Tariff, expected: str) -> None:
    assert describe(tariff) == expected


# --- free-charging privileges -----------------------------------------------------------------


async def test_a_privilege_for_one_station(db: Database) -> None:
    assert not await is_free(db)

    await grant(db, CP, "caretaker")

    assert await is_free(db)
    assert not await is_free(db, OTHER_CP)
    assert await privileges(db) == [(TAG, CP, "caretaker")]


async def test_a_privilege_for_every_station(db: Database) -> None:
    await grant(db, None)

    assert await is_free(db)
    assert await is_free(db, OTHER_CP)


@pytest.mark.parametrize("charge_point_id", [CP, None])
async def test_granting_twice_keeps_one_privilege(
    db: Database, charge_point_id: str | None
) -> None:
    await grant(db, charge_point_id, "first")
    await grant(db, charge_point_id)
    assert await privileges(db) == [(TAG, charge_point_id, "first")]  # no note: the old one stays

    await grant(db, charge_point_id, "second")

    assert await privileges(db) == [(TAG, charge_point_id, "second")]


async def test_one_station_and_all_stations_are_separate_grants(db: Database) -> None:
    await grant(db, CP)
    await grant(db, None)

    assert await revoke(db, None)
    assert await is_free(db)
    assert not await is_free(db, OTHER_CP)
    assert await revoke(db, CP)
    assert not await is_free(db)
    assert await privileges(db) == []


async def test_revoking_nothing_says_so(db: Database) -> None:
    await grant(db, OTHER_CP)

    assert not await revoke(db, CP)
    assert not await revoke(db, None)
    assert await privileges(db) == [(TAG, OTHER_CP, None)]


async def test_a_blocked_tag_has_no_privilege(db: Database) -> None:
    await add_tag(db, "BLOCKED", blocked=True)
    async with db.session() as session:
        await grant_free_charging(
            session, tag_id="BLOCKED", charge_point_id=None, note=None, now=NOW
        )
        assert not await has_free_charging(session, tag_id="BLOCKED", charge_point_id=CP, now=NOW)


async def test_an_expired_tag_has_no_privilege(db: Database) -> None:
    await add_tag(db, "TEMP", expires_at=NOW + timedelta(days=1))

    async with db.session() as session:
        await grant_free_charging(session, tag_id="TEMP", charge_point_id=CP, note=None, now=NOW)
    async with db.session() as session:
        valid = await has_free_charging(session, tag_id="TEMP", charge_point_id=CP, now=NOW)
        at_expiry = await has_free_charging(
            session, tag_id="TEMP", charge_point_id=CP, now=NOW + timedelta(days=1)
        )
        expired = await has_free_charging(
            session, tag_id="TEMP", charge_point_id=CP, now=NOW + timedelta(days=1, seconds=1)
        )

    assert (valid, at_expiry, expired) == (True, True, False)


async def test_an_unknown_tag_has_no_privilege(db: Database) -> None:
    await grant(db, None)

    async with db.session() as session:
        assert not await has_free_charging(session, tag_id="NOBODY", charge_point_id=CP, now=NOW)


@pytest.mark.parametrize(
    ("tag_id", "charge_point_id", "message"),
    [
        ("NOBODY", CP, "tag 'NOBODY' does not exist: add it with `ocpp-core tag add`"),
        (TAG, "CP-NONE", "charge point 'CP-NONE' does not exist: add it with"),
    ],
)
async def test_granting_to_the_unknown_is_refused(
    db: Database, tag_id: str, charge_point_id: str, message: str
) -> None:
    with pytest.raises(TariffError) as raised:
        async with db.session() as session:
            await grant_free_charging(
                session, tag_id=tag_id, charge_point_id=charge_point_id, note=None, now=NOW
            )

    assert message in str(raised.value)
    assert await privileges(db) == []


async def test_a_note_too_long_for_the_column_is_refused(db: Database) -> None:
    with pytest.raises(TariffError, match="--note must be at most 200 characters"):
        await grant(db, CP, "n" * 201)

    assert await privileges(db) == []
