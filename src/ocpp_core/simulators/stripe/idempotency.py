"""Stripe's idempotency keys: a retried POST gets the first answer instead of a second effect."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import JsonDict, StripeError
from .params import RawValue


@dataclass(frozen=True, kw_only=True)
class StoredResponse:
    endpoint: str
    params: dict[str, RawValue]
    status: int
    body: JsonDict


class IdempotencyStore:
    """Kept for the simulator's lifetime: far longer than Stripe's 24 hours, never shorter."""

    def __init__(self) -> None:
        self._responses: dict[str, StoredResponse] = {}

    def lookup(self, key: str, endpoint: str, params: dict[str, RawValue]) -> StoredResponse | None:
        """The stored answer for a true retry; a key reused for another request is an error."""
        stored = self._responses.get(key)
        if stored is None:
            return None
        if stored.endpoint != endpoint:
            raise _misuse(
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{stored.endpoint}' vs '{endpoint}'). Try using a key other "
                f"than '{key}' if you meant to execute a different request."
            )
        if stored.params != params:
            raise _misuse(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request."
            )
        return stored

    def remember(self, key: str, response: StoredResponse) -> None:
        self._responses.setdefault(key, response)


def _misuse(message: str) -> StripeError:
    return StripeError(message, type_="idempotency_error", replayable=False)
