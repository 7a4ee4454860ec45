"""``tag block``, ``unblock``, ``expire`` and ``delete``, driven in-process against a real
database; the chargers' local lists that hold the tag follow (``chargepoint local-list``
says the list is due)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cli_harness import Env, env_for, query, run
from ocpp_core.db.models import ChargeTag, LocalList

CP = "CP-1"


@pytest.fixture
def env(migrated: str) -> Env:
    """A migrated database with charge point CP-1, tags STAFF and OTHER, and CP-1's list of
    STAFF alone as a finished sync leaves it."""
    env = env_for(migrated)
    run(["chargepoint", "add", "--no-password", CP], env)
    run(["tag", "add", "STAFF"], env)
    run(["tag", "add", "OTHER"], env)
    run(["chargepoint", "local-list", CP, "--tags", "STAFF"], env)
    synced(migrated)
    return env


def synced(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        done = update(LocalList).values(
            done=LocalList.revision, checked_at=datetime.now(UTC), full_needed=False
        )
        await session.execute(done)

    query(database_url, work)


def tag(database_url: str) -> ChargeTag | None:
    async def work(session: AsyncSession) -> ChargeTag | None:
        return await session.get(ChargeTag, "STAFF")

    return query(database_url, work)


def staff(database_url: str) -> tuple[bool, datetime | None]:
    """STAFF's block and expiry."""
    row = tag(database_url)
    assert row is not None
    return row.blocked, row.expires_at


def list_due(env: Env) -> bool:
    output = run(["chargepoint", "local-list", CP], env).output
    return "due: yes" in output


def test_block_and_unblock_a_tag(env: Env, migrated: str) -> None:
    assert not list_due(env)
    assert run(["tag", "block", "STAFF"], env).output == "tag STAFF is blocked\n"
    assert staff(migrated) == (True, None)
    assert list_due(env)

    synced(migrated)
    assert "no longer blocked" in run(["tag", "unblock", "STAFF"], env).output
    assert staff(migrated) == (False, None)
    assert list_due(env)


def test_a_tag_not_in_the_list_leaves_it_alone(env: Env) -> None:
    run(["tag", "block", "OTHER"], env)
    assert not list_due(env)


def test_expire_a_tag_then_never(env: Env, migrated: str) -> None:
    result = run(["tag", "expire", "STAFF", "--at", "2030-01-01T18:30:00"], env)
    assert result.output == "tag STAFF expires at 2030-01-01T18:30:00+00:00\n"
    assert staff(migrated) == (False, datetime(2030, 1, 1, 18, 30, tzinfo=UTC))
    assert list_due(env)

    synced(migrated)
    assert run(["tag", "expire", "STAFF", "--never"], env).output == "tag STAFF never expires\n"
    assert staff(migrated) == (False, None)
    assert list_due(env)


def test_delete_a_tag(env: Env, migrated: str) -> None:
    assert run(["tag", "delete", "STAFF"], env).output == "deleted tag STAFF\n"
    assert tag(migrated) is None
    output = run(["chargepoint", "local-list", CP], env).output
    assert "0 chosen tags" in output
    assert "due: yes" in output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["block", "NOPE"], 1, "Error: no tag 'NOPE'"),
        (["unblock", "NOPE"], 1, "Error: no tag 'NOPE'"),
        (["expire", "NOPE", "--never"], 1, "Error: no tag 'NOPE'"),
        (["delete", "NOPE"], 1, "Error: no tag 'NOPE'"),
        (["expire", "STAFF"], 2, "Error: give one of --at or --never"),
        (["expire", "STAFF", "--at", "2030-01-01", "--never"], 2, "Error: give one of --at"),
        (["expire", "STAFF", "--at", "soon"], 2, "Invalid value for '--at'"),
        (["block"], 2, "Missing argument 'TAG_ID'"),
    ],
)
def test_bad_tag_commands_are_refused_in_one_line(
    env: Env, migrated: str, args: list[str], code: int, message: str
) -> None:
    result = run(["tag", *args], env, exit_code=code)
    assert message in result.output
    assert "Traceback" not in result.output
    assert staff(migrated) == (False, None)
    assert not list_due(env)
