"""``ocpp-core tag``: charge tags (RFID cards, tokens): add them, block, expire or delete
them, and let them charge for free.

Every change goes through ``domain.tags``, so the chargers' local lists that hold a tag
follow by themselves. The database layer is imported by each command as it runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from ocpp_core.chargepoint_cli import provisioning_errors
from ocpp_core.cli_support import cli_settings, in_session, run
from ocpp_core.clock import utc_now

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# What ``tag add --expires`` and ``tag expire --at`` take: UTC, to the second.
WHEN = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])


def _errors() -> tuple[type[Exception], ...]:
    """What a command reports as a plain message; imported only once a command runs."""
    from ocpp_core.domain.tags import TagError

    return (*provisioning_errors(), TagError)


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=utc_now().tzinfo)


@click.group()
def tag() -> None:
    """Provision charge tags (RFID cards, tokens)."""


@tag.command("add")
@click.argument("tag_id")
@click.option("--name", help="Who holds it.")
@click.option("--parent", help="Group tag: tags of one group may stop each other's sessions.")
@click.option(
    "--expires",
    type=WHEN,
    help="Expiry, UTC (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS).",
)
@click.option("--blocked", is_flag=True, help="Add it blocked.")
@click.pass_context
def tag_add(
    ctx: click.Context,
    tag_id: str,
    name: str | None,
    parent: str | None,
    expires: datetime | None,
    blocked: bool,
) -> None:
    """Add a charge tag."""
    from ocpp_core.domain import tags
    from ocpp_core.domain.tags import NewTag

    expires_at = _utc(expires) if expires else None
    new = NewTag(tag_id, name, parent, expires_at, blocked)
    run(in_session(cli_settings(ctx), lambda s: tags.add(s, new, now=utc_now())), *_errors())
    click.echo(f"added tag {tag_id}")


@tag.command("free")
@click.argument("tag_id")
@click.option("--charge-point", "charge_point_id", help="Only at this station (default: all).")
@click.option("--note", help="Why, for whoever reviews the privileges later.")
@click.option("--revoke", is_flag=True, help="Take the privilege away instead.")
@click.pass_context
def tag_free(
    ctx: click.Context, tag_id: str, charge_point_id: str | None, note: str | None, revoke: bool
) -> None:
    """Let a tag charge for free, at one station or at all of them."""
    from ocpp_core.domain import tariffs

    where = f"at {charge_point_id}" if charge_point_id else "at every station"
    settings = cli_settings(ctx)
    if revoke:
        if note is not None:
            raise click.UsageError("--note goes with a grant, not with --revoke")
        removed = run(
            in_session(
                settings,
                lambda s: tariffs.revoke_free_charging(
                    s, tag_id=tag_id, charge_point_id=charge_point_id
                ),
            ),
            *_errors(),
        )
        verb = "no longer charges" if removed else "had no privilege to charge"
        click.echo(f"tag {tag_id} {verb} for free {where}")
        return
    run(
        in_session(
            settings,
            lambda s: tariffs.grant_free_charging(
                s, tag_id=tag_id, charge_point_id=charge_point_id, note=note, now=utc_now()
            ),
        ),
        *_errors(),
    )
    click.echo(f"tag {tag_id} charges for free {where}")


@tag.command("block")
@click.argument("tag_id")
@click.pass_context
def tag_block(ctx: click.Context, tag_id: str) -> None:
    """Block a tag: chargers and their local lists refuse it."""
    _change(ctx, tag_id, f"tag {tag_id} is blocked", blocked=True)


@tag.command("unblock")
@click.argument("tag_id")
@click.pass_context
def tag_unblock(ctx: click.Context, tag_id: str) -> None:
    """Unblock a tag."""
    _change(ctx, tag_id, f"tag {tag_id} is no longer blocked", blocked=False)


@tag.command("expire")
@click.argument("tag_id")
@click.option("--at", "at", type=WHEN, help="Expiry, UTC (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS).")
@click.option("--never", is_flag=True, help="The tag no longer expires.")
@click.pass_context
def tag_expire(ctx: click.Context, tag_id: str, at: datetime | None, never: bool) -> None:
    """Set when a tag expires (--at), or that it never does (--never)."""
    if (at is None) == (not never):
        raise click.UsageError("give one of --at or --never")
    expires_at = None if at is None else _utc(at)
    said = "never expires" if expires_at is None else f"expires at {expires_at.isoformat()}"
    _change(ctx, tag_id, f"tag {tag_id} {said}", expires_at=expires_at)


@tag.command("delete")
@click.argument("tag_id")
@click.pass_context
def tag_delete(ctx: click.Context, tag_id: str) -> None:
    """Delete a tag; past transactions keep its id."""
    from ocpp_core.domain import tags
    from ocpp_core.domain.tags import UnknownTag

    async def work(session: AsyncSession) -> None:
        if not await tags.remove(session, tag_id):
            raise UnknownTag(tag_id)

    run(in_session(cli_settings(ctx), work), *_errors())
    click.echo(f"deleted tag {tag_id}")


def _change(ctx: click.Context, tag_id: str, done: str, **changes: Any) -> None:
    from ocpp_core.domain import tags

    run(in_session(cli_settings(ctx), lambda s: tags.change(s, tag_id, **changes)), *_errors())
    click.echo(done)
