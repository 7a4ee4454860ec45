"""Who may charge and who may stop: reference section 2.4, on a real database."""

from datetime import timedelta

import pytest

from builders import NOW, add_charge_point, add_tag
from ocpp_core.db.session import Database
from ocpp_core.domain import transactions
from ocpp_core.domain.authorization import Authorization, AuthStatus, authorize, authorize_stop
from ocpp_core.domain.transactions import TransactionStart, TransactionStop

CP = "CP-AUTH-1"


@pytest.fixture
async def db(db: Database) -> Database:
    await add_charge_point(db, CP)
    return db


async def check(db: Database, tag: str, *, deny_concurrent: bool = False) -> Authorization:
    async with db.session() as session:
        return await authorize(session, tag, now=NOW, deny_concurrent=deny_concurrent)


async def check_stop(db: Database, start_tag: str, stop_tag: str | None) -> AuthStatus:
    async with db.session() as session:
        result = await authorize_stop(session, start_tag=start_tag, stop_tag=stop_tag, now=NOW)
    return result.status


async def open_transaction(db: Database, tag: str, *, result: str = "Accepted") -> int:
    async with db.session() as session:
        begin = TransactionStart(CP, 1, tag, NOW - timedelta(minutes=10), 1000)
        row = await transactions.start(session, begin, result=result)
        return row.id


async def close_transaction(db: Database, transaction_id: int) -> None:
    async with db.session() as session:
        row = await transactions.get(session, transaction_id)
        assert row is not None
        end = TransactionStop(CP, transaction_id, None, NOW, 2000, "Local")
        transactions.stop(row, end, max_power_w=400_000, lowest_jump_wh=None)


async def test_an_unknown_tag_is_invalid(db: Database) -> None:
    assert await check(db, "NOBODY") == Authorization(AuthStatus.INVALID)


async def test_a_known_tag_is_accepted_with_its_expiry_and_group(db: Database) -> None:
    expires = NOW + timedelta(days=30)
    await add_tag(db, "DRIVER", parent="FLEET", expires_at=expires)

    assert await check(db, "DRIVER") == Authorization(AuthStatus.ACCEPTED, expires, "FLEET")


async def test_a_tag_without_expiry_or_group_is_accepted(db: Database) -> None:
    await add_tag(db, "DRIVER")

    assert await check(db, "DRIVER") == Authorization(AuthStatus.ACCEPTED)


async def test_a_blocked_tag_is_blocked(db: Database) -> None:
    await add_tag(db, "BLOCKED", blocked=True)

    assert (await check(db, "BLOCKED")).status is AuthStatus.BLOCKED


async def test_blocked_comes_before_expired(db: Database) -> None:
    await add_tag(db, "BOTH", blocked=True, expires_at=NOW - timedelta(days=1))

    assert (await check(db, "BOTH")).status is AuthStatus.BLOCKED


async def test_an_expired_tag_is_expired(db: Database) -> None:
    await add_tag(db, "OLD", expires_at=NOW - timedelta(seconds=1))

    assert (await check(db, "OLD")).status is AuthStatus.EXPIRED


async def test_a_tag_is_valid_up_to_its_expiry(db: Database) -> None:
    await add_tag(db, "EDGE", expires_at=NOW)

    assert (await check(db, "EDGE")).status is AuthStatus.ACCEPTED


async def test_concurrent_tx_when_denied_and_the_tag_charges(db: Database) -> None:
    await add_tag(db, "BUSY")
    await open_transaction(db, "BUSY")

    assert (await check(db, "BUSY", deny_concurrent=True)).status is AuthStatus.CONCURRENT_TX


async def test_an_open_transaction_is_fine_unless_concurrency_is_denied(db: Database) -> None:
    await add_tag(db, "BUSY")
    await open_transaction(db, "BUSY")

    assert (await check(db, "BUSY")).status is AuthStatus.ACCEPTED


async def test_a_stopped_transaction_is_not_concurrent(db: Database) -> None:
    await add_tag(db, "DONE")
    await close_transaction(db, await open_transaction(db, "DONE"))

    assert (await check(db, "DONE", deny_concurrent=True)).status is AuthStatus.ACCEPTED


async def test_a_rejected_start_is_not_concurrent(db: Database) -> None:
    await add_tag(db, "RETRY")
    await open_transaction(db, "RETRY", result="Invalid")

    assert (await check(db, "RETRY", deny_concurrent=True)).status is AuthStatus.ACCEPTED


async def test_another_tags_transaction_is_not_concurrent(db: Database) -> None:
    await add_tag(db, "MINE")
    await add_tag(db, "THEIRS")
    await open_transaction(db, "THEIRS")

    assert (await check(db, "MINE", deny_concurrent=True)).status is AuthStatus.ACCEPTED


async def test_a_blocked_tag_stays_blocked_when_it_also_charges(db: Database) -> None:
    await add_tag(db, "BUSY", blocked=True)
    await open_transaction(db, "BUSY")

    assert (await check(db, "BUSY", deny_concurrent=True)).status is AuthStatus.BLOCKED


async def test_a_stop_without_a_tag_is_accepted(db: Database) -> None:
    assert await check_stop(db, "STARTER", None) is AuthStatus.ACCEPTED


async def test_the_start_tag_may_always_stop(db: Database) -> None:
    await add_tag(db, "STARTER", blocked=True)  # blocked since: it still ends its own session

    assert await check_stop(db, "STARTER", "STARTER") is AuthStatus.ACCEPTED


async def test_a_tag_of_the_same_group_may_stop(db: Database) -> None:
    await add_tag(db, "STARTER", parent="FLEET")
    await add_tag(db, "COLLEAGUE", parent="FLEET")

    assert await check_stop(db, "STARTER", "COLLEAGUE") is AuthStatus.ACCEPTED


async def test_a_tag_of_another_group_may_not_stop(db: Database) -> None:
    await add_tag(db, "STARTER", parent="FLEET")
    await add_tag(db, "STRANGER", parent="OTHER")

    assert await check_stop(db, "STARTER", "STRANGER") is AuthStatus.INVALID


async def test_tags_without_a_group_may_not_stop_each_other(db: Database) -> None:
    await add_tag(db, "STARTER")
    await add_tag(db, "STRANGER")

    assert await check_stop(db, "STARTER", "STRANGER") is AuthStatus.INVALID


async def test_a_grouped_tag_may_not_stop_an_ungrouped_start(db: Database) -> None:
    await add_tag(db, "STARTER")
    await add_tag(db, "GROUPED", parent="FLEET")

    assert await check_stop(db, "STARTER", "GROUPED") is AuthStatus.INVALID


async def test_a_blocked_stopper_of_the_same_group_is_blocked(db: Database) -> None:
    await add_tag(db, "STARTER", parent="FLEET")
    await add_tag(db, "BLOCKED", parent="FLEET", blocked=True)

    assert await check_stop(db, "STARTER", "BLOCKED") is AuthStatus.BLOCKED


async def test_an_expired_stopper_of_the_same_group_is_expired(db: Database) -> None:
    await add_tag(db, "STARTER", parent="FLEET")
    await add_tag(db, "OLD", parent="FLEET", expires_at=NOW - timedelta(days=1))

    assert await check_stop(db, "STARTER", "OLD") is AuthStatus.EXPIRED


async def test_an_unknown_stopper_is_invalid(db: Database) -> None:
    await add_tag(db, "STARTER", parent="FLEET")

    assert await check_stop(db, "STARTER", "NOBODY") is AuthStatus.INVALID
