"""A reclaim policy in YAML: which detectors apply where, the stages, exclusions and the final action.

Loaded like a flow file: malformed YAML, an unknown key, a bad duration or a detector nobody
installed is refused at load time as ``file:line:col: what to change``, before the scan touches a
cloud. The loaded policy is a frozen :class:`Policy`; :meth:`Policy.to_json` is what a reclaim run
carries in its inputs, so a run re-checks with the policy it was started under.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from opsflow import notifiers, registry
from opsflow.errors import PluginNotFound
from opsflow.flows import violations, yamldoc

__all__ = ["DETECTORS", "NOTIFIERS", "DetectorRule", "Policy", "Scope", "load_file", "load_text",
           "seconds"]

#: Entry-point namespace of detectors (``opsflow.reclaim.detectors``).
DETECTORS = "opsflow.reclaim.detectors"
#: Entry-point namespace of notifiers.
NOTIFIERS = notifiers.GROUP

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = r"^\d+(\.\d+)?[smhdw]$"


def seconds(value: str | float | int) -> float:
    """Seconds of a duration: a number of seconds, or ``30s``, ``15m``, ``12h``, ``7d``, ``2w``."""
    if isinstance(value, (int, float)):
        return float(value)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw])", value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 30s, 15m, 12h, 7d or 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


_DURATION_SCHEMA: dict[str, Any] = {"oneOf": [{"type": "number", "minimum": 0},
                                              {"type": "string", "pattern": _DURATION}]}
_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}}
_SCOPE = {"type": "object", "additionalProperties": False,
          "properties": {"projects": _NAMES, "flavors": _NAMES, "tags": _NAMES}}

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["cloud", "detectors"],
    "properties": {
        "cloud": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "detectors": {"type": "object", "minProperties": 1, "additionalProperties": {
            "type": ["object", "null"],
            "properties": {"where": _SCOPE},
        }},
        "where": _SCOPE,
        "exclude": {"type": "object", "additionalProperties": False, "properties": {
            "tags": _NAMES, "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "projects": _NAMES}},
        "stages": {"type": "object", "additionalProperties": False, "properties": {
            "notice": _DURATION_SCHEMA, "final": _DURATION_SCHEMA}},
        "keep_days": {"type": "number", "exclusiveMinimum": 0},
        "action": {"enum": ["hibernate", "delete"]},
        "hibernate": {"type": "object", "additionalProperties": False, "properties": {"layout": {
            "type": "object", "additionalProperties": False, "properties": {
                "container": {"type": "string"}, "segment_container": {"type": "string"},
                "prefix": {"type": "string"}}}}},
        "notify": {"type": "array", "items": {"type": "object", "minProperties": 1, "maxProperties": 1}},
        "links": {"type": "object", "additionalProperties": False, "properties": {
            "url": {"type": "string", "minLength": 1}, "key": {"type": "string", "minLength": 16},
            "ttl": _DURATION_SCHEMA}},
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA)


@dataclasses.dataclass(frozen=True)
class Scope:
    """Which servers a rule applies to; an empty list means any."""

    #: Project names or ids.
    projects: tuple[str, ...] = ()
    #: Flavor names or ids.
    flavors: tuple[str, ...] = ()
    #: Nova tags, any of which makes a server qualify.
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> Scope:
        """From the policy's ``where:`` mapping."""
        raw = raw or {}
        return cls(tuple(raw.get("projects", ())), tuple(raw.get("flavors", ())), tuple(raw.get("tags", ())))

    def to_json(self) -> dict[str, list[str]]:
        """The ``where:`` mapping again."""
        return {"projects": list(self.projects), "flavors": list(self.flavors), "tags": list(self.tags)}


@dataclasses.dataclass(frozen=True)
class DetectorRule:
    """One detector the policy applies, with its settings and scope."""

    #: Entry-point name in ``opsflow.reclaim.detectors``.
    name: str
    #: Its own settings (everything under its key except ``where``).
    settings: Mapping[str, Any]
    #: Where it applies (narrowing the policy's own ``where``).
    where: Scope


@dataclasses.dataclass(frozen=True)
class Policy:
    """A whole validated policy."""

    #: clouds.yaml name of an admin of the cloud to sweep.
    cloud: str
    #: The detectors, in document order.
    detectors: tuple[DetectorRule, ...]
    #: Where the whole policy applies.
    where: Scope = Scope()
    #: Tags that opt a server out.
    exclude_tags: tuple[str, ...] = ("reclaim-exempt",)
    #: Metadata key -> value that opts a server out.
    exclude_metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Projects never touched.
    exclude_projects: tuple[str, ...] = ()
    #: Seconds between the first notice and the final warning.
    notice_seconds: float = 7 * 86400.0
    #: Seconds between the final warning and the action.
    final_seconds: float = 2 * 86400.0
    #: Days a keep lasts when the owner gives none.
    keep_days: float = 30.0
    #: ``hibernate`` (reversible, the default) or ``delete``.
    action: str = "hibernate"
    #: What the hibernate flow is given: ``{layout: {container, segment_container, prefix}}``.
    hibernate: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Notifiers: ({name: settings}, ...) in order.
    notify: tuple[Mapping[str, Any], ...] = ()
    #: Where keep links point (the endpoint's base URL), "" for no links.
    link_url: str = ""
    #: HMAC key of keep links ("" means ``$OPSFLOW_RECLAIM_LINK_KEY``).
    link_key: str = ""
    #: Seconds a keep link stays valid.
    link_ttl: float = 7 * 86400.0
    #: Where it was loaded from.
    source: str = "<string>"

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form (what runs carry); :meth:`from_json` reads it back."""
        data = dataclasses.asdict(self)
        data["detectors"] = [{"name": d.name, "settings": dict(d.settings), "where": d.where.to_json()}
                             for d in self.detectors]
        data["where"] = self.where.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        """The policy :meth:`to_json` wrote."""
        values = dict(data)
        values["detectors"] = tuple(DetectorRule(d["name"], dict(d["settings"]), Scope.of(d["where"]))
                                    for d in data["detectors"])
        values["where"] = Scope.of(data["where"])
        for key in ("exclude_tags", "exclude_projects", "notify"):
            values[key] = tuple(values[key])
        return cls(**values)


def load_file(path: str | Path) -> Policy:
    """Load and validate a policy file."""
    return _policy(yamldoc.read(path))


def load_text(text: str, source: str = "<string>") -> Policy:
    """Load and validate a policy from its YAML text."""
    return _policy(yamldoc.parse(text, source))


def _policy(doc: yamldoc.Document) -> Policy:
    if not isinstance(doc.value, dict):
        raise doc.error((), "a reclaim policy is a mapping with at least 'cloud' and 'detectors'")
    violations.check(doc, _VALIDATOR, "the policy", _explain)
    body: dict[str, Any] = doc.value
    rules = []
    for name, raw in body["detectors"].items():
        try:
            detector = registry.fetch(DETECTORS, name)
        except PluginNotFound as exc:
            raise doc.error(("detectors", name), f"detectors.{name}: {exc}") from exc
        settings = {k: v for k, v in (raw or {}).items() if k != "where"}
        try:
            detector.check(settings)
        except ValueError as exc:
            raise doc.error(("detectors", name), f"detectors.{name}: {exc}") from exc
        rules.append(DetectorRule(name, settings, Scope.of((raw or {}).get("where"))))
    for index, entry in enumerate(body.get("notify", ())):
        name = next(iter(entry))
        try:
            registry.fetch(NOTIFIERS, name)
        except PluginNotFound as exc:
            raise doc.error(("notify", index), f"notify[{index}]: {exc}") from exc
    exclude = body.get("exclude") or {}
    stages = body.get("stages") or {}
    links = body.get("links") or {}
    return Policy(
        cloud=body["cloud"],
        detectors=tuple(rules),
        where=Scope.of(body.get("where")),
        exclude_tags=tuple(exclude.get("tags", ("reclaim-exempt",))),
        exclude_metadata=dict(exclude.get("metadata", {})),
        exclude_projects=tuple(exclude.get("projects", ())),
        notice_seconds=seconds(stages.get("notice", "7d")),
        final_seconds=seconds(stages.get("final", "2d")),
        keep_days=float(body.get("keep_days", 30)),
        action=body.get("action", "hibernate"),
        hibernate=dict(body.get("hibernate", {})),
        notify=tuple(dict(entry) for entry in body.get("notify", ())),
        link_url=links.get("url", ""),
        link_key=links.get("key", ""),
        link_ttl=seconds(links.get("ttl", "7d")),
        source=doc.source,
    )


def _explain(error: jsonschema.ValidationError) -> str | None:
    path = tuple(error.absolute_path)
    if error.validator in ("oneOf", "pattern", "type") and isinstance(error.instance, str) \
            and path and path[-1] in ("notice", "final", "ttl"):
        return f"{error.instance!r} is not a duration such as 30s, 15m, 12h, 7d or 2w"
    return None
