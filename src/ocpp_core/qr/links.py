"""The deep links a connector's QR code carries.

``/Public/Start?cp={id}&conn={n}`` is the public start page of the management
app; ``/cp/{id}/{n}`` is the short form, short enough to type, that redirects
there. The charge point id is percent-encoded: ids may hold ``+ : = | @ *``,
and a bare ``+`` in a query reads as a space.
"""

from __future__ import annotations

from urllib.parse import quote


def start_url(base: str, charge_point_id: str, connector_id: int) -> str:
    """``{base}/Public/Start?cp={id}&conn={n}``, the link a label's QR code carries."""
    return f"{_base(base)}/Public/Start?cp={_quoted(charge_point_id)}&conn={_number(connector_id)}"


def short_url(base: str, charge_point_id: str, connector_id: int) -> str:
    """``{base}/cp/{id}/{n}``, printed on the label for people who'd rather type."""
    return f"{_base(base)}/cp/{_quoted(charge_point_id)}/{_number(connector_id)}"


def _base(base: str) -> str:
    return base.rstrip("/")


def _quoted(charge_point_id: str) -> str:
    if not charge_point_id:
        raise ValueError("the charge point id is empty")
    return quote(charge_point_id, safe="")


def _number(connector_id: int) -> int:
    # bool is an int too, and True would print as "True"
    if isinstance(connector_id, bool) or not isinstance(connector_id, int) or connector_id < 1:
        raise ValueError(f"connector id must be a whole number from 1, not {connector_id!r}")
    return connector_id
