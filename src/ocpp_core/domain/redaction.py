"""Secrets a charger's messages can carry, hidden before anything is kept or shown.

The message log, the API's echoes of a charger's answers, stored reports and the
application log all pass what they keep through here. Which values are secret
is one table per shape, whatever the OCPP version:

- 1.6 configuration keys (``ChangeConfiguration``, ``GetConfiguration``: ``key``/``value``);
- 2.x device-model variables (``SetVariables``, ``GetVariables``, ``NotifyReport``,
  ``NotifyEvent``: a component, a variable and its value);
- network credentials (2.x ``SetNetworkProfile``: its APN's and VPN's);
- any PEM private key, in any text.

Names compare without case: 1.6 keys are case-insensitive strings, and so are
2.x component and variable names.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

HIDDEN = "[redacted]"

# The security profiles' Basic auth password (the 1.6 security white paper makes it write-only).
SECRET_KEYS = frozenset({"authorizationkey"})
# Write-only device-model variables of OCPP 2.0.1/2.1 (Part 2, appendix of components).
SECRET_VARIABLES = frozenset({("securityctrlr", "basicauthpassword")})
# Credentials by the object that holds them (2.x NetworkConnectionProfile).
SECRET_FIELDS = {"apn": ("apnPassword", "simPin"), "vpn": ("password", "key")}
# Where a 2.x variable's value sits: a set or read value, a report's attributes, an event.
_VARIABLE_VALUES = ("attributeValue", "actualValue")

# The top-level fields of the messages that carry the above: 1.6 ChangeConfiguration and
# GetConfiguration's answer; 2.x SetVariables, GetVariables' answer, NotifyReport,
# NotifyEvent, SetNetworkProfile. Any other message is walked only for a private key.
_SECRET_HOLDERS = frozenset(
    {
        "key",
        "configurationKey",
        "setVariableData",
        "getVariableResult",
        "reportData",
        "eventData",
        "connectionData",
    }
)
_PEM_MARKER = b"PRIVATE KEY"
# What a log line must hold (in lower case) for anything in it to be secret.
_TEXT_MARKERS = (
    *SECRET_KEYS,
    *(variable for _component, variable in SECRET_VARIABLES),
    "private key",
)

_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)
# The API's commands that carry a value in their path (the seed's URLs).
_PATH_VALUES = re.compile(
    r"(?P<head>/ChangeConfiguration/[^/?#\s]+/(?P<key>[^/?#\s]+)/)(?P<value>[^?#\s\"]*)"
    r"|(?P<head2>/SetVariables/[^/?#\s]+/(?P<component>[^/?#\s]+)/(?P<variable>[^/?#\s]+)/)"
    r"(?P<value2>[^?#\s\"]*)"
)


def is_secret_key(key: str) -> bool:
    """A 1.6 configuration key whose value is a secret."""
    return key.lower() in SECRET_KEYS


def is_secret_variable(component: str, variable: str) -> bool:
    """A 2.x device-model variable whose value is a secret."""
    return (component.lower(), variable.lower()) in SECRET_VARIABLES


def payload_may_hold_secret(payload: dict[str, Any], serialized: bytes) -> bool:
    """False when a payload certainly holds no secret: the test before a walk, on every
    message the log keeps, so a few set and substring look-ups (no lower-casing)."""
    return not payload.keys().isdisjoint(_SECRET_HOLDERS) or _PEM_MARKER in serialized


def text_may_hold_secret(text: str) -> bool:
    """False when a log line certainly holds no secret."""
    lowered = text.lower()
    return any(marker in lowered for marker in _TEXT_MARKERS)


def redact(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of a JSON object with every known secret replaced by :data:`HIDDEN`."""
    return _hide_in({key: _redacted(item) for key, item in payload.items()})


def redact_text(text: str) -> str:
    """A log line or URL without private keys or the values of the API's secret commands."""
    return _PATH_VALUES.sub(_hide_path_value, _PRIVATE_KEY.sub(HIDDEN, text))


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, str):
        return _PRIVATE_KEY.sub(HIDDEN, value)
    return value


def _hide_in(node: dict[str, Any]) -> dict[str, Any]:
    key = node.get("key")
    if isinstance(key, str) and is_secret_key(key) and "value" in node:
        node["value"] = HIDDEN
    if _names_secret_variable(node):
        _hide_variable_values(node)
    for holder, fields in SECRET_FIELDS.items():
        credentials = node.get(holder)
        if isinstance(credentials, dict):
            for field in fields:
                if field in credentials:
                    credentials[field] = HIDDEN
    return node


def _names_secret_variable(node: dict[str, Any]) -> bool:
    component, variable = node.get("component"), node.get("variable")
    if not isinstance(component, dict) or not isinstance(variable, dict):
        return False
    component_name, variable_name = component.get("name"), variable.get("name")
    if not isinstance(component_name, str) or not isinstance(variable_name, str):
        return False
    return is_secret_variable(component_name, variable_name)


def _hide_variable_values(node: dict[str, Any]) -> None:
    for field in _VARIABLE_VALUES:
        if field in node:
            node[field] = HIDDEN
    attributes = node.get("variableAttribute")
    for attribute in attributes if isinstance(attributes, list) else ():
        if isinstance(attribute, dict) and "value" in attribute:
            attribute["value"] = HIDDEN


def _hide_path_value(match: re.Match[str]) -> str:
    if match.group("head") is not None:
        secret = is_secret_key(unquote(match.group("key")))
        return match.group("head") + (HIDDEN if secret else match.group("value"))
    component, variable = unquote(match.group("component")), unquote(match.group("variable"))
    secret = is_secret_variable(component, variable)
    return match.group("head2") + (HIDDEN if secret else match.group("value2"))
