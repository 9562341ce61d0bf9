"""TaskFlow's pattern compiler, with flows merged into the execution graph in one pass.

TaskFlow 6.5 composes a flow's graph with each child's graph one child at a time, copying the
growing graph every time: O(n^2) in the number of children (a 1000-task flow spends seconds here
before its first task runs). This compiler builds the same graph — same nodes, kinds, edges and
attributes, checked by opsflow's tests against TaskFlow's own result — by copying each child's
graph once. Everything else is TaskFlow's.
"""

from __future__ import annotations

from typing import Any

from taskflow import flow as tf_flow
from taskflow.engines.action_engine import compiler as tf_compiler
from taskflow.types import graph as tf_graph, tree as tf_tree

__all__ = ["PatternCompiler"]


class _OnePassFlowCompiler(tf_compiler.FlowCompiler):  # type: ignore[misc]
    def compile(self, flow: Any, parent: Any = None) -> tuple[Any, Any]:
        graph = tf_graph.DiGraph(name=flow.name)
        graph.add_node(flow, kind=tf_compiler.FLOW, noop=True)
        tree_node = tf_tree.Node(flow, kind=tf_compiler.FLOW, noop=True)
        if parent is not None:
            parent.add(tree_node)
        if flow.retry is not None:
            tree_node.add(tf_tree.Node(flow.retry, kind=tf_compiler.RETRY))
        decomposed = {child: self._deep_compiler_func(child, parent=tree_node)[0] for child in flow}
        for child_graph in decomposed.values():
            overlap = [node for node in child_graph.nodes if node in graph]
            if overlap:
                raise ValueError(f"cannot merge graph {child_graph} into {graph}: {len(overlap)} nodes overlap")
            graph.add_nodes_from(child_graph.nodes(data=True))
            graph.add_edges_from(child_graph.edges(data=True))
        for u, v, attr_dict in flow.iter_links():
            tf_compiler._add_update_edges(
                graph,
                decomposed[u].no_successors_iter(),
                list(decomposed[v].no_predecessors_iter()),
                attr_dict=attr_dict,
            )
        if flow.retry is not None:
            graph.add_node(flow.retry, kind=tf_compiler.RETRY)
            tf_compiler._add_update_edges(
                graph, [flow], [flow.retry], attr_dict={tf_flow.LINK_INVARIANT: True}
            )
            for node in graph.nodes:
                if node is not flow.retry and node is not flow:
                    graph.nodes[node].setdefault(tf_compiler.RETRY, flow.retry)
            from_nodes = [flow.retry]
            attr_dict = {tf_flow.LINK_INVARIANT: True, tf_flow.LINK_RETRY: True}
        else:
            from_nodes = [flow]
            attr_dict = {tf_flow.LINK_INVARIANT: True}
        tf_compiler._add_update_edges(
            graph, from_nodes, [node for node in graph.no_predecessors_iter() if node is not flow], attr_dict=attr_dict
        )
        terminator = tf_compiler.Terminator(flow)
        graph.add_node(terminator, kind=tf_compiler.FLOW_END, noop=True)
        tf_compiler._add_update_edges(
            graph,
            [node for node in graph.no_successors_iter() if node is not terminator],
            [terminator],
            attr_dict={tf_flow.LINK_INVARIANT: True},
        )
        return graph, tree_node


class PatternCompiler(tf_compiler.PatternCompiler):  # type: ignore[misc]
    """TaskFlow's PatternCompiler using the one-pass flow compiler."""

    def __init__(self, root: Any, freeze: bool = True) -> None:
        super().__init__(root, freeze=freeze)
        self._matchers = [
            (tf_flow.Flow, _OnePassFlowCompiler(self._compile)),
            *[(kind, compiler) for kind, compiler in self._matchers if kind is not tf_flow.Flow],  # type: ignore[has-type]
        ]
