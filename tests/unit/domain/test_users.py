"""Operators on a real database: adding, roles, passwords, access, and the last admin."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from builders import NOW
from ocpp_core.db.models import User
from ocpp_core.db.session import Database
from ocpp_core.domain import operator_sessions, users
from ocpp_core.domain.operator_sessions import SessionPolicy
from ocpp_core.domain.users import LastAdmin, NoSuchUser, Operator, Role, UserError, WeakPassword
from ocpp_core.security import OPERATOR_COST, ScryptCost, hash_password

PASSWORD = "ada-says-correct-horse"
# The users' rules, not the hashing: at the product's cost each hash is a fifth of a second
# of CPU. That cost is tested in test_passwords.py, and below where a hash of an older
# cost is upgraded to it.
COST = ScryptCost(10)


async def add(db: Database, name: str = "ada", role: Role = Role.ADMIN) -> Operator:
    async with db.session() as session:
        return await users.add(session, name=name, password=PASSWORD, role=role, now=NOW, cost=COST)


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
            await users.add(
                session, name="ada", password="short", role=Role.ADMIN, now=NOW, cost=COST
            )


async def test_the_right_password_logs_in_and_is_recorded(db: Database) -> None:
    added = await add(db)
    later = NOW + timedelta(hours=1)

    async with db.session() as session:
        user = await users.authenticate(
            session, name="ada", password=PASSWORD, now=later, cost=COST
        )

    assert user == added
    assert (await stored(db, "ada")).last_login_at == later


async def test_a_wrong_password_or_name_logs_nobody_in(db: Database) -> None:
    await add(db)

    async with db.session() as session:
        wrong = await users.authenticate(
            session, name="ada", password="nope-nope", now=NOW, cost=COST
        )
        unknown = await users.authenticate(
            session, name="bob", password=PASSWORD, now=NOW, cost=COST
        )
        case = await users.authenticate(session, name="ADA", password=PASSWORD, now=NOW, cost=COST)

    assert (wrong, unknown, case) == (None, None, None)
    assert (await stored(db, "ada")).last_login_at is None


async def test_a_hash_of_an_older_cost_is_upgraded_at_login(db: Database) -> None:
    await add(db)
    async with db.session() as session:
        row = await session.scalar(select(User).where(User.name == "ada"))
        assert row is not None
        row.password_hash = hash_password(PASSWORD, ScryptCost(10, 8, 1))

    async with db.session() as session:
        assert await users.authenticate(
            session, name="ada", password=PASSWORD, now=NOW, cost=OPERATOR_COST
        )

    assert (await stored(db, "ada")).password_hash.startswith("scrypt$ln=15,r=8,p=3$")


async def test_a_user_is_found_and_listed_by_name(db: Database) -> None:
    vic = await add(db, "vic", Role.VIEWER)
    await add(db, "ada")

    async with db.session() as session:
        assert await users.find(session, "vic") == vic
        with pytest.raises(NoSuchUser, match="there is no user 'bob'"):
            await users.find(session, "bob")
        assert [row.name for row in await users.list_all(session)] == ["ada", "vic"]


# --- changing operators ----------------------------------------------------------------------


POLICY = SessionPolicy(idle=timedelta(hours=12), lifetime=timedelta(days=7))


async def log_in(db: Database, user: Operator) -> str:
    async with db.session() as session:
        return await operator_sessions.start(session, user_id=user.id, policy=POLICY, now=NOW)


async def live(db: Database, token: str) -> bool:
    async with db.session() as session:
        found = await operator_sessions.resolve(session, token=token, policy=POLICY, now=NOW)
        return found is not None


async def change(db: Database, work: Callable[[AsyncSession], Awaitable[object]]) -> None:
    async with db.session() as session:
        await work(session)


async def test_a_disabled_user_cannot_log_in_and_their_sessions_end(db: Database) -> None:
    await add(db, "ada")
    vic = await add(db, "vic", Role.VIEWER)
    token = await log_in(db, vic)

    await change(db, lambda s: users.disable(s, user_id=vic.id))

    assert not await live(db, token)
    async with db.session() as session:
        assert (
            await users.authenticate(session, name="vic", password=PASSWORD, now=NOW, cost=COST)
            is None
        )
    await change(db, lambda s: users.enable(s, user_id=vic.id))
    async with db.session() as session:
        assert (
            await users.authenticate(session, name="vic", password=PASSWORD, now=NOW, cost=COST)
            == vic
        )


async def test_a_new_password_ends_every_session_but_the_one_kept(db: Database) -> None:
    vic = await add(db, "vic", Role.VIEWER)
    kept, other = await log_in(db, vic), await log_in(db, vic)

    await change(
        db,
        lambda s: users.set_password(
            s, user_id=vic.id, password="new-secret", cost=COST, keep_session=kept
        ),
    )

    assert (await live(db, kept), await live(db, other)) == (True, False)
    async with db.session() as session:
        assert (
            await users.check_password(session, name="vic", password="new-secret", cost=COST) == vic
        )
        assert await users.check_password(session, name="vic", password=PASSWORD, cost=COST) is None


async def test_a_weak_new_password_is_refused_and_changes_nothing(db: Database) -> None:
    vic = await add(db, "vic", Role.VIEWER)
    token = await log_in(db, vic)

    with pytest.raises(WeakPassword, match="at least 8"):
        await change(
            db, lambda s: users.set_password(s, user_id=vic.id, password="short", cost=COST)
        )

    assert await live(db, token)


async def test_a_role_change_ends_the_users_sessions(db: Database) -> None:
    await add(db, "ada")
    vic = await add(db, "vic", Role.VIEWER)
    token = await log_in(db, vic)

    await change(db, lambda s: users.set_role(s, user_id=vic.id, role=Role.ADMIN))

    assert not await live(db, token)
    assert (await stored(db, "vic")).role == "admin"


async def test_deleting_a_user_deletes_their_sessions(db: Database) -> None:
    await add(db, "ada")
    vic = await add(db, "vic", Role.VIEWER)
    token = await log_in(db, vic)

    await change(db, lambda s: users.delete(s, user_id=vic.id))

    assert not await live(db, token)
    async with db.session() as session:
        with pytest.raises(NoSuchUser):
            await users.find(session, "vic")


LAST_ADMIN_CHANGES: list[Callable[[AsyncSession, int], Awaitable[Operator]]] = [
    lambda s, i: users.disable(s, user_id=i),
    lambda s, i: users.delete(s, user_id=i),
    lambda s, i: users.set_role(s, user_id=i, role=Role.VIEWER),
]


@pytest.mark.parametrize("removal", LAST_ADMIN_CHANGES, ids=["disable", "delete", "demote"])
async def test_the_last_enabled_admin_stays(
    db: Database, removal: Callable[[AsyncSession, int], Awaitable[Operator]]
) -> None:
    ada = await add(db, "ada")
    await add(db, "vic", Role.VIEWER)
    bob = await add(db, "bob")
    await change(db, lambda s: users.disable(s, user_id=bob.id))  # an admin, but disabled

    with pytest.raises(LastAdmin, match="ada is the last enabled administrator"):
        await change(db, lambda s: removal(s, ada.id))

    row = await stored(db, "ada")
    assert (row.role, row.disabled) == ("admin", False)
    await change(db, lambda s: users.enable(s, user_id=bob.id))
    await change(db, lambda s: removal(s, ada.id))  # now bob is left


@pytest.mark.parametrize("removal", LAST_ADMIN_CHANGES, ids=["disable", "delete", "demote"])
async def test_two_admins_removed_at_once_from_two_nodes_leave_one(
    db: Database, removal: Callable[[AsyncSession, int], Awaitable[Operator]]
) -> None:
    ada, bob = await add(db, "ada"), await add(db, "bob")
    other_node = Database(db.url)
    try:
        async with db.session() as first:
            await removal(first, ada.id)
            # bob's removal starts while ada's is not yet committed...
            racing = asyncio.create_task(change(other_node, lambda s: removal(s, bob.id)))
            await reached_the_lock(db, racing)
        # ...and, once it is, finds bob the last admin.
        with pytest.raises(LastAdmin, match="bob is the last"):
            await racing
    finally:
        await other_node.close()

    async with db.session() as session:
        admins = await session.scalars(
            select(User.name).where(User.role == "admin", User.disabled.is_(False))
        )
        assert admins.all() == ["bob"]


async def reached_the_lock(db: Database, task: asyncio.Task[None]) -> None:
    """Until the task waits for the first transaction's lock (PostgreSQL shows it)."""
    if db.is_sqlite:  # SQLite shows no waiters: give the task time to get there
        await asyncio.sleep(0.5)
        return

    async def waiting() -> bool:
        async with db.engine.connect() as connection:
            query = text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            return bool(await connection.scalar(query))

    async with asyncio.timeout(10):
        while not await waiting():
            assert not task.done(), task
            await asyncio.sleep(0.02)
