"""A charger's authorization settings: its cache and its local list, read in one go.

Named by their 1.6 configuration keys; a 2.x adapter reads them as the device-model
variables that replaced them (AuthCacheCtrlr.Enabled, LocalAuthListCtrlr.Enabled,
.Entries and .ItemsPerMessage).
"""

from __future__ import annotations

from dataclasses import dataclass

from ocpp_core.domain.command_results import CommandResult, Outcome
from ocpp_core.domain.commands import ReadSetting
from ocpp_core.domain.local_lists import MAX_LENGTH_KEY, PER_MESSAGE_KEY, Sender

CACHE_ENABLED = "AuthorizationCacheEnabled"
LIST_ENABLED = "LocalAuthListEnabled"


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Each None: the charger did not say (unknown to it, or no answer)."""

    cache_enabled: bool | None
    list_enabled: bool | None
    list_max_length: int | None
    per_message: int | None


def flag(result: CommandResult) -> bool | None:
    value = _value(result)
    return None if value is None or value.lower() not in ("true", "false") else value == "true"


def number(result: CommandResult) -> int | None:
    value = _value(result)
    return int(value) if value is not None and value.isdigit() else None


def _value(result: CommandResult) -> str | None:
    return result.status.strip() if result.outcome is Outcome.ANSWERED and result.status else None


async def read(send: Sender, charge_point_id: str) -> AuthSettings:
    async def get(key: str) -> CommandResult:
        return await send(charge_point_id, ReadSetting(key))

    return AuthSettings(
        cache_enabled=flag(await get(CACHE_ENABLED)),
        list_enabled=flag(await get(LIST_ENABLED)),
        list_max_length=number(await get(MAX_LENGTH_KEY)),
        per_message=number(await get(PER_MESSAGE_KEY)),
    )
