"""What an action accepts: a JSON Schema per argument, from its ``execute`` signature and its own schema.

The signature says the names, which are required and their types (``seconds: float | None``); an
action may narrow them with a class attribute ``argument_schema`` (argument name -> JSON Schema:
ranges, patterns, formats, a ``description`` used in messages), as ``core.wait`` does for its ISO
``until``. The loader checks every literal argument against both at load time, so ``until: "next
tuesday"`` fails with its line and column instead of at 3 a.m.; a ``${...}`` value is known only
while the run runs and is the action's to check then. This module reads action classes without
importing the engine or TaskFlow: the contract is duck-typed (``execute`` plus ``argument_schema``).
"""

from __future__ import annotations

import collections.abc
import datetime
import functools
import inspect
import types
import typing
from typing import Any

import jsonschema

__all__ = ["FORMATS", "explain", "parameters", "schemas"]

#: Formats an ``argument_schema`` may name, with what the action will do with the value.
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """A time ``datetime.fromisoformat`` reads (what core.wait does with ``until``)."""
    if isinstance(value, str):
        datetime.datetime.fromisoformat(value)
    return True


def parameters(action_class: Any) -> dict[str, inspect.Parameter]:
    """The named parameters of an action's ``execute``, read from the code."""
    params = inspect.signature(action_class.execute).parameters
    return {
        name: param
        for name, param in params.items()
        if name != "self" and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
    }


@functools.lru_cache(maxsize=None)
def schemas(action_class: Any) -> dict[str, dict[str, Any]]:
    """Argument name -> the JSON Schema a literal value of it must satisfy (computed once per class; do not mutate)."""
    try:
        hints = typing.get_type_hints(action_class.execute)
    except (NameError, TypeError):  # an annotation this module cannot resolve: trust the action
        hints = {}
    declared: dict[str, Any] = dict(getattr(action_class, "argument_schema", {}) or {})
    found: dict[str, dict[str, Any]] = {}
    for name in parameters(action_class):
        parts = [part for part in (_of_type(hints.get(name, Any)), declared.get(name)) if part]
        found[name] = parts[0] if len(parts) == 1 else {"allOf": parts} if parts else {}
    return found


def explain(action: str, name: str, value: Any, schema: dict[str, Any]) -> str | None:
    """Why ``value`` does not fit argument ``name`` of ``action``; None when it fits."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    what = f"argument {name!r} of {action!r}"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if description:
        return f"{what} must be {description}, not {value!r}"
    if error.validator == "type":
        return f"{what} must be {_kinds(error.validator_value)}, not {type(value).__name__} {value!r}"
    return f"{what}: {error.message}"


_TYPES: dict[Any, str] = {
    str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null",
    list: "array", tuple: "array", collections.abc.Sequence: "array",
    dict: "object", collections.abc.Mapping: "object",
}


def _of_type(hint: Any) -> dict[str, Any]:
    """The JSON Schema of a type hint, or {} (anything) for hints JSON cannot say."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [_of_type(arg) for arg in typing.get_args(hint)]
        if any(not option for option in options):
            return {}
        kinds = [option["type"] for option in options if list(option) == ["type"]]
        return {"type": kinds} if len(kinds) == len(options) else {"anyOf": options}
    kind = _TYPES.get(typing.get_origin(hint) or hint)
    return {"type": kind} if kind else {}


def _kinds(value: Any) -> str:
    kinds = [value] if isinstance(value, str) else list(value)
    words = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
             "null": "null", "array": "a list", "object": "a mapping"}
    return " or ".join(words.get(kind, kind) for kind in kinds)
