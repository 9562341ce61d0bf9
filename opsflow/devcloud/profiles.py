"""Behaviour profiles of the simulated hypervisors: validated from YAML, applied while the cloud runs.

A profile names host groups (globs) and, per group, operation latencies, failure rates, a slow
disk and a heartbeat that stops or flaps::

    name: a bad rack
    groups:
      - hosts: sim-sou-00[1-3]
        latency:
          spawn: {median: 6, p99: 20}      # lognormal, from its median and 99th percentile
          power: {fixed: 0.5}
          destroy: {uniform: [0.2, 1.0]}
        failures: {spawn: 0.2}             # a fifth of the boots end in ERROR
        disk_mib_per_second: 20            # disk writes and copies take size / rate
        heartbeat: {flap: {period: 120, down: 40}}   # or {stop: true}

Loading checks it the way flow files are checked (file:line:col and a sentence); applying writes
its JSON form where every region's hypervisors look (:mod:`opsflow.plugins.nova.behaviour`), so
the next operation on each host already follows it. Applying an empty profile, or ``clear``,
restores the configured defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema

from opsflow.devcloud.layout import Layout
from opsflow.flows import violations, yamldoc
from opsflow.plugins.nova.behaviour import OPERATIONS, PROFILE_FILE

__all__ = ["SCHEMA", "apply", "clear", "load_file", "load_text"]

_SECONDS = {"type": "number", "minimum": 0}
_LATENCY = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 2,
    "additionalProperties": False,
    "properties": {"fixed": _SECONDS, "median": {"type": "number", "exclusiveMinimum": 0},
                   "p99": {"type": "number", "exclusiveMinimum": 0},
                   "uniform": {"type": "array", "items": _SECONDS, "minItems": 2, "maxItems": 2}},
}
_HEARTBEAT = {
    "type": "object",
    "maxProperties": 1,
    "additionalProperties": False,
    "properties": {
        "stop": {"const": True},
        "flap": {"type": "object", "additionalProperties": False, "required": ["period", "down"],
                 "properties": {"period": {"type": "number", "exclusiveMinimum": 0},
                                "down": {"type": "number", "exclusiveMinimum": 0}}},
    },
}
_GROUP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["hosts"],
    "properties": {
        "hosts": {"anyOf": [{"type": "string", "minLength": 1},
                            {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}]},
        "latency": {"type": "object", "propertyNames": {"enum": list(OPERATIONS)}, "additionalProperties": _LATENCY},
        "failures": {"type": "object", "propertyNames": {"enum": list(OPERATIONS)},
                     "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1}},
        "disk_mib_per_second": {"type": "number", "exclusiveMinimum": 0},
        "heartbeat": _HEARTBEAT,
    },
}
#: What a behaviour profile may say.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["groups"],
    "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                   "groups": {"type": "array", "items": _GROUP}},
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
_LATENCY_FORMS = "give {fixed: S}, {uniform: [LOW, HIGH]} or {median: M, p99: P} in seconds"


def load_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated profile in ``path``; :class:`DefinitionError` names the file, line and fix."""
    return _profile(yamldoc.read(path))


def load_text(text: str, source: str = "<string>") -> dict[str, Any]:
    """The validated profile in ``text``."""
    return _profile(yamldoc.parse(text, source))


def _profile(doc: yamldoc.Document) -> dict[str, Any]:
    violations.check(doc, _VALIDATOR, "the profile", _explain)
    profile: dict[str, Any] = doc.value
    for index, group in enumerate(profile["groups"]):
        for operation, latency in group.get("latency", {}).items():
            where = ("groups", index, "latency", operation)
            if set(latency) not in ({"fixed"}, {"uniform"}, {"median", "p99"}):
                raise doc.error(where, f"unclear latency for {operation}: {_LATENCY_FORMS}")
            if "uniform" in latency and latency["uniform"][0] > latency["uniform"][1]:
                raise doc.error(where, f"{operation}: uniform bounds go [LOW, HIGH]; swap them")
            if "p99" in latency and latency["p99"] < latency["median"]:
                raise doc.error(where, f"{operation}: p99 is below the median; the 99th percentile must be at least it")
        flap = group.get("heartbeat", {}).get("flap")
        if flap and flap["down"] >= flap["period"]:
            raise doc.error(("groups", index, "heartbeat", "flap"),
                            "a flap's down time must be shorter than its period; for a heartbeat that never "
                            "comes back, use {stop: true}")
    return profile


def apply(layout: Layout, profile: dict[str, Any]) -> list[Path]:
    """Make every region's hypervisors follow ``profile`` from their next operation on."""
    written = []
    for region in layout.regions():
        region.disk_dir.mkdir(parents=True, exist_ok=True)
        target = region.disk_dir / PROFILE_FILE
        part = target.with_suffix(".part")
        part.write_text(json.dumps(profile))
        os.replace(part, target)
        written.append(target)
    return written


def clear(layout: Layout) -> None:
    """Back to the configured timings: remove the applied profile everywhere."""
    for region in layout.regions():
        (region.disk_dir / PROFILE_FILE).unlink(missing_ok=True)


def _explain(error: jsonschema.ValidationError) -> str | None:
    if error.validator in ("propertyNames", "enum"):  # the only enum: operation names
        return f"{error.instance!r} is not an operation the simulator has; use one of {', '.join(OPERATIONS)}"
    if error.validator in ("minProperties", "maxProperties") and "latency" in error.absolute_path:
        return _LATENCY_FORMS
    if error.validator == "maxProperties":
        return "a heartbeat either stops ({stop: true}) or flaps ({flap: {period: S, down: S}}), not both"
    return None
