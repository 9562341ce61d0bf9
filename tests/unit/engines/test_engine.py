"""opsflow's engine: the same execution graph as TaskFlow's compiler, in one pass; deciders refused."""

import pytest
import taskflow.engines
from hypothesis import given, settings, strategies as st
from taskflow import exceptions as tf_exc, retry, task
from taskflow.engines.action_engine import compiler as tf_compiler
from taskflow.patterns import graph_flow, linear_flow, unordered_flow

from opsflow.engines import pattern_compiler


class Step(task.Task):  # type: ignore[misc]
    def execute(self) -> None:
        pass


def _shape(compilation) -> tuple[set, set]:
    graph = compilation.execution_graph
    nodes = {(str(node), data.get("kind"), data.get("noop", False), str(data.get("retry"))) for node, data in
             graph.nodes(data=True)}
    edges = {(str(u), str(v), tuple(sorted((k, str(val)) for k, val in data.items()))) for u, v, data in
             graph.edges(data=True)}
    return nodes, edges


@st.composite
def flows(draw, depth=0, counter=None):
    """Random nestings of linear, unordered and graph flows, some with retries and links."""
    counter = counter if counter is not None else [0]
    counter[0] += 1
    name = f"f{counter[0]}"
    kind = draw(st.sampled_from(["linear", "unordered", "graph"]))
    with_retry = draw(st.booleans())
    pattern = {"linear": linear_flow, "unordered": unordered_flow, "graph": graph_flow}[kind]
    flow = pattern.Flow(name, retry=retry.Times(2, name=f"{name}-retry") if with_retry else None)
    children = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if depth < 2 and draw(st.booleans()):
            children.append(draw(flows(depth + 1, counter)))
        else:
            counter[0] += 1
            children.append(Step(f"t{counter[0]}"))
    flow.add(*children)
    if kind == "graph" and len(children) > 1:
        for i in range(len(children) - 1):
            if draw(st.booleans()):
                flow.link(children[i], children[i + 1])
    return flow


@settings(max_examples=60, deadline=None)
@given(flows())
def test_one_pass_compiler_builds_taskflows_graph(flow) -> None:
    """Nodes, kinds, retries and edge attributes equal TaskFlow's own compilation."""
    ours = pattern_compiler.PatternCompiler(flow).compile()
    theirs = tf_compiler.PatternCompiler(flow).compile()
    assert _shape(ours) == _shape(theirs)


def test_chain_runs_in_order_on_the_opsflow_engine() -> None:
    """A linear chain runs each task once, in order."""
    seen: list[str] = []

    class Record(task.Task):  # type: ignore[misc]
        def execute(self) -> None:
            seen.append(self.name)

    flow = linear_flow.Flow("chain").add(*(Record(f"t{i}") for i in range(50)))
    taskflow.engines.run(flow, engine="opsflow-parallel", max_workers=4)
    assert seen == [f"t{i}" for i in range(50)]


def test_link_deciders_are_refused() -> None:
    """Deciders need TaskFlow's full graph walk, so this engine refuses them at compile time."""
    a, b = Step("a"), Step("b")
    flow = graph_flow.Flow("g").add(a, b)
    flow.link(a, b, decider=lambda history: True)
    with pytest.raises(tf_exc.CompilationFailure, match="deciders"):
        taskflow.engines.run(flow, engine="opsflow-parallel")


def test_shadowed_symbols_keep_taskflows_scoping() -> None:
    """When two atoms provide the same name, each consumer still sees the provider in its own scope."""

    class Provide(task.Task):  # type: ignore[misc]
        def execute(self) -> str:
            return self.name

    class Consume(task.Task):  # type: ignore[misc]
        def execute(self, x: str) -> str:
            return x

    def build() -> linear_flow.Flow:
        return linear_flow.Flow("top").add(
            linear_flow.Flow("left").add(Provide("p1", provides="x"), Consume("c1", provides="r1")),
            linear_flow.Flow("right").add(Provide("p2", provides="x"), Consume("c2", provides="r2")),
        )

    ours = taskflow.engines.load(build(), engine="opsflow-parallel")
    ours.run()
    theirs = taskflow.engines.load(build(), engine="parallel")
    theirs.run()
    assert (ours.storage.fetch("r1"), ours.storage.fetch("r2")) == ("p1", "p2")
    assert (theirs.storage.fetch("r1"), theirs.storage.fetch("r2")) == ("p1", "p2")


def test_a_store_that_does_not_answer_before_a_task_acts_stops_the_run_without_reverting_it() -> None:
    """When the worker cannot confirm the task's start is stored (the store timed out), the task
    does not act and is not failed: the engine stops as on a failed save, and nothing is reverted
    (a revert would undo a whole run for an outage). Any other refusal fails the task as before."""
    import contextlib

    acted: list[str] = []
    reverted: list[str] = []

    class Record(task.Task):  # type: ignore[misc]
        def execute(self) -> None:
            acted.append(self.name)

        def revert(self, **kwargs: object) -> None:
            reverted.append(self.name)

    def run(refusal: Exception) -> None:
        @contextlib.contextmanager
        def around(name: str):  # type: ignore[no-untyped-def]
            if name == "t1":
                raise refusal
            yield

        engine = taskflow.engines.load(linear_flow.Flow("chain").add(*(Record(f"t{i}") for i in range(3))),
                                       engine="opsflow-parallel", max_workers=2)
        engine.around_execute = around
        engine.run()

    with pytest.raises(tf_exc.StorageFailure):
        run(tf_exc.StorageFailure("ZooKeeper did not answer in time"))
    assert acted == ["t0"] and reverted == []

    acted.clear()
    with pytest.raises(RuntimeError):
        run(RuntimeError("the lease moved on"))
    assert acted == ["t0"] and reverted == ["t1", "t0"]
