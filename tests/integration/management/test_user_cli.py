"""``ocpp-core user ...``, driven in-process against a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cli_harness import Env, env_for, query, run
from integration.management.pages import PASSWORD_COST
from ocpp_core.clock import utc_now
from ocpp_core.db.models import User
from ocpp_core.domain import users
from ocpp_core.domain.users import Operator, Role
from ocpp_core.security import ScryptCost


@pytest.fixture
def env(migrated: str) -> Env:
    """The commands hash at ``management.password_cost``'s floor (see ``pages.PASSWORD_COST``)."""
    return {**env_for(migrated), "OCPP_CORE_MANAGEMENT__PASSWORD_COST": str(PASSWORD_COST)}


def log_in(env: Env, name: str, password: str) -> Operator | None:
    cost = ScryptCost(PASSWORD_COST)
    return query(
        str(env["OCPP_CORE_DATABASE_URL"]),
        lambda s: users.authenticate(s, name=name, password=password, now=utc_now(), cost=cost),
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


# --- changing operators ----------------------------------------------------------------------


def stored(env: Env, name: str) -> User | None:
    return query(
        str(env["OCPP_CORE_DATABASE_URL"]),
        lambda s: s.scalar(select(User).where(User.name == name)),
    )


@pytest.fixture
def team(env: Env) -> Env:
    """ada, the administrator, and vic, a viewer."""
    run(["user", "add", "ada", "--admin", "--password", "ada-says-correct-horse"], env)
    run(["user", "add", "vic", "--password", "vic-says-battery-staple"], env)
    return env


def test_a_password_is_typed_hidden_and_confirmed(team: Env) -> None:
    result = run(["user", "password", "vic"], team, stdin="typed-new-secret\ntyped-new-secret\n")

    assert "typed-new-secret" not in result.output
    assert "new password for vic; their sessions are ended" in result.output
    assert log_in(team, "vic", "typed-new-secret") is not None
    assert log_in(team, "vic", "vic-says-battery-staple") is None


def test_a_password_may_come_from_standard_input(team: Env) -> None:
    result = run(["user", "password", "vic", "--password-stdin"], team, stdin="from-a-script\n")

    assert result.output == "new password for vic; their sessions are ended\n"
    assert log_in(team, "vic", "from-a-script") is not None


def test_a_weak_password_is_one_clear_error(team: Env) -> None:
    args = ["user", "password", "vic", "--password-stdin"]

    result = run(args, team, stdin="short\n", exit_code=1)

    assert result.output == "Error: password must be at least 8 characters\n"
    assert log_in(team, "vic", "vic-says-battery-staple") is not None


def test_disable_and_enable(team: Env) -> None:
    assert run(["user", "disable", "vic"], team).output == (
        "disabled vic; their sessions are ended\n"
    )
    assert log_in(team, "vic", "vic-says-battery-staple") is None

    assert run(["user", "enable", "vic"], team).output == "enabled vic\n"
    assert log_in(team, "vic", "vic-says-battery-staple") is not None


def test_role(team: Env) -> None:
    assert run(["user", "role", "vic", "admin"], team).output == "vic is an administrator\n"
    assert run(["user", "role", "ada", "viewer"], team).output == "ada is a viewer\n"

    result = run(["user", "role", "vic", "owner"], team, exit_code=2)
    assert "'owner' is not one of 'admin', 'viewer'" in result.output


def test_delete_asks_unless_told_yes(team: Env) -> None:
    kept = run(["user", "delete", "vic"], team, stdin="n\n", exit_code=1)
    assert "Aborted" in kept.output
    assert stored(team, "vic") is not None

    assert run(["user", "delete", "vic"], team, stdin="y\n").output.endswith("deleted vic\n")
    run(["user", "add", "vic", "--password", "vic-says-battery-staple"], team)
    assert run(["user", "delete", "vic", "--yes"], team).output == "deleted vic\n"
    assert stored(team, "vic") is None


@pytest.mark.parametrize(
    "args", [["disable", "ada"], ["delete", "ada", "--yes"], ["role", "ada", "viewer"]]
)
def test_the_last_admin_stays(team: Env, args: list[str]) -> None:
    result = run(["user", *args], team, exit_code=1)

    assert result.output == (
        "Error: ada is the last enabled administrator: make another one first\n"
    )
    row = stored(team, "ada")
    assert row is not None
    assert (row.role, row.disabled) == ("admin", False)


@pytest.mark.parametrize(
    "args", [["disable", "nobody"], ["role", "nobody", "admin"], ["delete", "nobody", "--yes"]]
)
def test_an_unknown_user_is_one_clear_error(team: Env, args: list[str]) -> None:
    assert run(["user", *args], team, exit_code=1).output == "Error: there is no user 'nobody'\n"


def test_the_hash_takes_the_cost_of_the_setting(env: Env) -> None:
    run(["user", "add", "ada", "--password", "ada-says-correct-horse"], env)

    row = stored(env, "ada")
    assert row is not None
    assert row.password_hash.startswith(f"scrypt$ln={PASSWORD_COST},r=8,p=3$")
