"""The ``/v1`` calls the simulator received, so a test can count what reached Stripe."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str
    path: str
    idempotency_key: str | None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)
