"""The JSON Schema every flow definition must satisfy before any deeper check runs."""

from __future__ import annotations

from typing import Any

__all__ = ["DEFINITION_SCHEMA", "INPUT_TYPES", "NAME_PATTERN"]

#: Task, input and flow names: safe in ZooKeeper paths, resource tags and expressions.
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$"

#: Declared input types and the Python types a value of each may have.
INPUT_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "object": (dict,),
    "any": (object,),
}

_NAME = {"type": "string", "pattern": NAME_PATTERN}
_SECONDS = {"type": "number", "minimum": 0}

_INPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "type": {"enum": sorted(INPUT_TYPES)},
        "description": {"type": "string"},
        "default": {},
        "enum": {"type": "array", "minItems": 1},
    },
}

_RETRY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["attempts"],
    "properties": {
        "attempts": {"type": "integer", "minimum": 1, "maximum": 1000},
        "delay": _SECONDS,
        "backoff": {"type": "number", "minimum": 1},
        "max_delay": _SECONDS,
        "on_errors": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    },
}

_REVERT: dict[str, Any] = {
    "oneOf": [
        {"enum": ["irreversible"]},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["action"],
            "properties": {"action": {"type": "string", "minLength": 1}, "args": {"type": "object"}},
        },
    ]
}

_TASK: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": _NAME,
        "description": {"type": "string"},
        "action": {"type": "string", "minLength": 1},
        "flow": {"type": "string", "minLength": 1},
        "args": {"type": "object"},
        "provides": {"type": "array", "items": _NAME, "uniqueItems": True},
        "after": {"type": "array", "items": _NAME, "uniqueItems": True},
        "for_each": {"type": ["string", "array"]},
        "concurrency": {"type": "integer", "minimum": 1},
        "on_item_failure": {"enum": ["continue", "revert_all"]},
        "retry": _RETRY,
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "revert": _REVERT,
    },
    "oneOf": [{"required": ["action"]}, {"required": ["flow"]}],
}

#: Schema of one flow definition document.
DEFINITION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "tasks"],
    "properties": {
        "name": _NAME,
        "description": {"type": "string"},
        "version": {"type": ["integer", "string"]},
        "inputs": {"type": "object", "propertyNames": {"pattern": NAME_PATTERN}, "additionalProperties": _INPUT},
        "outputs": {"type": "object", "propertyNames": {"pattern": NAME_PATTERN}},
        "on_failure": {"enum": ["revert", "pause"]},
        "tasks": {"type": "array", "minItems": 1, "items": _TASK},
    },
}
