"""Which servers a batch hibernates: ids, name globs, and filters by project, host and tag.

An operator names servers the way ``openstack server list`` shows them: ids, names, or shell globs
(``web-*``); or picks them by where they are (``--host``), whose they are (``--project``) and how
they are marked (``--tag``). Filters narrow what the names select (no names: every server the
filters allow). Hosts need the admin view; with a non-admin cloud the host is simply unknown.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence
from typing import Any

from opsflow.errors import InvalidInput

__all__ = ["Selected", "Selection", "duplicate_names", "select"]


@dataclasses.dataclass(frozen=True)
class Selection:
    """What the operator asked for."""

    #: Server ids, names or globs (empty: every server the filters allow).
    patterns: tuple[str, ...] = ()
    #: Only servers of this project id.
    project: str = ""
    #: Only servers on this hypervisor host.
    host: str = ""
    #: Only servers carrying this tag.
    tag: str = ""

    def __post_init__(self) -> None:
        if not (self.patterns or self.project or self.host or self.tag):
            raise InvalidInput("say which servers: ids, names or globs, or --project, --host or --tag")


@dataclasses.dataclass(frozen=True)
class Selected:
    """One server a batch acts on."""

    #: Server id.
    id: str
    #: Server name.
    name: str
    #: Hypervisor host ("" when the cloud does not show it).
    host: str
    #: Owner project id.
    project_id: str


def select(conn: Any, selection: Selection) -> list[Selected]:
    """The servers at ``conn`` that ``selection`` names, sorted by name; InvalidInput when a plain
    name or id matches nothing, or a name matches two servers (say the id instead)."""
    query: dict[str, Any] = {"all_projects": True}
    if selection.project:
        query["project_id"] = selection.project
    if selection.host:
        query["compute_host"] = selection.host
    if selection.tag:
        query["tags"] = selection.tag
    servers = [s for s in conn.compute.servers(**query)
               if (not selection.host or s.compute_host == selection.host)
               and (not selection.tag or selection.tag in (s.tags or []))
               and (not selection.project or s.project_id == selection.project)]
    chosen = {s.id: s for s in servers} if not selection.patterns else {}
    for pattern in selection.patterns:
        hits = [s for s in servers if s.id == pattern or fnmatch.fnmatchcase(s.name, pattern)]
        if not hits and not _is_glob(pattern):
            raise InvalidInput(f"no server {pattern!r} matches the selection; check `openstack server list`")
        if len(hits) > 1 and not _is_glob(pattern) and all(s.id != pattern for s in hits):
            raise InvalidInput(f"{len(hits)} servers are named {pattern!r}; give the id instead")
        chosen.update({s.id: s for s in hits})
    return sorted((Selected(id=s.id, name=s.name, host=s.compute_host or "", project_id=s.project_id)
                   for s in chosen.values()), key=lambda s: (s.name, s.id))


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def duplicate_names(selected: Sequence[Selected]) -> list[str]:
    """Names two selected servers of one project share (their copies would collide)."""
    seen: dict[tuple[str, str], int] = {}
    for server in selected:
        seen[(server.project_id, server.name)] = seen.get((server.project_id, server.name), 0) + 1
    return sorted({name for (_project, name), count in seen.items() if count > 1})
