"""Failures injected on purpose, so tests can show the gateway survives a flaky Stripe."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

FaultKind = Literal["error", "delay"]


@dataclass(kw_only=True)
class Fault:
    """Hits the next ``count`` requests whose method matches (``*`` for any) and whose
    path starts with ``path``: ``error`` answers HTTP 500 without executing the request,
    ``delay`` waits ``seconds`` and then executes it normally, as a slow Stripe would."""

    method: str
    path: str
    kind: FaultKind
    count: int = 1
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if self.kind not in ("error", "delay"):
            raise ValueError("kind must be 'error' or 'delay'")
        if self.count < 1 or self.seconds < 0:
            raise ValueError("count must be positive and seconds not negative")

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and path.startswith(self.path)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The first matching fault, used up by this request."""
        for fault in self._faults:
            if fault.matches(method, path):
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
        return None
