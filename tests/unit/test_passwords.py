"""Operator passwords: scrypt with a salt per password and its cost kept in the hash."""

import pytest

from ocpp_core.security import (
    MAX_OPERATOR_PASSWORD,
    MIN_OPERATOR_PASSWORD,
    OPERATOR_COST,
    ScryptCost,
    burn_password_check,
    hash_password,
    operator_password_problem,
    password_needs_rehash,
    verify_password,
)

PASSWORD = "correct horse battery staple"
CHEAP = ScryptCost(log2_n=10, r=8, p=1)  # most tests need the format, not the cost


def test_a_hashed_password_verifies() -> None:
    stored = hash_password(PASSWORD, CHEAP)

    assert PASSWORD not in stored
    assert verify_password(PASSWORD, stored)


def test_a_wrong_password_does_not_verify() -> None:
    stored = hash_password(PASSWORD, CHEAP)

    assert not verify_password(PASSWORD + " ", stored)
    assert not verify_password("", stored)
    assert not verify_password(PASSWORD.upper(), stored)


def test_the_default_cost_is_owasps_scrypt_floor_and_is_stored() -> None:
    stored = hash_password(PASSWORD)

    scheme, cost, salt, key = stored.split("$")
    assert (scheme, cost) == ("scrypt", "ln=15,r=8,p=3")
    assert ScryptCost(15, 8, 3) == OPERATOR_COST
    assert len(salt) >= 22  # 16 random bytes
    assert len(key) >= 43  # 32 bytes
    assert verify_password(PASSWORD, stored)


def test_every_hash_has_its_own_salt() -> None:
    assert hash_password(PASSWORD, CHEAP) != hash_password(PASSWORD, CHEAP)


def test_a_hash_of_an_older_cost_still_verifies_and_asks_for_a_rehash() -> None:
    stored = hash_password(PASSWORD, CHEAP)

    assert verify_password(PASSWORD, stored)
    assert password_needs_rehash(stored)
    assert not password_needs_rehash(hash_password(PASSWORD, CHEAP), CHEAP)


def test_non_ascii_passwords_work() -> None:
    stored = hash_password("Grüße, 密码 🔑", CHEAP)

    assert verify_password("Grüße, 密码 🔑", stored)
    assert not verify_password("Grusse, 密码 🔑", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "scrypt",
        "sha256$salt$digest",  # a charger secret's format
        "scrypt$ln=10,r=8,p=1$$",
        "scrypt$ln=10,r=8$c2FsdA$a2V5",
        "scrypt$ln=x,r=8,p=1$c2FsdA$a2V5",
        "scrypt$ln=10,r=8,p=1$not base64!$a2V5",
        "scrypt$ln=30,r=8,p=1$c2FsdA$a2V5",  # a tampered row must not cost 128 GiB
        "scrypt$ln=10,r=64,p=1$c2FsdA$a2V5",
        "scrypt$ln=10,r=8,p=99$c2FsdA$a2V5",
    ],
)
def test_a_malformed_or_absurd_hash_never_matches(stored: str) -> None:
    assert not verify_password(PASSWORD, stored)
    assert password_needs_rehash(stored)


def test_the_check_for_an_unknown_user_costs_a_real_check() -> None:
    burn_password_check(PASSWORD)  # runs scrypt at the operator cost and returns nothing


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("x" * (MIN_OPERATOR_PASSWORD - 1), "at least 8"),
        ("x" * (MAX_OPERATOR_PASSWORD + 1), "at most 1024"),
    ],
)
def test_too_short_or_too_long_passwords_are_refused(password: str, problem: str) -> None:
    assert problem in (operator_password_problem(password) or "")


def test_a_long_enough_password_is_fine() -> None:
    assert operator_password_problem("x" * MIN_OPERATOR_PASSWORD) is None
