"""The OCA JSON schemas, compiled once per process into fast validators.

The ``ocpp`` library ships the official schemas but validates with ``jsonschema``
(hundreds of microseconds per message, in a thread pool). Compiling them with
``fastjsonschema`` keeps exactly the same rules at a fraction of the cost, so
every message in and out can be checked on the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import ocpp
from fastjsonschema.draft04 import CodeGeneratorDraft04
from fastjsonschema.draft06 import CodeGeneratorDraft06
from fastjsonschema.ref_resolver import RefResolver

from ocpp_core.ocpp.framing import ErrorCode, FrameError

Validator = Callable[[Any], Any]

_SCHEMA_ROOT = Path(ocpp.__file__).parent

# How a violated schema keyword maps to the CALLERROR codes of OCPP-J 4.2.3.
_RULE_CODES = {
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "maxLength": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "format": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "required": ErrorCode.PROTOCOL_ERROR,
    "additionalProperties": ErrorCode.FORMAT_VIOLATION,
    "enum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "minimum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "maximum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "pattern": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
}


# Integers the database keeps in 32-bit columns (ids); every other integer gets 64 bits.
# Unbounded, a huge number passes the schema and then fails in the driver.
_INT32_PROPERTIES = frozenset(
    {
        "connectorId",
        "evseId",
        "transactionId",
        "reservationId",
        # 2.x numbers we keep: a transaction's event number and remote start, a report's ids.
        "seqNo",
        "remoteStartId",
        "requestId",
    }
)


_NOT_OBJECTS = frozenset({"string", "integer", "number", "boolean", "array"})


def _adapted(node: Any, name: str | None = None) -> Any:
    """The schema as we enforce it: ``multipleOf`` dropped, integers bounded."""
    # OCPP 1.6 limits charging rates to one decimal with ``multipleOf: 0.1``, which
    # binary floats fail (21.4 / 0.1 != 214). We round those rates ourselves when
    # we send them, so the keyword is dropped rather than rejecting valid input.
    if isinstance(node, list):
        return [_adapted(item) for item in node]
    if not isinstance(node, dict):
        return node
    adapted = {
        key: (
            {prop: _adapted(sub, prop) for prop, sub in value.items()}
            if key == "properties" and isinstance(value, dict)
            else _adapted(value)
        )
        for key, value in node.items()
        if key != "multipleOf"
    }
    if isinstance(adapted.get("type"), str) and adapted["type"] in _NOT_OBJECTS:
        # The OCA schemas give strings "additionalProperties": false; a string never has
        # properties, but the validator would test each such value for being an object.
        adapted.pop("additionalProperties", None)
    if adapted.get("type") == "integer":
        bits = 31 if name in _INT32_PROPERTIES else 63
        adapted.setdefault("minimum", -(2**bits))
        adapted.setdefault("maximum", 2**bits - 1)
    return adapted


@cache
def _schema_names(folder: str) -> frozenset[str]:
    return frozenset(path.stem for path in (_SCHEMA_ROOT / folder / "schemas").glob("*.json"))


@cache
def _compiled(folder: str, name: str) -> Validator:
    path = _SCHEMA_ROOT / folder / "schemas" / f"{name}.json"
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    # "$schema" stays: it picks the draft, and only draft-04 (OCPP 1.6) refuses 1.0 as an integer.
    adapted = _adapted(schema)
    generator_class = next(
        (kind for draft, kind in _GENERATORS.items() if draft in adapted.get("$schema", "")),
        None,
    )
    if generator_class is None:
        validator: Validator = fastjsonschema.compile(adapted)
        return validator
    # As fastjsonschema.compile does, with our generator of the schema's draft.
    resolver = RefResolver.from_schema(adapted, handlers={}, store={})
    generator = generator_class(adapted, resolver=resolver)
    scope = generator.global_state
    exec(generator.func_code, scope)  # noqa: S102 - code generated from the shipped schemas
    compiled: Validator = scope[resolver.get_scope_name()]
    return compiled


def _set_enum(generator: Any) -> bool:
    """Check a string enum with one set look-up, as fastjsonschema can't be told to.

    It tests the values one by one (``isinstance`` and ``==`` each): 22 measurands
    and 18 units per sampled value made enums most of a MeterValues' schema check.
    Same rule, same message; False for enums of other values, generated as before.
    ``generator``: a fastjsonschema code generator, whose helpers are untyped.
    """
    enum = generator._definition["enum"]
    if not isinstance(enum, list) or not enum or not all(isinstance(v, str) for v in enum):
        return False
    # A set display of constants: Python compiles ``in {...}`` to one frozenset, built once.
    values = "{" + ", ".join(repr(value) for value in sorted(set(enum))) + "}"
    with generator.l("if not (isinstance({variable}, str) and {variable} in {}):", values):
        generator.exc("{name} must be one of {}", generator.e(enum), rule="enum")
    return True


def _present_first(generator: Any) -> Any:
    """Test a required property's presence with ``in`` before fastjsonschema's own check.

    Its check builds two sets (the required names, less the object's keys) for every
    object, nine sampled values a MeterValues; the objects that have every required
    property, nearly all, now skip it. Those that don't go through it as before: same
    rule, same message. Returns the block to generate fastjsonschema's check in.
    """
    required = generator._definition["required"]
    names = required if isinstance(required, list) and required else []
    if not all(isinstance(name, str) and "{" not in name and "}" not in name for name in names):
        names = []
    # Made before the block, so that a later use of it never finds it unassigned.
    generator.create_variable_is_dict()
    present = " and ".join(f"{name!r} in {{variable}}" for name in names) or "False"
    return generator.l(f"if {{variable}}_is_dict and not ({present}):")


class _Draft04(CodeGeneratorDraft04):
    def generate_enum(self) -> None:
        if not _set_enum(self):
            super().generate_enum()  # type: ignore[no-untyped-call]  # untyped in fastjsonschema

    def generate_required(self) -> None:
        with _present_first(self):
            super().generate_required()  # type: ignore[no-untyped-call]  # untyped there


class _Draft06(CodeGeneratorDraft06):
    def generate_enum(self) -> None:
        if not _set_enum(self):
            super().generate_enum()  # type: ignore[no-untyped-call]  # untyped in fastjsonschema

    def generate_required(self) -> None:
        with _present_first(self):
            super().generate_required()  # type: ignore[no-untyped-call]  # untyped there


_GENERATORS: dict[str, type[CodeGeneratorDraft04]] = {"draft-04": _Draft04, "draft-06": _Draft06}


class SchemaSet:
    """Validators of one OCPP version, keyed by action."""

    def __init__(self, folder: str, request_suffix: str = "") -> None:
        self._folder = folder
        self._request_suffix = request_suffix
        # Every message looks its validators up: after the first, one dict look-up.
        self._requests: dict[str, Validator] = {}
        self._responses: dict[str, Validator] = {}

    def knows(self, action: str) -> bool:
        return self.request(action) is not None

    def request(self, action: str) -> Validator | None:
        return self._requests.get(action) or self._find(
            self._requests, action, self._request_suffix
        )

    def response(self, action: str) -> Validator | None:
        return self._responses.get(action) or self._find(self._responses, action, "Response")

    def _find(self, found: dict[str, Validator], action: str, suffix: str) -> Validator | None:
        # Action names come from the charger: only names of shipped schemas reach the
        # (cached) compiler and the tables, so no path is built from them and both stay bounded.
        if action.endswith("Response") or action.endswith("Request"):
            return None
        name = action + suffix
        if name not in _schema_names(self._folder):
            return None
        validator = found[action] = _compiled(self._folder, name)
        return validator


def check(validator: Validator, payload: dict[str, Any], unique_id: str) -> None:
    """Validate or raise a :class:`FrameError` with the prescribed code."""
    try:
        validator(payload)
    except fastjsonschema.JsonSchemaValueException as error:
        code = _RULE_CODES.get(error.rule or "", ErrorCode.FORMAT_VIOLATION)
        raise FrameError(code, error.message, unique_id) from None
