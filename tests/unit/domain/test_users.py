"""Operators on a real database: adding, roles, checking passwords, upgrading old hashes."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from builders import NOW
from ocpp_core.db.models import User
from ocpp_core.db.session import Database
from ocpp_core.domain import users
from ocpp_core.domain.users import Operator, Role, UserError
from ocpp_core.security import ScryptCost, hash_password

PASSWORD = "ada-says-correct-horse"


async def add(db: Database, name: str = "ada", role: Role = Role.ADMIN) -> Operator:
    async with db.session() as session:
        return await users.add(session, name=name, password=PASSWORD, role=role, now=NOW)


async def stored(db: Database, name: str) -> User:
    async with db.session() as session:
        row = await session.scalar(select(User).where(User.name == name))
    assert row is not None
    return row


async def test_an_added_user_is_stored_hashed_with_its_role(db: Database) -> None:
    added = await add(db, "ada", Role.ADMIN)

    row = await stored(db, "ada")
    assert added == Operator(row.id, "ada", Role.ADMIN)
    assert added.is_admin
    assert row.password_hash.startswith("scrypt$")
    assert PASSWORD not in row.password_hash
    assert (row.created_at, row.last_login_at) == (NOW, None)


async def test_a_viewer_is_not_an_admin(db: Database) -> None:
    assert not (await add(db, "vic", Role.VIEWER)).is_admin


async def test_a_taken_name_is_refused(db: Database) -> None:
    await add(db, "ada")

    with pytest.raises(UserError, match="already exists"):
        await add(db, "ada", Role.VIEWER)


@pytest.mark.parametrize("name", ["", " ada", "ada ", "a\tb", "x" * 101])
async def test_a_bad_name_is_refused(db: Database, name: str) -> None:
    with pytest.raises(UserError, match="name"):
        await add(db, name)


async def test_a_short_password_is_refused(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(UserError, match="at least 8"):
            await users.add(session, name="ada", password="short", role=Role.ADMIN, now=NOW)


async def test_the_right_password_logs_in_and_is_recorded(db: Database) -> None:
    added = await add(db)
    later = NOW + timedelta(hours=1)

    async with db.session() as session:
        user = await users.authenticate(session, name="ada", password=PASSWORD, now=later)

    assert user == added
    assert (await stored(db, "ada")).last_login_at == later


async def test_a_wrong_password_or_name_logs_nobody_in(db: Database) -> None:
    await add(db)

    async with db.session() as session:
        wrong = await users.authenticate(session, name="ada", password="nope-nope", now=NOW)
        unknown = await users.authenticate(session, name="bob", password=PASSWORD, now=NOW)
        case = await users.authenticate(session, name="ADA", password=PASSWORD, now=NOW)

    assert (wrong, unknown, case) == (None, None, None)
    assert (await stored(db, "ada")).last_login_at is None


async def test_a_hash_of_an_older_cost_is_upgraded_at_login(db: Database) -> None:
    await add(db)
    async with db.session() as session:
        row = await session.scalar(select(User).where(User.name == "ada"))
        assert row is not None
        row.password_hash = hash_password(PASSWORD, ScryptCost(10, 8, 1))

    async with db.session() as session:
        assert await users.authenticate(session, name="ada", password=PASSWORD, now=NOW)

    assert (await stored(db, "ada")).password_hash.startswith("scrypt$ln=15,r=8,p=3$")


async def test_a_user_is_found_by_id_and_listed_by_name(db: Database) -> None:
    vic = await add(db, "vic", Role.VIEWER)
    await add(db, "ada")

    async with db.session() as session:
        assert await users.get(session, vic.id) == vic
        assert await users.get(session, vic.id + 100) is None
        assert [row.name for row in await users.list_all(session)] == ["ada", "vic"]
