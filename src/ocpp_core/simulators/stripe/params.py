"""Stripe's form encoding (``a[b][0][c]=v``) decoded and checked against what each endpoint takes.

Checking against an explicit schema is what lets the simulator reject unknown
parameters the way Stripe does, so a typo in the gateway fails in the tests
rather than in production.
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias
from urllib.parse import parse_qsl

from .errors import JsonDict, StripeError, invalid_param, unknown_param

RawValue: TypeAlias = "str | dict[str, RawValue]"
# A leaf is "string", "integer", "boolean" or "metadata"; a one-element list
# is an array of that schema; a dict is an object with exactly those keys.
Schema: TypeAlias = "str | list[Schema] | dict[str, Schema]"

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INTEGER = re.compile(r"-?\d{1,18}")
_METADATA_LIMITS = (50, 40, 500)  # keys, key length, value length

EXPAND: Schema = ["string"]
METADATA: Schema = "metadata"

SESSION_CREATE: Schema = {
    "mode": "string",
    "line_items": [
        {
            "price_data": {
                "currency": "string",
                "unit_amount": "integer",
                "product_data": {"name": "string", "description": "string"},
            },
            "quantity": "integer",
        }
    ],
    "payment_intent_data": {
        "capture_method": "string",
        "metadata": METADATA,
        "description": "string",
    },
    "metadata": METADATA,
    "success_url": "string",
    "cancel_url": "string",
    "expires_at": "integer",
    "client_reference_id": "string",
    "customer_email": "string",
    "locale": "string",
    "payment_method_types": ["string"],
    "expand": EXPAND,
}
EXPAND_ONLY: Schema = {"expand": EXPAND}
PI_RETRIEVE: Schema = {"expand": EXPAND, "client_secret": "string"}
PI_CAPTURE: Schema = {"amount_to_capture": "integer", "metadata": METADATA, "expand": EXPAND}
PI_CANCEL: Schema = {"cancellation_reason": "string", "expand": EXPAND}
EVENTS_LIST: Schema = {
    "limit": "integer",
    "starting_after": "string",
    "type": "string",
    "expand": EXPAND,
}


def decode_form(encoded: str) -> dict[str, RawValue]:
    """Nest bracketed keys; ``[]`` appends, as in ``expand[]=payment_intent``."""
    root: dict[str, RawValue] = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True):
        match = _KEY.fullmatch(key)
        if match is None:
            raise invalid_param(f"Invalid parameter name: {key}", key)
        path = [match.group(1), *_SEGMENT.findall(match.group(2))]
        _insert(root, path, value, key)
    return root


def _insert(node: dict[str, RawValue], path: list[str], value: str, key: str) -> None:
    for segment in path[:-1]:
        child = node.setdefault(segment, {})
        if not segment or not isinstance(child, dict):
            raise invalid_param(f"Invalid parameter: {key}", key)
        node = child
    last = path[-1] or str(len(node))
    if last in node:
        raise invalid_param(f"Duplicate parameter: {key}", key)
    node[last] = value


def validate(raw: dict[str, RawValue], schema: Schema) -> JsonDict:
    """Typed parameters, or the 400 Stripe would send for the first bad one."""
    checked: JsonDict = _coerce(raw, schema, "")
    return checked


def _coerce(raw: RawValue, schema: Schema, param: str) -> Any:
    if isinstance(schema, dict):
        return _coerce_object(raw, schema, param)
    if isinstance(schema, list):
        return _coerce_array(raw, schema[0], param)
    if schema == "metadata":
        return _coerce_metadata(raw, param)
    if not isinstance(raw, str):
        raise invalid_param(f"Invalid {schema}: expected a scalar value", param)
    return _coerce_scalar(raw, schema, param)


def _child(param: str, key: str) -> str:
    return f"{param}[{key}]" if param else key


def _coerce_object(raw: RawValue, schema: dict[str, Schema], param: str) -> JsonDict:
    if not isinstance(raw, dict):
        raise invalid_param(f"Invalid object: {param}", param, "parameter_invalid_object")
    result: JsonDict = {}
    for key, value in raw.items():
        if key not in schema:
            raise unknown_param(_child(param, key))
        result[key] = _coerce(value, schema[key], _child(param, key))
    return result


def _coerce_array(raw: RawValue, item: Schema, param: str) -> list[Any]:
    if not isinstance(raw, dict) or not all(key.isdigit() for key in raw):
        raise invalid_param(f"Invalid array: {param}", param, "parameter_invalid_array")
    ordered = sorted(raw.items(), key=lambda entry: int(entry[0]))
    return [_coerce(value, item, _child(param, key)) for key, value in ordered]


def _coerce_metadata(raw: RawValue, param: str) -> dict[str, str]:
    if raw == "":
        return {}
    max_keys, max_key, max_value = _METADATA_LIMITS
    if not isinstance(raw, dict) or len(raw) > max_keys:
        raise invalid_param(f"Invalid metadata: at most {max_keys} string keys", param)
    for key, value in raw.items():
        if not isinstance(value, str) or len(key) > max_key or len(value) > max_value:
            raise invalid_param(
                f"Metadata keys are at most {max_key} characters and values are strings "
                f"of at most {max_value}",
                _child(param, key),
            )
    return {key: value for key, value in raw.items() if isinstance(value, str)}


def _coerce_scalar(raw: str, kind: str, param: str) -> str | int | bool:
    if kind == "integer":
        if _INTEGER.fullmatch(raw) is None:
            raise invalid_param(f"Invalid integer: {raw}", param, "parameter_invalid_integer")
        return int(raw)
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise invalid_param(f"Invalid boolean: {raw}", param)
        return raw == "true"
    return raw


def expansions(params: JsonDict, allowed: frozenset[str]) -> frozenset[str]:
    """Only fields the simulator can inline; Stripe rejects the others the same way."""
    requested = frozenset(params.get("expand", []))
    unknown = sorted(requested - allowed)
    if unknown:
        raise StripeError(
            f"This property cannot be expanded ({unknown[0]}).", param="expand", replayable=False
        )
    return requested
