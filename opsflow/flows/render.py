"""Draw a definition: Graphviz DOT (sub-flows as clusters) and a plain-text outline."""

from __future__ import annotations

import networkx

from opsflow.flows import loader
from opsflow.flows.model import FlowDefinition, TaskSpec

__all__ = ["to_dot", "to_text"]


def _label(task: TaskSpec) -> str:
    what = task.action or f"flow {task.flow}"
    extras = []
    if task.for_each is not None:
        each = "a child run per item" if task.child_runs else "for each"
        extras.append(each + (f", {task.concurrency} at a time" if task.concurrency else ""))
    if task.retry is not None:
        extras.append(f"retry x{task.retry.attempts}")
    if task.timeout is not None:
        extras.append(f"timeout {task.timeout:g}s")
    if task.revert.irreversible:
        extras.append("irreversible")
    elif task.revert.action:
        extras.append(f"undo: {task.revert.action}")
    return "\\n".join([task.name, what] + ([", ".join(extras)] if extras else []))


def to_dot(definition: FlowDefinition) -> str:
    """A DOT digraph: one node per task, edges from dependencies, sub-flows drawn inside clusters."""
    lines = [f'digraph "{definition.name}" {{', "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    counter = [0]
    _emit(definition, "", lines, "  ", counter)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _emit(definition: FlowDefinition, prefix: str, lines: list[str], indent: str, counter: list[int]) -> None:
    graph = loader.dependency_graph(definition)
    for task in definition.tasks:
        node = f'"{prefix}{task.name}"'
        if task.flow is not None:
            counter[0] += 1
            lines.append(f"{indent}subgraph cluster_{counter[0]} {{")
            lines.append(f'{indent}  label="{_label(task)}"; style=rounded;')
            lines.append(f'{indent}  {node} [shape=point, label=""];')
            _emit(definition.subflows[task.flow], f"{prefix}{task.name}.", lines, indent + "  ", counter)
            lines.append(f"{indent}}}")
        else:
            lines.append(f'{indent}{node} [label="{_label(task)}"];')
    for upstream, downstream in graph.edges:
        lines.append(f'{indent}"{prefix}{upstream}" -> "{prefix}{downstream}";')


def to_text(definition: FlowDefinition, indent: str = "") -> str:
    """An outline in dependency order, each task with what it waits for."""
    graph = loader.dependency_graph(definition)
    order = list(networkx.lexicographical_topological_sort(graph, key=[t.name for t in definition.tasks].index))
    out = [] if indent else [f"{definition.name}: {definition.description}".rstrip(": ")]
    for name in order:
        task = definition.task(name)
        needs = sorted(graph.predecessors(name))
        suffix = f"  (after {', '.join(needs)})" if needs else ""
        out.append(f"{indent}- {_label(task).replace(chr(92) + 'n', ' | ')}{suffix}")
        if task.flow is not None:
            out.append(to_text(definition.subflows[task.flow], indent + "    "))
    return "\n".join(out)
