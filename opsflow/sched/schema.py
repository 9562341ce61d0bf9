"""The JSON Schema of a traffic profile, and how its violations read to a person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

__all__ = ["PROFILE_SCHEMA", "explain", "location"]

_POS_INT = {"type": "integer", "minimum": 1}
_SECONDS = {"type": "number", "minimum": 0}
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
_MIX = {"type": "object", "minProperties": 1,
        "additionalProperties": {"type": "number", "exclusiveMinimum": 0}}


def _closed(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


_HOST_GROUP = _closed({
    "count": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    "vcpus": _POS_INT,
    "ram_mb": _POS_INT,
    "disk_gb": _POS_INT,
    "load": _closed({"mean": _SHARE, "spread": _SHARE}, []),
}, ["count", "vcpus", "ram_mb", "disk_gb"])

_STREAMS = {
    "poisson": _closed({"rate": {"type": "number", "exclusiveMinimum": 0}, "flavors": _MIX,
                        "start": _SECONDS, "end": _SECONDS}, ["rate", "flavors"]),
    "burst": _closed({"at": _SECONDS, "count": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                      "over": _SECONDS, "flavors": _MIX}, ["at", "count", "flavors"]),
    "diurnal": _closed({"rate": {"type": "number", "exclusiveMinimum": 0}, "amplitude": _SHARE,
                        "period": {"type": "number", "exclusiveMinimum": 0}, "flavors": _MIX},
                       ["rate", "flavors"]),
}

_SCHEDULER = _closed({
    "workers": {"type": "integer", "minimum": 1, "maximum": 64},
    "threads": {"type": "integer", "minimum": 1, "maximum": 256},
    "refresh_seconds": {"type": "number", "exclusiveMinimum": 0},
    "max_placement_results": _POS_INT,
    "host_subset_size": _POS_INT,
    "shuffle_best_same_weighed_hosts": {"type": "boolean"},
    "max_attempts": {"type": "integer", "minimum": 1, "maximum": 20},
    "sample_size": {"type": "integer", "minimum": 2, "maximum": 10_000},
    "recent_seconds": {"type": "number", "exclusiveMinimum": 0},
    "boot_seconds": _SECONDS,
    "lifetime_seconds": _SECONDS,
}, [])

#: What a traffic profile may say; everything else is a mistake reported at its line.
PROFILE_SCHEMA: dict[str, Any] = _closed({
    "name": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,64}$"},
    "seed": {"type": "integer"},
    "duration": {"type": "number", "exclusiveMinimum": 0},
    "hosts": {"type": "array", "minItems": 1, "items": _HOST_GROUP},
    "allocation_ratios": _closed({"vcpu": {"type": "number", "exclusiveMinimum": 0},
                                  "ram": {"type": "number", "exclusiveMinimum": 0},
                                  "disk": {"type": "number", "exclusiveMinimum": 0}}, []),
    "flavors": {"type": "object", "minProperties": 1, "additionalProperties": _closed(
        {"vcpus": _POS_INT, "ram_mb": _POS_INT, "disk_gb": {"type": "integer", "minimum": 0}},
        ["vcpus", "ram_mb", "disk_gb"])},
    "traffic": {"type": "array", "minItems": 1, "items": {
        "type": "object", "minProperties": 1, "maxProperties": 1,
        "propertyNames": {"enum": sorted(_STREAMS)},
        "additionalProperties": True,
        "properties": _STREAMS,
    }},
    "scheduler": _SCHEDULER,
    "policies": {"type": "array", "minItems": 1, "uniqueItems": True,
                 "items": {"enum": ["nova", "random", "p2c", "sparrow", "opsflow"]}},
    "cost_hosts": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1,
                                                              "maximum": 1_000_000}},
}, ["name", "duration", "hosts", "flavors", "traffic"])


def location(error: jsonschema.ValidationError) -> tuple[str | int, ...]:
    """The path to point at: the offending key itself for an unknown key, else the value."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping) \
            and isinstance(error.schema, Mapping):
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        if extra:
            return (*path, extra[0])
    return path


def explain(error: jsonschema.ValidationError) -> str | None:
    """A traffic profile's own sentence for a schema violation, naming what is allowed."""
    if "propertyNames" in error.schema_path or error.validator == "propertyNames":
        return f"unknown traffic kind {error.instance!r}; use one of: {', '.join(sorted(_STREAMS))}"
    if error.validator in ("minProperties", "maxProperties") and isinstance(error.schema, Mapping) \
            and "propertyNames" in error.schema:
        return f"each traffic item is exactly one of: {', '.join(sorted(_STREAMS))}"
    return None
