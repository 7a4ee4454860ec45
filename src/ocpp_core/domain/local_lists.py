"""Local authorization lists: each charger's own copy of the tags, kept up to date by ocpp-core.

Which tags: an operator gives a charger the list of every tag, of one tag group (the
tags whose parent is the group, and the group's own tag), or of tags chosen for that
charger alone. Blocked and expired tags stay in the list with that status, so a charger
that is offline refuses them too.

What the charger holds is kept here (its version, and the entries as it accepted them),
so a change travels as a differential update of what differs. A charger whose version is
not ours (it was reset, or something else wrote its list) and one that refused a
differential update (VersionMismatch, Failed) get the whole list again. Updates are cut
into messages of the charger's ``SendLocalListMaxLength`` (2.x: ItemsPerMessage); a full
list is one Full message and Differential ones after it, each a version further.

The work lives in the database, not in a node: a change to the tags raises the revision
of its groups and of "all tags" (a row each, however many lists hold them), and the own
revision of each chosen list that holds the tag; a list whose revision taken in
(``done``) is below its group's (or its own) is due. Every node's sweep claims due
lists of connected chargers with a lease (``claimed_until``), so the lists of a node that
died are taken over when its lease ends. A charger that is offline keeps its list due
until it connects; one that booted since its last check is checked again (a reset may
have emptied its list).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    ScalarSelect,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.clock import Clock
from ocpp_core.db.dialect import increment
from ocpp_core.db.health import DatabaseUnavailable
from ocpp_core.db.models import (
    ChargePoint,
    ChargeTag,
    LocalList,
    LocalListEntry,
    LocalListRevision,
    LocalListTag,
)
from ocpp_core.db.session import Database
from ocpp_core.domain.authorization import tag_status
from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.commands import (
    Command,
    GetLocalListVersion,
    ListEntry,
    ReadSetting,
    SendLocalList,
)
from ocpp_core.domain.presence import online

logger = logging.getLogger(__name__)

MAX_ENTRIES = 10_000  # our own bound on one list, whatever a charger says it can hold
MAX_CHANGE = 1_000  # tags one request may choose, add or remove
DEFAULT_PER_MESSAGE = 100  # entries per SendLocalList when the charger does not say
CLAIM = timedelta(minutes=5)  # a sync's lease, renewed by each message the charger accepts
RETRY_AFTER = timedelta(minutes=1)  # after a timeout or a refused update
BATCH = 20  # lists one sweep claims

# The revision key of every-tag lists: longer than any tag id, so never a group's name.
ALL_TAGS = "(all tags of the fleet)"

MAX_LENGTH_KEY = "LocalAuthListMaxLength"
PER_MESSAGE_KEY = "SendLocalListMaxLength"

Sender = Callable[[str, Command], Awaitable[CommandResult]]


class Step(Enum):
    """What a sync does after one SendLocalList's answer."""

    NEXT = "next"
    FULL_NOW = "full now"  # a differential update refused: the whole list, at once
    LATER = "later"  # not answered, or a full list refused: the list stays due
    STOP = "stop"  # the charger has no local list: nothing to retry until the tags change


@dataclass(frozen=True, slots=True)
class Synced:
    """How a sync ended: the result word kept on the list, and what the charger holds."""

    result: str
    version: int
    sent: int = 0  # entries sent


class ListError(ValueError):
    """A list assignment that can't be stored."""


class UnknownCharger(ListError, LookupError):
    def __init__(self, charge_point_id: str) -> None:
        super().__init__(f"no charge point {charge_point_id!r}")


class UnknownTags(ListError, LookupError):
    def __init__(self, tags: Iterable[str]) -> None:
        super().__init__(f"no tag {', '.join(repr(tag) for tag in sorted(tags))}")


class NotChosen(ListError):
    """Tags added to or removed from a list that holds every tag, a group's, or none."""


class TooLong(ListError):
    """More chosen tags than the charger's list holds (or than ours may)."""


ListKind = Literal["All", "Group", "Tags", "None"]


@dataclass(frozen=True, slots=True)
class Summary:
    """A charger's list as the server keeps it, for an operator to read."""

    row: LocalList | None  # None: the server keeps no list on the charger
    up_to_date: bool = False
    tags: tuple[str, ...] = ()  # the chosen tags, of a list of chosen tags

    @property
    def kind(self) -> ListKind:
        """All, Group, Tags or None: the words of the API."""
        if self.row is None:
            return "None"
        if self.row.chosen_tags:
            return "Tags"
        return "All" if self.row.tag_group is None else "Group"


async def summary(session: AsyncSession, charge_point_id: str) -> Summary:
    row = await session.get(LocalList, charge_point_id)
    if row is None:
        return Summary(None)
    tags = await chosen(session, charge_point_id) if row.chosen_tags else []
    return Summary(row, await up_to_date(session, row), tuple(tags))


async def assign(
    session: AsyncSession,
    charge_point_id: str,
    *,
    group: str | None,
    now: datetime,
    tags: Collection[str] | None = None,
) -> LocalList:
    """Keep the charger's list of every tag (``group`` None), of one group, or of exactly
    ``tags`` chosen for it; due at once."""
    if group is not None and not 0 < len(group) <= 20:
        raise ListError("group must be 1-20 characters (an OCPP 1.6 IdToken)")
    if group is not None and tags is not None:
        raise ListError("a list holds a group's tags or chosen tags, not both")
    if await session.get(ChargePoint, charge_point_id) is None:
        raise UnknownCharger(charge_point_id)
    row = await _locked(session, charge_point_id)
    if row is None:
        row = LocalList(
            charge_point_id=charge_point_id,
            version=0,
            done=0,
            full_needed=True,
            entries=0,
            revision=0,
        )
        session.add(row)
    await session.execute(
        delete(LocalListTag).where(LocalListTag.charge_point_id == charge_point_id)
    )
    row.tag_group = group
    row.chosen_tags = tags is not None
    row.revision += 1  # a chosen list is due even if a sync running now ends after this
    row.checked_at = None  # due at once
    row.retry_at = None
    if tags is not None:
        await session.flush()
        await _add(session, row, _checked(tags, "choose"))
    return row


async def change_tags(
    session: AsyncSession,
    charge_point_id: str,
    *,
    add: Collection[str] = (),
    remove: Collection[str] = (),
) -> LocalList:
    """Add tags to and remove tags from the charger's chosen list; due when it changed."""
    adding, removing = _checked(add, "add"), _checked(remove, "remove")
    if adding & removing:
        both = ", ".join(sorted(adding & removing))
        raise ListError(f"tags both added and removed: {both}")
    row = await _locked(session, charge_point_id)
    if row is None or not row.chosen_tags:
        if await session.get(ChargePoint, charge_point_id) is None:
            raise UnknownCharger(charge_point_id)
        holds = "no list" if row is None else _described(row)
        raise NotChosen(
            f"{charge_point_id} has {holds}, not chosen tags: assign it chosen tags first"
        )
    members = LocalListTag.charge_point_id == charge_point_id
    gone = select(LocalListTag.tag_id).where(members, LocalListTag.tag_id.in_(removing))
    removed = set(await session.scalars(gone))
    await session.execute(delete(LocalListTag).where(members, LocalListTag.tag_id.in_(removed)))
    already = select(LocalListTag.tag_id).where(members, LocalListTag.tag_id.in_(adding))
    added = adding - set(await session.scalars(already))
    await _add(session, row, added)
    if added or removed:
        row.revision += 1  # due; the row is locked, so no change at once is lost
    return row


def typed_tags(text: str) -> list[str]:
    """Tag ids as an operator types them: separated by commas or line breaks."""
    return [tag.strip() for tag in re.split(r"[,\n]", text) if tag.strip()]


def _described(row: LocalList) -> str:
    return "a list of every tag" if row.tag_group is None else f"group {row.tag_group}'s list"


def _checked(tags: Collection[str], verb: str) -> set[str]:
    """Bounded, so one request can't make the server read or write without end."""
    if len(tags) > MAX_CHANGE:
        raise TooLong(f"{verb} at most {MAX_CHANGE} tags at a time, not {len(tags)}")
    return set(tags)


async def _locked(session: AsyncSession, charge_point_id: str) -> LocalList | None:
    """The list's row, locked: changes to one list's tags wait for each other."""
    return await session.scalar(
        select(LocalList)
        .where(LocalList.charge_point_id == charge_point_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _add(session: AsyncSession, row: LocalList, tags: set[str]) -> None:
    """Choose ``tags`` (none chosen yet) for the list, within what the charger holds."""
    found = set(await session.scalars(select(ChargeTag.id).where(ChargeTag.id.in_(tags))))
    if unknown := tags - found:
        raise UnknownTags(unknown)
    count = (
        select(func.count())
        .select_from(LocalListTag)
        .where(LocalListTag.charge_point_id == row.charge_point_id)
    )
    total = (await session.scalar(count) or 0) + len(tags)
    longest = min(row.max_length or MAX_ENTRIES, MAX_ENTRIES)
    if total > longest:
        raise TooLong(
            f"{row.charge_point_id}'s list would hold {total} tags; it takes at most {longest}"
        )
    session.add_all(LocalListTag(charge_point_id=row.charge_point_id, tag_id=tag) for tag in tags)


async def unassign(session: AsyncSession, charge_point_id: str) -> None:
    """Stop keeping the charger's list (the charger keeps what it has)."""
    await session.execute(delete(LocalList).where(LocalList.charge_point_id == charge_point_id))


async def tags_changed(session: AsyncSession, tag_id: str, groups: Iterable[str | None]) -> None:
    """The lists that may hold a changed tag are due: every-tag lists, its groups', and the
    chosen lists that hold it (those alone, however many chargers have one)."""
    # Always in the same order, so two changes at once wait for each other, never deadlock.
    for key in sorted({ALL_TAGS, *(group for group in groups if group)}):
        await increment(session, LocalListRevision, {"group_key": key}, "revision")
    holding = select(LocalListTag.charge_point_id).where(LocalListTag.tag_id == tag_id)
    holders = list(
        await session.scalars(
            select(LocalList.charge_point_id)
            .where(LocalList.chosen_tags, LocalList.charge_point_id.in_(holding))
            .order_by(LocalList.charge_point_id)
            .with_for_update()
        )
    )
    if holders:
        await session.execute(
            update(LocalList)
            .where(LocalList.charge_point_id.in_(holders))
            .values(revision=LocalList.revision + 1)
            .execution_options(synchronize_session=False)
        )


def _key(group: str | None) -> str:
    return ALL_TAGS if group is None else group


def _list_revision() -> ColumnElement[int]:
    """The revision of each list's tags, in a statement on the lists."""
    key = func.coalesce(LocalList.tag_group, ALL_TAGS)
    of_group: ScalarSelect[int] = (
        select(LocalListRevision.revision)
        .where(LocalListRevision.group_key == key)
        .scalar_subquery()
    )
    return case((LocalList.chosen_tags, LocalList.revision), else_=func.coalesce(of_group, 0))


async def revision_of(session: AsyncSession, row: LocalList) -> int:
    """How often the list's tags changed: its own count for chosen tags, else its group's
    (or any tag's)."""
    if row.chosen_tags:
        return row.revision
    found = await session.get(LocalListRevision, _key(row.tag_group))
    return found.revision if found is not None else 0


async def up_to_date(session: AsyncSession, row: LocalList) -> bool:
    """Whether the charger holds what the list should (as far as the last check knows)."""
    fresh = row.checked_at is not None and not row.full_needed
    return fresh and row.done >= await revision_of(session, row)


async def chosen(session: AsyncSession, charge_point_id: str) -> list[str]:
    """The tags chosen for the charger's list, in order."""
    return list(
        await session.scalars(
            select(LocalListTag.tag_id)
            .where(LocalListTag.charge_point_id == charge_point_id)
            .order_by(LocalListTag.tag_id)
        )
    )


def groups_of(tag: ChargeTag) -> set[str | None]:
    """The groups whose lists hold ``tag``: its parent's, and its own as a group's tag."""
    return {tag.parent_id, tag.id}


async def desired(session: AsyncSession, state: LocalList, now: datetime) -> dict[str, ListEntry]:
    """The entries the list should hold now (at most one more than MAX_ENTRIES, to tell)."""
    query = select(ChargeTag).order_by(ChargeTag.id).limit(MAX_ENTRIES + 1)
    if state.chosen_tags:
        query = query.join(LocalListTag, LocalListTag.tag_id == ChargeTag.id).where(
            LocalListTag.charge_point_id == state.charge_point_id
        )
    elif state.tag_group is not None:
        group = state.tag_group
        query = query.where(or_(ChargeTag.parent_id == group, ChargeTag.id == group))
    return {
        row.id: ListEntry(row.id, tag_status(row, now).value, row.expires_at, row.parent_id)
        for row in await session.scalars(query)
    }


async def held(session: AsyncSession, charge_point_id: str) -> dict[str, ListEntry]:
    rows = await session.scalars(
        select(LocalListEntry).where(LocalListEntry.charge_point_id == charge_point_id)
    )
    return {
        row.tag_id: ListEntry(row.tag_id, row.status, row.expires_at, row.parent_id) for row in rows
    }


def changes(wanted: Mapping[str, ListEntry], kept: Mapping[str, ListEntry]) -> list[ListEntry]:
    """A differential update: the entries that differ, and removals, in tag order."""
    updates = [entry for tag, entry in wanted.items() if kept.get(tag) != entry]
    removals = [ListEntry(tag, None) for tag in kept if tag not in wanted]
    return sorted(updates + removals, key=lambda entry: entry.tag)


def _chunks(entries: list[ListEntry], size: int) -> list[tuple[ListEntry, ...]]:
    return [tuple(entries[at : at + size]) for at in range(0, len(entries), size)]


def plan(
    wanted: Mapping[str, ListEntry],
    kept: Mapping[str, ListEntry],
    *,
    full: bool,
    version: int,
    per_message: int,
) -> list[SendLocalList]:
    """The messages that bring a charger holding ``version`` (and ``kept``) to ``wanted``."""
    if full:
        entries = sorted(wanted.values(), key=lambda entry: entry.tag)
        chunks = _chunks(entries, per_message) or [()]
    else:
        chunks = _chunks(changes(wanted, kept), per_message)
    return [
        SendLocalList(version + number, full and number == 1, chunk)
        for number, chunk in enumerate(chunks, start=1)
    ]


def step_after(result: CommandResult, *, full: bool) -> Step:
    """The sync's next step after a SendLocalList's result."""
    if result.accepted:
        return Step.NEXT
    if result.outcome is not Outcome.ANSWERED:
        return Step.LATER
    if result.status == "NotSupported":
        return Step.STOP
    return Step.LATER if full else Step.FULL_NOW


def reported(result: CommandResult) -> int | None:
    """A length setting as the charger reported it; None when it said none (or nonsense)."""
    value = result.status if result.outcome is Outcome.ANSWERED else None
    if value is None or not value.strip().isdigit() or int(value) < 1:
        return None
    return int(value)


def limit_of(result: CommandResult, default: int) -> int:
    """A length setting the charger reported, bounded by ours; ours when it said none."""
    value = reported(result)
    return default if value is None else min(value, default)


def version_of(result: CommandResult) -> int | None:
    """The charger's list version; None when it did not answer with one."""
    if result.outcome is not Outcome.ANSWERED or result.status is None:
        return None
    try:
        return int(result.status)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Taken:
    """What a sync set out to send: the tags' revision, and the choice's (``LocalList.revision``,
    raised by every assignment)."""

    revision: int
    assignment: int


class Lists:
    """Syncing the lists of chargers through ``send`` (the command router's execute)."""

    def __init__(self, db: Database, send: Sender, clock: Clock) -> None:
        self.db = db
        self.send = send
        self.clock = clock

    async def claim(self, charge_point_id: str | None = None) -> list[str]:
        """Claim due lists of connected chargers (or this charger's list, due or not)."""
        now = self.clock()
        free = or_(LocalList.claimed_until.is_(None), LocalList.claimed_until < now)
        which: ColumnElement[bool]
        if charge_point_id is None:
            due = or_(
                _list_revision() > LocalList.done,
                LocalList.checked_at.is_(None),
                ChargePoint.booted_at > LocalList.checked_at,
            )
            chosen = (
                select(LocalList.charge_point_id)
                .join(ChargePoint, ChargePoint.id == LocalList.charge_point_id)
                .where(online(), free, due)
                .where(or_(LocalList.retry_at.is_(None), LocalList.retry_at <= now))
                .limit(BATCH)
            )
            which = LocalList.charge_point_id.in_(chosen.scalar_subquery())
        else:
            which = LocalList.charge_point_id == charge_point_id
        # The lease is checked again on the row itself: of two nodes that chose the same
        # list, the second finds it claimed once the first committed.
        statement = (
            update(LocalList)
            .where(which, free)
            .values(claimed_until=now + CLAIM)
            .returning(LocalList.charge_point_id)
            .execution_options(synchronize_session=False)
        )
        async with self.db.session() as session:
            return list(await session.scalars(statement))

    async def sync_due(self) -> int:
        """One sweep: claim due lists and bring each up to date; how many were claimed."""
        claimed = await self.claim()
        await asyncio.gather(*(self.sync(charge_point_id) for charge_point_id in claimed))
        return len(claimed)

    async def sync(self, charge_point_id: str, *, full: bool = False) -> Synced:
        """Bring a claimed list up to date (the whole list with ``full``); releases the claim."""
        try:
            synced, taken = await self._sync(charge_point_id, full=full)
        except BaseException:
            await self._release(charge_point_id, Synced("Error", 0), None)
            raise
        await self._release(charge_point_id, synced, taken)
        return synced

    async def _sync(self, charge_point_id: str, *, full: bool) -> tuple[Synced, Taken | None]:
        """How the sync ended, and the changes it took in (None: the list stays due)."""
        async with self.db.reading() as session:
            state = await session.get(LocalList, charge_point_id)
            if state is None:
                return Synced("NotAssigned", 0), None
            ours = state.version
            full = full or state.full_needed
            asked = Taken(await revision_of(session, state), state.revision)
        answered = await self.send(charge_point_id, GetLocalListVersion())
        theirs = version_of(answered)
        if theirs is None:
            return Synced(answered.status or answered.outcome.value, ours), None
        if theirs < 0:
            return Synced("NotSupported", ours), asked
        longest = await self._longest(charge_point_id)
        per_message = await self._limit(charge_point_id, PER_MESSAGE_KEY, DEFAULT_PER_MESSAGE)
        async with self.db.reading() as session:
            wanted = await desired(session, state, self.clock())
            kept = await held(session, charge_point_id)
        if len(wanted) > longest:
            return Synced("TooLong", ours), asked
        version = max(theirs, ours)
        messages = plan(
            wanted, kept, full=full or theirs != ours, version=version, per_message=per_message
        )
        synced, step = await self._send_all(charge_point_id, messages, version)
        if step is Step.FULL_NOW:
            messages = plan(
                wanted, kept, full=True, version=synced.version, per_message=per_message
            )
            synced, step = await self._send_all(charge_point_id, messages, synced.version)
        return synced, asked if step in (Step.NEXT, Step.STOP) else None

    async def _limit(self, charge_point_id: str, key: str, default: int) -> int:
        return limit_of(await self.send(charge_point_id, ReadSetting(key)), default)

    async def _longest(self, charge_point_id: str) -> int:
        """The most entries the charger's list holds, kept for the choice of its tags."""
        answer = await self.send(charge_point_id, ReadSetting(MAX_LENGTH_KEY))
        if (length := reported(answer)) is not None:
            async with self.db.session() as session:
                await session.execute(
                    update(LocalList)
                    .where(LocalList.charge_point_id == charge_point_id)
                    .values(max_length=length)
                    .execution_options(synchronize_session=False)
                )
        return limit_of(answer, MAX_ENTRIES)

    async def _send_all(
        self, charge_point_id: str, messages: list[SendLocalList], version: int
    ) -> tuple[Synced, Step]:
        """Send the messages in turn, keeping each one accepted, until one is not."""
        sent = 0
        for message in messages:
            result = await self.send(charge_point_id, message)
            step = step_after(result, full=message.full)
            if step is not Step.NEXT:
                return Synced(result.status or result.outcome.value, version, sent), step
            await self._took(charge_point_id, message)
            version, sent = message.version, sent + len(message.entries)
        return Synced("Accepted", version, sent), Step.NEXT

    async def _took(self, charge_point_id: str, message: SendLocalList) -> None:
        """What the charger accepted is what it holds now."""
        entries = LocalListEntry.charge_point_id == charge_point_id
        async with self.db.session() as session:
            state = await session.get(LocalList, charge_point_id)
            if state is None:  # unassigned meanwhile: nothing to keep
                return
            if message.full:
                await session.execute(delete(LocalListEntry).where(entries))
            else:
                tags = [entry.tag for entry in message.entries]
                await session.execute(
                    delete(LocalListEntry).where(entries, LocalListEntry.tag_id.in_(tags))
                )
            session.add_all(
                LocalListEntry(
                    charge_point_id=charge_point_id,
                    tag_id=entry.tag,
                    status=entry.status,
                    expires_at=entry.expires_at,
                    parent_id=entry.group,
                )
                for entry in message.entries
                if entry.status is not None
            )
            await session.flush()
            state.version = message.version
            state.full_needed = False
            # A long list takes many messages: the lease lasts while they are answered.
            state.claimed_until = self.clock() + CLAIM
            state.entries = len(await held(session, charge_point_id))

    async def _release(self, charge_point_id: str, synced: Synced, taken: Taken | None) -> None:
        """The claim ends: the changes asked before the sync began are done, or it retries.

        A list chosen anew while the sync ran (another group, other tags) stays due:
        what was sent was the old choice's.
        """
        now = self.clock()
        values: dict[str, object] = {"claimed_until": None, "result": synced.result}
        if taken is None:
            values["retry_at"] = now + RETRY_AFTER
        if synced.result in ("VersionMismatch", "Failed"):
            values["full_needed"] = True
        this_list = LocalList.charge_point_id == charge_point_id
        async with self.db.session() as session:
            if taken is not None:
                done = await session.execute(
                    update(LocalList)
                    .where(this_list, LocalList.revision == taken.assignment)
                    .values(values | {"done": taken.revision, "checked_at": now})
                    .execution_options(synchronize_session=False)
                )
                if cast(CursorResult[Any], done).rowcount == 1:
                    return
            await session.execute(
                update(LocalList)
                .where(this_list)
                .values(values)
                .execution_options(synchronize_session=False)
            )


async def run_forever(lists: Lists, every: float) -> None:
    """Sweep the due lists every ``every`` seconds (0: never), on every node (the claims
    share the work)."""
    if every == 0:
        return
    while True:
        await asyncio.sleep(every)
        try:
            await lists.sync_due()
        except DatabaseUnavailable:
            pass  # the database's health says so; the next round tries again
        except Exception:
            logger.exception("local list sweep failed; trying again next round")
