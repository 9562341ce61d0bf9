"""A forklift plan: which servers move from which cloud to which, how, in what order — a YAML file an
operator reads and edits between ``opsflow forklift plan`` and ``opsflow forklift apply``.

:func:`select` turns a selection (ids, name globs, ``project=``, ``host=``, ``tag=``) into servers;
:mod:`opsflow.forklift.preflight` names every problem with its fix; :func:`dump` and :func:`load`
write and read the file, and :func:`load` refuses a file it cannot trust with one line naming it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from opsflow import clouds
from opsflow.errors import PlanError
from opsflow.flows import yamldoc
from opsflow.forklift import inventory
from opsflow.forklift.preflight import Problem
from opsflow.tasks.migration import LIMITS, Mode

__all__ = ["MAPPING_KINDS", "FINISHES", "Plan", "PlannedServer", "check_limits", "dump", "load", "select"]

#: Kinds of names a plan's ``mappings`` may map.
MAPPING_KINDS = ("flavors", "images", "networks", "security_groups", "keypairs", "availability_zones")
#: What may become of a source server (see forklift.yaml's ``finish`` input).
FINISHES = ("stop", "tag", "delete")
#: The plan format this code writes and reads.
VERSION = 1

_FILTERS = ("project", "host", "tag")


@dataclasses.dataclass(frozen=True)
class PlannedServer:
    """One server of a plan, as the operator sees it (destination names after mapping)."""

    #: The server's id at the source (what the run uses).
    id: str
    #: Its name (the twin gets the same).
    name: str
    #: Owner project id.
    project: str
    #: Source hypervisor ("" without admin rights).
    host: str
    #: Destination flavor name.
    flavor: str
    #: Destination base image name ("" for none).
    image: str
    #: Destination network names, one per port.
    networks: tuple[str, ...]
    #: Destination security group names.
    security_groups: tuple[str, ...]
    #: Upper bound of the bytes to carry: the flavor's root disk.
    estimated_bytes: int


@dataclasses.dataclass(frozen=True)
class Plan:
    """A whole plan."""

    source_cloud: str
    destination_cloud: str
    #: image, cold or warm.
    mode: Mode
    #: stop, tag or delete.
    finish: str
    #: kind -> {source name: destination name}.
    mappings: Mapping[str, Mapping[str, str]]
    #: In the order they move.
    servers: tuple[PlannedServer, ...]
    #: Problems pre-flight found (informative in the file: apply checks again).
    problems: tuple[Problem, ...] = ()
    #: Some of ``transfers`` at once (in total), ``per_source_host``, ``per_destination_host``,
    #: ``api_calls_per_second`` (to each cloud), ``bytes_per_second_per_host``.
    limits: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def inputs(self) -> dict[str, Any]:
        """The inputs of forklift-batch.yaml that run this plan."""
        return {"servers": [server.id for server in self.servers], "source_cloud": self.source_cloud,
                "destination_cloud": self.destination_cloud, "mode": self.mode.value, "finish": self.finish,
                "mappings": {kind: dict(table) for kind, table in self.mappings.items() if table},
                "limits": dict(self.limits)}


def _matches(server: Any, names: Sequence[str], filters: Mapping[str, str], projects: Mapping[str, str]) -> bool:
    if names and not any(server.id == n or fnmatch.fnmatchcase(server.name, n) for n in names):
        return False
    if "project" in filters and filters["project"] not in (server.project_id, projects.get(server.project_id)):
        return False
    if "host" in filters and server.compute_host != filters["host"]:
        return False
    return "tag" not in filters or filters["tag"] in (server.tags or [])


def select(cloud: str, selection: Sequence[str]) -> list[Any]:
    """The servers at ``cloud`` the selection names, sorted by name: each term is an id, a name
    glob, or ``project=NAME|ID``, ``host=HYPERVISOR``, ``tag=TAG`` (filters all must hold)."""
    names: list[str] = []
    filters: dict[str, str] = {}
    for term in selection:
        key, sep, value = term.partition("=")
        if sep and key in _FILTERS:
            filters[key] = value
        elif sep:
            raise PlanError(f"selection {term!r}: say an id, a name glob, or one of "
                            f"{', '.join(f + '=VALUE' for f in _FILTERS)}")
        else:
            names.append(term)
    if not names and not filters:
        raise PlanError("select at least one server: an id, a name glob, project=, host= or tag=")
    conn = clouds.connect(cloud)
    with clouds.errors(cloud, "listing servers"):
        admin = clouds.is_admin(conn)
        identity: Any = conn.identity
        projects = {p.id: p.name for p in identity.projects()} if admin else {}
        found = [s for s in conn.compute.servers(all_projects=admin) if _matches(s, names, filters, projects)]
    return sorted(found, key=lambda s: s.name)


def planned(description: Mapping[str, Any], mappings: Mapping[str, Any]) -> PlannedServer:
    """The plan's line for a server described by :func:`opsflow.forklift.inventory.describe`."""
    image = description["image"]
    return PlannedServer(
        id=description["id"], name=description["name"], project=description["project_id"],
        host=description["host"], flavor=inventory.mapped(mappings, "flavors", description["flavor"]["name"]),
        image=inventory.mapped(mappings, "images", image["name"] or image["id"]) if image else "",
        networks=tuple(inventory.mapped(mappings, "networks", n["name"]) for n in description["networks"]),
        security_groups=tuple(inventory.mapped(mappings, "security_groups", g["name"])
                              for g in description["security_groups"]),
        estimated_bytes=int(description["flavor"]["disk"]) << 30)


_HEADER = """\
# opsflow forklift plan: read it, edit it (mappings, mode, finish, limits on transfers at once and on
# requests and bytes a second, the order or the list of servers), then run `opsflow forklift apply THIS_FILE`. Problems found by the pre-flight checks are listed at
# the end with their fixes; apply checks again and refuses while a blocking one remains.
"""


def dump(plan: Plan) -> str:
    """The plan as the YAML file an operator edits."""
    body = {
        "version": VERSION,
        "source_cloud": plan.source_cloud,
        "destination_cloud": plan.destination_cloud,
        "mode": plan.mode.value,
        "finish": plan.finish,
        "mappings": {kind: dict(plan.mappings.get(kind) or {}) for kind in MAPPING_KINDS},
        "limits": {key: plan.limits.get(key) for key in LIMITS},
        "servers": [{**dataclasses.asdict(s), "networks": list(s.networks),
                     "security_groups": list(s.security_groups)} for s in plan.servers],
        "problems": [dataclasses.asdict(p) for p in plan.problems],
    }
    return _HEADER + yaml.safe_dump(body, sort_keys=False, default_flow_style=False)


def _need(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value):
        raise PlanError(f"{where}: '{key}' must be a {'non-empty ' if kind is str else ''}{kind.__name__}; "
                        f"write it as `opsflow forklift plan` does")
    return value


def load(path: str) -> Plan:
    """Read a plan file; anything unusable raises PlanError naming the file and what to change.

    A file that cannot be read or is not YAML raises DefinitionError, as every YAML file does.
    """
    doc = yamldoc.read(path).value
    if not isinstance(doc, dict):
        raise PlanError(f"{path}: a plan is a mapping with source_cloud, destination_cloud and servers; "
                        f"make one with `opsflow forklift plan`")
    if doc.get("version", VERSION) != VERSION:
        raise PlanError(f"{path}: plan version {doc.get('version')!r}; this opsflow reads version {VERSION}")
    mode = doc.get("mode", Mode.IMAGE.value)
    if mode not in [m.value for m in Mode]:
        raise PlanError(f"{path}: mode {mode!r}: say one of {', '.join(m.value for m in Mode)}")
    finish = doc.get("finish", "stop")
    if finish not in FINISHES:
        raise PlanError(f"{path}: finish {finish!r}: say one of {', '.join(FINISHES)}")
    mappings = doc.get("mappings") or {}
    if not isinstance(mappings, dict) or any(k not in MAPPING_KINDS or not isinstance(v, (dict, type(None)))
                                             for k, v in mappings.items()):
        raise PlanError(f"{path}: mappings must map some of {', '.join(MAPPING_KINDS)} to "
                        f"{{source name: destination name}}")
    limits = check_limits(doc.get("limits") or {}, path)
    raw = _need(doc, "servers", list, path)
    if not raw:
        raise PlanError(f"{path}: no servers to move; add some or make a new plan")
    servers = []
    for index, item in enumerate(raw):
        where = f"{path}: servers[{index}]"
        if not isinstance(item, dict):
            raise PlanError(f"{where}: each server is a mapping with at least 'id'")
        servers.append(PlannedServer(
            id=_need(item, "id", str, where), name=str(item.get("name") or item["id"]),
            project=str(item.get("project") or ""), host=str(item.get("host") or ""),
            flavor=str(item.get("flavor") or ""), image=str(item.get("image") or ""),
            networks=tuple(item.get("networks") or ()), security_groups=tuple(item.get("security_groups") or ()),
            estimated_bytes=int(item.get("estimated_bytes") or 0)))
    return Plan(source_cloud=_need(doc, "source_cloud", str, path),
                destination_cloud=_need(doc, "destination_cloud", str, path), mode=Mode(mode), finish=finish,
                mappings={k: dict(v) for k, v in mappings.items() if v}, servers=tuple(servers),
                problems=tuple(_problem(p) for p in doc.get("problems") or ()), limits=limits)


def check_limits(raw: Any, where: str) -> dict[str, int]:
    """The set limits of a plan (a key left empty is unbounded); PlanError naming the bad one."""
    if not isinstance(raw, dict) or any(key not in LIMITS for key in raw):
        raise PlanError(f"{where}: limits may set {', '.join(LIMITS)} (transfers at once, requests and bytes "
                        f"a second), nothing else")
    limits = {}
    for key, value in raw.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PlanError(f"{where}: limits.{key} is {value!r}; give a whole number of at least 1, "
                            f"or leave it empty for no bound")
        limits[str(key)] = value
    return limits


def _problem(raw: Any) -> Problem:
    if not isinstance(raw, dict):
        return Problem("", str(raw), "")
    return Problem(str(raw.get("server", "")), str(raw.get("problem", "")), str(raw.get("fix", "")),
                   bool(raw.get("blocking", True)))
