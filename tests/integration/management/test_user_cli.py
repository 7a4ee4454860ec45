"""``ocpp-core user add``, driven in-process against a real database."""

from __future__ import annotations

import pytest

from cli_harness import Env, env_for, query, run
from ocpp_core.clock import utc_now
from ocpp_core.domain import users
from ocpp_core.domain.users import Operator, Role


@pytest.fixture
def env(migrated: str) -> Env:
    return env_for(migrated)


def log_in(env: Env, name: str, password: str) -> Operator | None:
    return query(
        str(env["OCPP_CORE_DATABASE_URL"]),
        lambda s: users.authenticate(s, name=name, password=password, now=utc_now()),
    )


def test_a_generated_password_is_printed_once_and_works(env: Env) -> None:
    result = run(["user", "add", "ada", "--admin"], env)

    lines = result.output.splitlines()
    assert lines[0] == "added administrator ada"
    password = lines[1].removeprefix("password (shown once): ")
    assert len(password) >= 16
    user = log_in(env, "ada", password)
    assert user is not None
    assert user.role is Role.ADMIN


def test_a_given_password_is_used_and_not_printed(env: Env) -> None:
    result = run(["user", "add", "vic", "--password", "vic-says-battery-staple"], env)

    assert result.output == "added viewer vic\n"
    user = log_in(env, "vic", "vic-says-battery-staple")
    assert user is not None
    assert user.role is Role.VIEWER


def test_a_prompted_password_is_hidden_and_confirmed(env: Env) -> None:
    typed = "typed-in-password\ntyped-in-password\n"

    result = run(["user", "add", "ada", "--admin", "--prompt"], env, stdin=typed)

    assert "typed-in-password" not in result.output
    assert "added administrator ada" in result.output
    assert log_in(env, "ada", "typed-in-password") is not None


def test_password_and_prompt_together_are_a_usage_error(env: Env) -> None:
    result = run(["user", "add", "ada", "--password", "x" * 10, "--prompt"], env, exit_code=2)

    assert "--password or --prompt, not both" in result.output


def test_a_taken_name_is_a_clear_error(env: Env) -> None:
    run(["user", "add", "ada"], env)

    result = run(["user", "add", "ada", "--admin"], env, exit_code=1)

    assert "Error: user 'ada' already exists" in result.output


def test_a_short_password_is_refused(env: Env) -> None:
    result = run(["user", "add", "ada", "--password", "short"], env, exit_code=1)

    assert "password must be at least 8 characters" in result.output
    assert log_in(env, "ada", "short") is None


def test_an_empty_password_is_refused_not_replaced(env: Env) -> None:
    result = run(["user", "add", "ada", "--password", ""], env, exit_code=1)

    assert "password must be at least 8 characters" in result.output


def test_the_management_command_refuses_a_missing_session_secret(env: Env) -> None:
    with_key = {**env, "OCPP_CORE_API_KEY": "k" * 20}

    result = run(["management", "--port", "0"], with_key, exit_code=1)

    assert "OCPP_CORE_MANAGEMENT__SESSION_SECRET" in result.output
