"""A job's graph: one box per top-level task, coloured by its atoms' combined state."""

from __future__ import annotations

from opsflow.api import graph
from opsflow.engines.records import TaskRecord
from opsflow.flows import loader

TEXT = """
name: g
tasks:
  - name: plan
    action: core.noop
  - name: move
    for_each: [1, 2, 3]
    action: core.noop
    after: [plan]
  - name: report
    action: core.noop
    after: [move]
"""


def _task(path: str, state: str) -> TaskRecord:
    return TaskRecord(path, state, None, None, None, None)


def test_a_fan_out_is_one_node_with_its_progress() -> None:
    """Three items, one done and one running: the node is running, 1/3."""
    definition = loader.load_text(TEXT)
    tasks = [_task("plan", "SUCCESS"), _task("move[0]", "SUCCESS"), _task("move[1]", "RUNNING"),
             _task("move[2]", "PENDING"), _task("report", "PENDING"), _task("move#retry", "SUCCESS")]
    nodes = {n.name: n for n in graph.nodes(definition, tasks)}
    assert (nodes["plan"].state, nodes["move"].state, nodes["report"].state) == ("succeeded", "running", "pending")
    assert (nodes["move"].done, nodes["move"].total) == (1, 3)


def test_the_svg_classes_each_task_by_state_and_draws_every_edge() -> None:
    """Each box carries ``state-<state>``; plan -> move -> report are two lines."""
    definition = loader.load_text(TEXT)
    svg = graph.to_svg(definition, [_task("plan", "FAILURE")])
    assert 'data-task="plan" data-state="failed"' in svg
    assert svg.count("<line ") == 2
    assert graph.to_json(definition)["edges"] == [["plan", "move"], ["move", "report"]]
