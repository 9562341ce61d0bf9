"""A flow's graph for the API and the dashboard: JSON nodes and edges, or a server-side SVG.

One node per top-level task of the definition. A task that fans out (``for_each``) or runs a
sub-flow stores several atoms (``move[2]``, ``migrate.copy``); its node shows their combined
state and how many of them are done, so a 1,000-item fan-out is one box reading ``412/1000``.
The SVG needs no JavaScript library: layers come from the dependency graph's topological
generations, edges are straight lines, states are CSS classes the dashboard colours.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Sequence

import networkx

from opsflow.engines.records import TaskRecord, TaskState
from opsflow.flows import loader
from opsflow.flows.model import FlowDefinition

__all__ = ["Node", "nodes", "to_json", "to_svg"]

#: TaskFlow atom states, worst first: a node takes the first one any of its atoms has.
_PRECEDENCE = (("FAILURE", "failed"), ("REVERT_FAILURE", "failed"), ("REVERTING", "reverting"),
               ("REVERTED", "reverted"), ("RUNNING", "running"), ("RETRYING", "running"))

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 180, 48, 60, 22, 16


@dataclasses.dataclass(frozen=True)
class Node:
    """One task of the drawing."""

    name: str
    #: What it does: the action, or ``flow NAME``.
    what: str
    #: pending, running, succeeded, failed, reverting, reverted.
    state: str
    #: Atoms done, and atoms in all (0 before the run stored any).
    done: int
    total: int


def _belongs(path: str, name: str) -> bool:
    return path == name or path.startswith((name + "[", name + "."))


def _state(atoms: Sequence[TaskRecord]) -> str:
    states = {a.state for a in atoms}
    for raw, shown in _PRECEDENCE:
        if raw in states:
            return shown
    if atoms and states == {"SUCCESS"}:
        return "succeeded"
    return "running" if "SUCCESS" in states else "pending"


def nodes(definition: FlowDefinition, tasks: Iterable[TaskRecord] = ()) -> list[Node]:
    """The definition's top-level tasks with the state of a run's stored atoms."""
    atoms = [t for t in tasks if not t.internal]
    out = []
    for spec in definition.tasks:
        mine = [a for a in atoms if _belongs(a.path, spec.name)]
        # The task's own atom is its summary when there is one (a child-run task, a plain task).
        own = [a for a in mine if a.path == spec.name]
        parts = [a for a in mine if a.path != spec.name] or own
        out.append(Node(spec.name, spec.action or f"flow {spec.flow}", _state(own or parts),
                        sum(a.state == TaskState.SUCCESS for a in parts), len(parts)))
    return out


def to_json(definition: FlowDefinition, tasks: Iterable[TaskRecord] = ()) -> dict[str, object]:
    """``{"name", "nodes": [...], "edges": [[from, to], ...]}``."""
    graph = loader.dependency_graph(definition)
    return {"name": definition.name,
            "nodes": [dataclasses.asdict(n) for n in nodes(definition, tasks)],
            "edges": [[a, b] for a, b in graph.edges]}


def to_svg(definition: FlowDefinition, tasks: Iterable[TaskRecord] = ()) -> str:
    """The graph drawn left to right, each box classed ``task state-<state>``."""
    graph = loader.dependency_graph(definition)
    layers = [sorted(layer, key=[t.name for t in definition.tasks].index)
              for layer in networkx.topological_generations(graph)]
    where: dict[str, tuple[int, int]] = {}
    for column, layer in enumerate(layers):
        for row, name in enumerate(layer):
            where[name] = (MARGIN + column * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y))
    width = MARGIN * 2 + max(len(layers), 1) * (BOX_W + GAP_X) - GAP_X
    height = MARGIN * 2 + max((len(layer) for layer in layers), default=1) * (BOX_H + GAP_Y) - GAP_Y
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-graph" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(definition.name)}">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#777"/></marker></defs>',
           "<style>.task rect{stroke:#555;stroke-width:1.2;rx:6}.task text{font:12px sans-serif}"
           ".task .what{fill:#555;font-size:10px}.state-pending rect{fill:#eee}.state-running rect{fill:#ffe08a}"
           ".state-succeeded rect{fill:#9be39b}.state-failed rect{fill:#f28b82}.state-reverting rect{fill:#fbbc88}"
           ".state-reverted rect{fill:#c5cae9}line{stroke:#777;stroke-width:1.2}</style>"]
    for upstream, downstream in graph.edges:
        (x1, y1), (x2, y2) = where[upstream], where[downstream]
        out.append(f'<line x1="{x1 + BOX_W}" y1="{y1 + BOX_H // 2}" x2="{x2}" y2="{y2 + BOX_H // 2}" '
                   f'marker-end="url(#arrow)"/>')
    for node in nodes(definition, tasks):
        x, y = where[node.name]
        progress = f" {node.done}/{node.total}" if node.total > 1 else ""
        name = html.escape(node.name)
        out.append(f'<g class="task state-{node.state}" data-task="{name}" data-state="{node.state}">'
                   f'<title>{name}: {node.state}{progress}</title>'
                   f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}"/>'
                   f'<text x="{x + 8}" y="{y + 19}">{html.escape(node.name[:24])}{progress}</text>'
                   f'<text class="what" x="{x + 8}" y="{y + 36}">{html.escape(node.what[:30])} · {node.state}</text></g>')
    out.append("</svg>")
    return "\n".join(out)
