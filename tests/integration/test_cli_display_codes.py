"""``ocpp-core chargepoint import`` with the drivers' code and location columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cli_harness import Env, env_for, query, run
from ocpp_core.db.models import ChargePoint


@pytest.fixture
def env(migrated: str) -> Env:
    return env_for(migrated)


def codes(database_url: str) -> dict[str, tuple[str | None, str | None]]:
    async def work(session: AsyncSession) -> dict[str, tuple[str | None, str | None]]:
        rows = await session.scalars(select(ChargePoint))
        return {row.id: (row.display_code, row.location) for row in rows}

    return query(database_url, work)


def write_csv(directory: Path, *lines: str) -> str:
    path = directory / "chargers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_code_and_location_columns_are_imported(env: Env, migrated: str, tmp_path: Path) -> None:
    csv_file = write_csv(
        tmp_path,
        "id,name,display_code,location",
        'CP-1,Harbour, HR-ZG-01 ,"Pier 3, level -1"',
        "CP-2,Depot,,",
    )

    result = run(["chargepoint", "import", "--allow-no-password", csv_file], env)

    assert "imported 2 charge points" in result.output
    assert codes(migrated) == {
        "CP-1": ("HR-ZG-01", "Pier 3, level -1"),
        "CP-2": (None, None),
    }


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["CP-1,HR 01", "CP-2,"], "id 'CP-1': display code: use 1-20 of the characters"),
        (["CP-1,HR-01", "CP-2,HR-01"], "display code 'HR-01' appears twice"),
        (["CP-2,TAKEN"], "display code 'TAKEN' is used by charge point 'CP-0'"),
    ],
)
def test_a_bad_or_taken_code_stores_nothing(
    env: Env, migrated: str, tmp_path: Path, rows: list[str], message: str
) -> None:
    taken = write_csv(tmp_path, "id,display_code", "CP-0,TAKEN")
    run(["chargepoint", "import", "--allow-no-password", taken], env)

    bad = write_csv(tmp_path, "id,display_code", *rows)
    result = run(["chargepoint", "import", "--allow-no-password", bad], env, exit_code=1)

    assert message in result.output
    assert codes(migrated) == {"CP-0": ("TAKEN", None)}


def test_importing_a_station_again_with_its_own_code_is_no_clash(
    env: Env, migrated: str, tmp_path: Path
) -> None:
    csv_file = write_csv(tmp_path, "id,display_code", "CP-1,HR-01")
    run(["chargepoint", "import", "--allow-no-password", csv_file], env)

    again = run(["chargepoint", "import", "--allow-no-password", csv_file], env)

    assert "skipped 1 that already exist" in again.output
    assert codes(migrated) == {"CP-1": ("HR-01", None)}
