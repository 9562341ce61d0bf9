"""Check and convert the inputs a run is started with against the definition's declarations."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from opsflow.errors import DefinitionError, InvalidInput
from opsflow.flows.model import FlowDefinition, InputSpec
from opsflow.flows.schema import INPUT_TYPES
from opsflow.flows.yamldoc import parse, read_text

__all__ = ["finite", "from_command_line", "validate"]


def finite(value: Any) -> bool:
    """False when ``value`` holds a NaN or an infinity anywhere (they pass every numeric comparison)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(finite(item) for item in value)
    if isinstance(value, dict):
        return all(finite(item) for item in value.values())
    return True


def from_command_line(definition: FlowDefinition, pairs: list[str]) -> dict[str, Any]:
    """Turn ``k=v`` strings into typed values: lists as ``a,b,c`` or YAML, objects as YAML/JSON.

    ``k=@FILE`` reads the value from a JSON or YAML file (any type but string: then the file's
    text). Naming an input twice is refused: which one was meant cannot be guessed.
    """
    declared = {spec.name: spec for spec in definition.inputs}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise InvalidInput(f"--input {pair!r}: write NAME=VALUE or NAME=@FILE")
        spec = declared.get(name)
        if spec is None:
            raise InvalidInput(_unknown(definition, name))
        if name in values:
            raise InvalidInput(f"--input {name} is given twice; give each input once (a list as a,b,c or [a, b])")
        values[name] = _from_file(spec, text[1:]) if text.startswith("@") else _convert(spec, text)
    return validate(definition, values)


def _from_file(spec: InputSpec, path: str) -> Any:
    try:
        text = read_text(path)
    except DefinitionError as exc:
        raise InvalidInput(f"input {spec.name!r}: {exc}") from exc
    if spec.type == "string":
        return text
    return _read(spec, text, path)


def _convert(spec: InputSpec, text: str) -> Any:
    if spec.type == "string":
        return text
    if spec.type == "list" and not text.lstrip().startswith("["):
        return [item.strip() for item in text.split(",") if item.strip()]
    value = _read(spec, text, f"--input {spec.name}")
    return text if spec.type == "any" and value is None else value


def _read(spec: InputSpec, text: str, source: str) -> Any:
    """A YAML (or JSON) value, parsed within the same bounds and number rules as definitions."""
    try:
        return parse(text, source).value
    except DefinitionError as exc:
        raise InvalidInput(f"input {spec.name!r}: cannot read it as {spec.type}: {exc}") from exc


def validate(definition: FlowDefinition, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared input with its value: given, or the default; raise InvalidInput otherwise."""
    declared = {spec.name: spec for spec in definition.inputs}
    for name in given:
        if name not in declared:
            raise InvalidInput(_unknown(definition, name))
    values: dict[str, Any] = {}
    for spec in definition.inputs:
        if spec.name in given:
            value = given[spec.name]
        elif spec.required:
            raise InvalidInput(
                f"flow {definition.name!r} needs input {spec.name!r} ({spec.type}"
                f"{': ' + spec.description if spec.description else ''}); pass --input {spec.name}=VALUE"
            )
        else:
            value = spec.default
        kinds = INPUT_TYPES[spec.type]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds and spec.type != "any"):
            raise InvalidInput(f"input {spec.name!r} must be of type {spec.type}, got {json.dumps(value, default=str)}")
        if not finite(value):
            raise InvalidInput(f"input {spec.name!r} holds {value!r}; NaN and infinities are not numbers a flow can use")
        if spec.enum is not None and value not in spec.enum:
            raise InvalidInput(f"input {spec.name!r} must be one of {list(spec.enum)}, got {value!r}")
        values[spec.name] = value
    return values


def _unknown(definition: FlowDefinition, name: str) -> str:
    known = ", ".join(spec.name for spec in definition.inputs) or "none"
    return f"flow {definition.name!r} has no input {name!r}; its inputs: {known}"
