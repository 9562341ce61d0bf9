"""Check and convert the inputs a run is started with against the definition's declarations."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from opsflow.errors import InvalidInput
from opsflow.flows.model import FlowDefinition, InputSpec
from opsflow.flows.schema import INPUT_TYPES

__all__ = ["from_command_line", "validate"]


def from_command_line(definition: FlowDefinition, pairs: list[str]) -> dict[str, Any]:
    """Turn ``k=v`` strings into typed values: lists as ``a,b,c`` or YAML, objects as YAML/JSON."""
    declared = {spec.name: spec for spec in definition.inputs}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise InvalidInput(f"--input {pair!r}: write NAME=VALUE")
        spec = declared.get(name)
        if spec is None:
            raise InvalidInput(_unknown(definition, name))
        values[name] = _convert(spec, text)
    return validate(definition, values)


def _convert(spec: InputSpec, text: str) -> Any:
    if spec.type == "string":
        return text
    if spec.type == "list" and not text.lstrip().startswith("["):
        return [item.strip() for item in text.split(",") if item.strip()]
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"input {spec.name!r}: cannot read {text!r} as {spec.type}: {exc}") from exc
    return text if spec.type == "any" and value is None else value


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
        if spec.enum is not None and value not in spec.enum:
            raise InvalidInput(f"input {spec.name!r} must be one of {list(spec.enum)}, got {value!r}")
        values[spec.name] = value
    return values


def _unknown(definition: FlowDefinition, name: str) -> str:
    known = ", ".join(spec.name for spec in definition.inputs) or "none"
    return f"flow {definition.name!r} has no input {name!r}; its inputs: {known}"
