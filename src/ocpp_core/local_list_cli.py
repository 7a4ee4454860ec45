"""``ocpp-core chargepoint local-list``: which tags a charger's local list holds, and its state.

The server's sweep sends the list while the charger is connected; this command only
stores the choice (as the API and the management page do) and reads the state back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ocpp_core.chargepoint_cli import provisioning_errors
from ocpp_core.cli_support import cli_settings, in_session, run
from ocpp_core.clock import utc_now

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ocpp_core.domain.local_lists import Summary

SHOWN_TAGS = 20  # chosen tags printed; a longer list says how many more


@click.command("local-list")
@click.argument("charge_point_id")
@click.option("--all", "every_tag", is_flag=True, help="Every tag.")
@click.option("--group", help="The tags of one group (parent tag), and the group's own tag.")
@click.option("--tags", "tag_ids", metavar="T1,T2", help="Exactly these tags, for this charger.")
@click.option("--none", "no_list", is_flag=True, help="Keep no list (the charger keeps its own).")
@click.pass_context
def local_list(
    ctx: click.Context,
    charge_point_id: str,
    every_tag: bool,
    group: str | None,
    tag_ids: str | None,
    no_list: bool,
) -> None:
    """Choose the tags of a charger's local list, or (with no option) print its state:
    the version it holds and whether it is due to be brought up to date."""
    from ocpp_core.domain import chargepoints, local_lists
    from ocpp_core.domain.local_lists import ListError, UnknownCharger

    if sum((every_tag, group is not None, tag_ids is not None, no_list)) > 1:
        raise click.UsageError("give one of --all, --group, --tags, --none")
    chosen = None if tag_ids is None else local_lists.typed_tags(tag_ids)

    async def work(session: AsyncSession) -> Summary:
        if await chargepoints.find(session, charge_point_id) is None:
            raise UnknownCharger(charge_point_id)
        if no_list:
            await local_lists.unassign(session, charge_point_id)
        elif every_tag or group is not None or chosen is not None:
            await local_lists.assign(
                session, charge_point_id, group=group, tags=chosen, now=utc_now()
            )
        await session.flush()
        return await local_lists.summary(session, charge_point_id)

    kept = run(in_session(cli_settings(ctx), work), *provisioning_errors(), ListError)
    for line in _described(charge_point_id, kept):
        click.echo(line)


def _described(charge_point_id: str, kept: Summary) -> list[str]:
    row = kept.row
    if row is None:
        return [f"{charge_point_id}: the server keeps no local list on this charger"]
    if row.chosen_tags:
        more = len(kept.tags) - SHOWN_TAGS
        shown = ", ".join(kept.tags[:SHOWN_TAGS]) + (f" and {more} more" if more > 0 else "")
        holds = f"{len(kept.tags)} chosen tags" + (f": {shown}" if kept.tags else "")
    else:
        holds = "every tag" if row.tag_group is None else f"the tags of group {row.tag_group}"
    due = "no, up to date" if kept.up_to_date else "yes, sent while the charger is connected"
    checked = row.checked_at.isoformat(timespec="seconds") if row.checked_at else "never"
    return [
        f"{charge_point_id}: local list of {holds}",
        f"version on the charger: {row.version} ({row.entries} entries)",
        f"due: {due}",
        f"last result: {row.result or '-'} (checked {checked})",
    ]
