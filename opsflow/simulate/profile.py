"""Ramp profiles: how the simulated cloud grows, how hard it is loaded, and where it must stop.

::

    name: source region to 1000 hypervisors
    cloud: devcloud-source-admin        # clouds.yaml name, admin (default: the region's admin cloud)
    region: source                      # the simulated region that grows
    other_region_hypervisors: 2          # the other region stays at this size
    servers: {flavor: m1.tiny, image: cirros-sim, network: devcloud-net}
    steps:
      - {hypervisors: 100, boots_per_minute: 60, seconds: 120}
      - {hypervisors: 300, boots_per_minute: 60, seconds: 120}
      - {hypervisors: 1000, boots_per_minute: 60, seconds: 120}
    slo:                                # any subset; a step that exceeds one ends the ramp
      api_p99_ms: 2000                  # create/show/delete calls
      boot_p99_s: 60                    # create call to ACTIVE
      scheduling_p99_s: 20              # create call to a host chosen
      boot_failure_ratio: 0.05          # servers that went to ERROR or never became ACTIVE
      queue_depth: 500                  # messages waiting in the broker's deepest queue

Loaded as flow files are (``file:line:col`` and the fix). ``to_json`` is what the flow carries.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import jsonschema

from opsflow.flows import violations, yamldoc

__all__ = ["SLO_KEYS", "SCHEMA", "RampProfile", "Servers", "Step", "load_file", "load_text"]

#: SLO measure -> what it bounds, for messages and the report.
SLO_KEYS: dict[str, str] = {
    "api_p99_ms": "p99 latency of the API calls (ms)",
    "boot_p99_s": "p99 time from the create call to ACTIVE (s)",
    "scheduling_p99_s": "p99 time from the create call to a host chosen (s)",
    "boot_failure_ratio": "share of servers that went to ERROR or never became ACTIVE",
    "queue_depth": "messages waiting in the broker's deepest queue",
}
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
_STEP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["hypervisors", "boots_per_minute", "seconds"],
    "properties": {"hypervisors": {"type": "integer", "minimum": 1, "maximum": 2000},
                   "boots_per_minute": _POSITIVE, "seconds": _POSITIVE},
}
#: What a ramp profile may say.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["steps", "slo"],
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "cloud": {"type": "string", "minLength": 1},
        "region": {"enum": ["source", "destination"]},
        "other_region_hypervisors": {"type": "integer", "minimum": 1, "maximum": 2000},
        "servers": {"type": "object", "additionalProperties": False,
                    "properties": {k: {"type": "string", "minLength": 1} for k in ("flavor", "image", "network")}},
        "steps": {"type": "array", "minItems": 1, "items": _STEP},
        "slo": {"type": "object", "minProperties": 1, "additionalProperties": False,
                "properties": {key: {"type": "number", "minimum": 0} for key in SLO_KEYS}},
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


@dataclass(frozen=True)
class Servers:
    """What the load boots (the simulated cloud's seeded flavor, image and network by default)."""

    flavor: str = "m1.tiny"
    image: str = "cirros-sim"
    network: str = "devcloud-net"


@dataclass(frozen=True)
class Step:
    """One step of the ramp: grow to ``hypervisors``, then boot at a rate for a while."""

    hypervisors: int
    boots_per_minute: float
    seconds: float


@dataclass(frozen=True)
class RampProfile:
    """A validated ramp profile."""

    steps: tuple[Step, ...]
    slo: dict[str, float]
    name: str = "ramp-up"
    #: clouds.yaml name; "" for the simulated region's admin cloud.
    cloud: str = ""
    region: str = "source"
    other_region_hypervisors: int = 2
    servers: Servers = field(default_factory=Servers)

    def to_json(self) -> dict[str, Any]:
        """The profile as the flow's input (and back through :meth:`from_json`)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RampProfile:
        """The profile :meth:`to_json` gave."""
        return cls(steps=tuple(Step(**s) for s in data["steps"]), slo=dict(data["slo"]), name=data["name"],
                   cloud=data["cloud"], region=data["region"],
                   other_region_hypervisors=data["other_region_hypervisors"], servers=Servers(**data["servers"]))


#: The profile's keys that are RampProfile fields (``description`` is for the reader only).
_FIELDS = frozenset(f.name for f in fields(RampProfile))


def load_file(path: str | os.PathLike[str]) -> RampProfile:
    """The validated profile in ``path``; :class:`DefinitionError` names the file, line and fix."""
    return _profile(yamldoc.read(path))


def load_text(text: str, source: str = "<string>") -> RampProfile:
    """The validated profile in ``text``."""
    return _profile(yamldoc.parse(text, source))


def _profile(doc: yamldoc.Document) -> RampProfile:
    violations.check(doc, _VALIDATOR, "the ramp profile", _explain)
    data: dict[str, Any] = doc.value
    steps = tuple(Step(s["hypervisors"], float(s["boots_per_minute"]), float(s["seconds"])) for s in data["steps"])
    for index in range(1, len(steps)):
        if steps[index].hypervisors < steps[index - 1].hypervisors:
            raise doc.error(("steps", index, "hypervisors"),
                            f"a ramp only grows: step {index} has fewer hypervisors than step {index - 1}; "
                            "order the steps by hypervisors")
    # Only what the profile says is passed: every default lives in the dataclasses above.
    given = {key: value for key, value in data.items() if key in _FIELDS}
    if "servers" in given:
        given["servers"] = Servers(**given["servers"])
    return RampProfile(**{**given, "steps": steps, "slo": {k: float(v) for k, v in data["slo"].items()}})


def _explain(error: jsonschema.ValidationError) -> str | None:
    if error.validator == "minProperties" and "slo" in error.absolute_path:
        return f"the SLO needs at least one bound: {', '.join(SLO_KEYS)}"
    return None
