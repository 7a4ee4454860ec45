"""Secrets: charger passwords are stored hashed and compared in constant time."""

import pytest

from ocpp_core.security import (
    MAX_CHARGER_PASSWORD,
    MIN_CHARGER_PASSWORD,
    charger_password_problem,
    hash_secret,
    keys_equal,
    verify_secret,
)

SECRET = "correct-horse-battery-staple"


def test_a_hashed_secret_verifies() -> None:
    stored = hash_secret(SECRET)

    assert SECRET not in stored
    assert verify_secret(SECRET, stored)


def test_a_wrong_secret_does_not_verify() -> None:
    stored = hash_secret(SECRET)

    assert not verify_secret(SECRET + "x", stored)
    assert not verify_secret("", stored)


def test_non_ascii_secrets_round_trip() -> None:
    assert verify_secret("pässwörd-ünïcödé-ß", hash_secret("pässwörd-ünïcödé-ß"))


def test_every_hash_has_its_own_salt() -> None:
    first, second = hash_secret(SECRET), hash_secret(SECRET)

    assert first != second
    assert verify_secret(SECRET, first)
    assert verify_secret(SECRET, second)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        SECRET,  # a plain-text password left from an import is never accepted as a hash
        "sha256$",
        "sha256$salt",
        "sha256$$digest",
        "sha256$salt$",
        "md5$salt$digest",
        "sha256$salt$dïgest",  # non-ASCII: must not raise inside compare_digest
    ],
)
def test_a_malformed_stored_value_never_matches(stored: str) -> None:
    assert not verify_secret(SECRET, stored)


def test_a_hash_with_a_tampered_digest_does_not_verify() -> None:
    stored = hash_secret(SECRET)
    tampered = stored[:-1] + ("0" if stored[-1] != "0" else "1")

    assert not verify_secret(SECRET, tampered)


@pytest.mark.parametrize(
    ("given", "expected", "equal"),
    [
        ("api-key-0123456789", "api-key-0123456789", True),
        ("api-key-0123456789", "api-key-012345678", False),
        ("", "api-key-0123456789", False),
        ("", "", True),
        ("ключ-ключ-ключ-ключ", "ключ-ключ-ключ-ключ", True),
    ],
)
def test_keys_equal(given: str, expected: str, equal: bool) -> None:
    assert keys_equal(given, expected) is equal


@pytest.mark.parametrize(
    "password",
    [
        "a" * MIN_CHARGER_PASSWORD,
        "a" * MAX_CHARGER_PASSWORD,
        "with spaces and ~!@#$%^&*()",
    ],
)
def test_acceptable_charger_passwords(password: str) -> None:
    assert charger_password_problem(password) is None


@pytest.mark.parametrize(
    "password", ["", "a" * (MIN_CHARGER_PASSWORD - 1), "a" * (MAX_CHARGER_PASSWORD + 1)]
)
def test_charger_password_length_is_16_to_40(password: str) -> None:
    problem = charger_password_problem(password)

    assert problem is not None
    assert "16 to 40 characters" in problem


@pytest.mark.parametrize(
    "password", ["pässwörd-0123456789", "tab\there-0123456789", "newline\n-0123456789"]
)
def test_charger_password_must_be_printable_ascii(password: str) -> None:
    assert charger_password_problem(password) == "password must be printable ASCII"
