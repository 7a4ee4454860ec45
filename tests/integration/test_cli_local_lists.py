"""``chargepoint local-list``: choosing a charger's list and reading its state, driven
in-process against a real database."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cli_harness import Env, env_for, query, run
from ocpp_core.domain import local_lists

CP = "CP-1"


@pytest.fixture
def env(migrated: str) -> Env:
    """A migrated database with charge point CP-1 and tags A, B and G (B's group)."""
    env = env_for(migrated)
    run(["chargepoint", "add", "--no-password", CP], env)
    for args in (["A"], ["G"], ["B", "--parent", "G"]):
        run(["tag", "add", *args], env)
    return env


def chosen(database_url: str) -> list[str]:
    async def work(session: AsyncSession) -> list[str]:
        return await local_lists.chosen(session, CP)

    return query(database_url, work)


def test_a_charger_without_a_list_says_so(env: Env) -> None:
    output = run(["chargepoint", "local-list", CP], env).output
    assert output == "CP-1: the server keeps no local list on this charger\n"


def test_chosen_tags_then_a_group_then_every_tag_then_none(env: Env, migrated: str) -> None:
    lines = run(["chargepoint", "local-list", CP, "--tags", "B, A"], env).output.splitlines()
    assert lines == [
        "CP-1: local list of 2 chosen tags: A, B",
        "version on the charger: 0 (0 entries)",
        "due: yes, sent while the charger is connected",
        "last result: - (checked never)",
    ]
    assert chosen(migrated) == ["A", "B"]

    output = run(["chargepoint", "local-list", CP, "--group", "G"], env).output
    assert output.startswith("CP-1: local list of the tags of group G\n")
    assert chosen(migrated) == []

    output = run(["chargepoint", "local-list", CP, "--all"], env).output
    assert output.startswith("CP-1: local list of every tag\n")
    assert run(["chargepoint", "local-list", CP], env).output == output  # the state alone

    output = run(["chargepoint", "local-list", CP, "--none"], env).output
    assert output == "CP-1: the server keeps no local list on this charger\n"


def test_an_empty_choice_is_a_list_of_no_tags(env: Env) -> None:
    output = run(["chargepoint", "local-list", CP, "--tags", ""], env).output
    assert output.startswith("CP-1: local list of 0 chosen tags\n")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["NOPE"], 1, "Error: no charge point 'NOPE'"),
        (["NOPE", "--all"], 1, "Error: no charge point 'NOPE'"),
        ([CP, "--tags", "A,X,W"], 1, "Error: no tag 'W', 'X'"),
        ([CP, "--group", "G" * 21], 1, "Error: group must be 1-20 characters"),
        ([CP, "--all", "--none"], 2, "Error: give one of --all, --group, --tags, --none"),
        ([CP, "--group", "G", "--tags", "A"], 2, "Error: give one of --all, --group"),
        ([], 2, "Missing argument 'CHARGE_POINT_ID'"),
    ],
)
def test_bad_choices_are_refused_in_one_line(
    env: Env, migrated: str, args: list[str], code: int, message: str
) -> None:
    run(["chargepoint", "local-list", CP, "--tags", "A"], env)
    result = run(["chargepoint", "local-list", *args], env, exit_code=code)
    assert message in result.output
    assert "Traceback" not in result.output
    assert chosen(migrated) == ["A"]
