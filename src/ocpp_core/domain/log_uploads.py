"""Diagnostics and log uploads (1.6 GetDiagnostics, 2.0.1 GetLog), received by ocpp-core itself.

Each request gets an upload URL of its own with a random token in it; only the
token's SHA-256 is stored, so the database opens no upload. The token takes one
upload, before it expires; the file is kept under the request's row id, so no
name a charger sends ever reaches the file system.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import LogUpload
from ocpp_core.db.session import Database
from ocpp_core.domain import commands, progress
from ocpp_core.domain.command_results import CommandResult

UPLOAD_PATH = "/diagnostics/upload/"
FILE_NAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class LogOrder:
    log_type: commands.LogType = "DiagnosticsLog"
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None  # seconds


@dataclass(frozen=True, slots=True)
class Where:
    """Where uploads go: the URL chargers reach, the directory, how long a URL lasts."""

    base_url: str
    directory: Path
    valid_for: timedelta


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def file_of(directory: Path, upload_id: int) -> Path:
    return directory / str(upload_id)


async def request(
    db: Database,
    send: progress.Send,
    charge_point_id: str,
    order: LogOrder,
    where: Where,
    *,
    now: datetime,
) -> tuple[int, CommandResult]:
    """Ask one charger for its log; the request's id and the charger's answer."""
    token = secrets.token_urlsafe(32)
    command = commands.GetLog(
        commands.new_request_id(),
        f"{where.base_url}{UPLOAD_PATH}{token}",
        order.log_type,
        order.oldest,
        order.latest,
        order.retries,
        order.retry_interval,
    )
    row = LogUpload(
        charge_point_id=charge_point_id,
        request_id=command.request_id,
        log_type=order.log_type,
        oldest_at=order.oldest,
        latest_at=order.latest,
        requested_at=now,
        history="[]",
        token_hash=token_hash(token),
        token_expires_at=now + where.valid_for,
    )
    result, pruned = await progress.send_recorded(db, row, command, send)
    remove_files(where.directory, pruned)
    return command.request_id, result


def remove_files(directory: Path, upload_ids: Iterable[int]) -> None:
    """The files of requests whose rows are gone (or going): no row, no way to download them."""
    for upload_id in upload_ids:
        file_of(directory, upload_id).unlink(missing_ok=True)


async def upload_ids(session: AsyncSession, charge_point_id: str) -> list[int]:
    """The requests of a charger, whose files must go with it."""
    found = await session.scalars(
        select(LogUpload.id).where(LogUpload.charge_point_id == charge_point_id)
    )
    return list(found)


async def record_status(
    session: AsyncSession,
    charge_point_id: str,
    status: str,
    request_id: int | None,
    *,
    now: datetime,
) -> None:
    """A DiagnosticsStatusNotification or LogStatusNotification (1.6's: the newest request)."""
    await progress.record_status(session, LogUpload, charge_point_id, status, request_id, now=now)


class Refusal(Enum):
    UNKNOWN = 404  # no such token: nothing tells a guesser more
    SPENT = 403  # used or expired


async def open_upload(session: AsyncSession, token: str, *, now: datetime) -> int | Refusal:
    """The id of the request a token may upload for, or why it may not."""
    row = (
        await session.execute(
            select(LogUpload.id, LogUpload.uploaded_at, LogUpload.token_expires_at).where(
                LogUpload.token_hash == token_hash(token)
            )
        )
    ).first()
    if row is None:
        return Refusal.UNKNOWN
    if row.uploaded_at is not None or row.token_expires_at <= now:
        return Refusal.SPENT
    return int(row.id)


async def finish_upload(
    session: AsyncSession, upload_id: int, *, file_name: str, size: int, now: datetime
) -> bool:
    """Spend the token on this upload; False if another upload spent it first."""
    result = await session.execute(
        update(LogUpload)
        .where(LogUpload.id == upload_id, LogUpload.uploaded_at.is_(None))
        .values(file_name=file_name[:FILE_NAME_LENGTH], size_bytes=size, uploaded_at=now)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def find(session: AsyncSession, charge_point_id: str, request_id: int) -> LogUpload | None:
    found = await session.scalars(
        select(LogUpload).where(
            LogUpload.charge_point_id == charge_point_id, LogUpload.request_id == request_id
        )
    )
    return found.first()
