"""Child runs on the embedded engine: one run per item of a task's result, gathered in item order."""

from pathlib import Path

import pytest

from opsflow.engines.atoms import FailurePoint
from opsflow.engines.children import Batch
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.errors import DefinitionError, InvalidInput
from opsflow.flows import loader
from opsflow.flows.model import OnItemFailure
from tests import child_flows
from tests.fixtures import most_at_once

REPORT = '  - {name: report, action: core.echo, args: {message: "${tasks.each}"}}\n'
LEAF = """
name: leaf
inputs: {n: {type: integer}}
tasks:
  - {name: work, action: core.sleep, args: {seconds: 0.05}}
  - {name: mark, action: core.echo, args: {message: "item-${inputs.n}"}, after: [work]}
outputs: {mark: "${tasks.mark}"}
"""

def batch(tmp_path: Path, on_item_failure: str = "continue"):
    return child_flows.write(tmp_path, LEAF, child_flows.batch(on_item_failure=on_item_failure, then=REPORT))


def children_of(runner, record):
    return [runner.record(entry["run_id"]) for entry in {t.path: t.result for t in record.tasks}["each"]]


def test_batch_gathers_every_childs_outputs_in_item_order_each_child_run_once(journal, tmp_path) -> None:
    """Five items, two at a time: the result lists item, run id, state, outputs and error per item, in order."""
    with Runner(f"sqlite:///{tmp_path}/state.db", max_workers=4) as runner:  # the real clock times the tasks
        record = runner.run(batch(tmp_path), {"items": [5, 4, 3, 2, 1]})
        children = children_of(runner, record)
    assert record.state is RunState.SUCCEEDED
    result = {t.path: t.result for t in record.tasks}["each"]
    assert [entry["item"] for entry in result] == [5, 4, 3, 2, 1]
    assert [entry["outputs"] for entry in result] == [{"mark": f"item-{n}"} for n in (5, 4, 3, 2, 1)]
    assert {entry["state"] for entry in result} == {"succeeded"} and {e["error"] for e in result} == {None}
    assert journal.executed.count("mark") == 5 and journal.reverted == []
    assert all(child.parent is not None and child.parent.run_id == record.run_id for child in children)
    spans = [(t.started, t.finished) for child in children for t in child.tasks if t.path == "work"]
    assert most_at_once(spans) <= 2  # two lanes: never three children at once


def test_child_ids_are_fixed_by_parent_task_and_index() -> None:
    """The same parent, task and index always give the same child id; any other gives another."""
    first = Batch("run-1", "each", 3, 2, OnItemFailure.CONTINUE)
    again = Batch("run-1", "each", 3, 2, OnItemFailure.CONTINUE)
    assert [first.child_id(i) for i in range(3)] == [again.child_id(i) for i in range(3)]
    assert len({first.child_id(0), first.child_id(1), Batch("run-2", "each", 3, 2, first.on_item_failure).child_id(0),
                Batch("run-1", "other", 3, 2, first.on_item_failure).child_id(0)}) == 4


def test_failed_child_reverts_alone_and_the_batch_goes_on(runner, journal, tmp_path) -> None:
    """on_item_failure continue: item 1 fails and undoes itself; the others succeed; the parent succeeds."""
    record = runner.run(batch(tmp_path), {"items": [0, 1, 2, 3]}, failure_points=(FailurePoint("each[1].mark"),))
    assert record.state is RunState.SUCCEEDED
    result = {t.path: t.result for t in record.tasks}["each"]
    assert [entry["state"] for entry in result] == ["succeeded", "reverted", "succeeded", "succeeded"]
    assert "injected" in result[1]["error"] and result[1]["outputs"] == {}
    assert sorted(journal.reverted) == ["mark", "work"]  # the failed child's own two tasks, nothing else


def test_revert_all_reverts_the_succeeded_children_and_fails_the_parent(runner, journal, tmp_path) -> None:
    """on_item_failure revert_all: a failed child stops the batch, the others are undone, the parent reverts."""
    record = runner.run(batch(tmp_path, "revert_all"), {"items": [0, 1, 2, 3, 4, 5]},
                        failure_points=(FailurePoint("each[1].mark"),))
    assert record.state is RunState.REVERTED
    children = [runner.record(Batch(record.run_id, "each", 6, 2, OnItemFailure.REVERT_ALL).child_id(i))
                for i in range(6)]
    assert {child.state for child in children} == {RunState.REVERTED}
    assert journal.executed.count("mark") < 6  # items after the failure were never started
    assert journal.executed.count("mark") == journal.reverted.count("mark")
    assert journal.reverted[-1] == "plan"


def test_a_failure_after_the_batch_reverts_every_child_that_succeeded(runner, journal, tmp_path) -> None:
    """The parent's revert (a later task failed) undoes each succeeded child, then the tasks before the batch."""
    record = runner.run(batch(tmp_path), {"items": [0, 1, 2]}, failure_points=(FailurePoint("report"),))
    assert record.state is RunState.REVERTED
    assert {child.state for child in children_of_stored(runner, record.run_id, 3)} == {RunState.REVERTED}
    assert journal.reverted.count("mark") == 3 and journal.reverted.count("work") == 3
    assert journal.reverted[0] == "report" and journal.reverted[-1] == "plan"


def test_reverting_a_parent_waiting_on_paused_child_reverts_every_child(runner, journal, tmp_path) -> None:
    """A child that pauses leaves the parent waiting; `opsflow revert PARENT` undoes the whole batch."""
    definition = child_flows.write(tmp_path, LEAF.replace("name: leaf\n", "name: leaf\non_failure: pause\n"),
                                   child_flows.batch(then=REPORT))
    record = runner.run(definition, {"items": [0, 1, 2]}, failure_points=(FailurePoint("each[2].mark"),))
    assert record.state is RunState.WAITING
    children = children_of_stored(runner, record.run_id, 3)
    assert [child.state for child in children] == [RunState.SUCCEEDED, RunState.SUCCEEDED, RunState.PAUSED]
    assert runner.revert(record.run_id).state is RunState.REVERTED
    assert {child.state for child in children_of_stored(runner, record.run_id, 3)} == {RunState.REVERTED}


def children_of_stored(runner, run_id: str, count: int):
    return [runner.record(Batch(run_id, "each", count, 2, OnItemFailure.CONTINUE).child_id(i)) for i in range(count)]


@pytest.mark.parametrize(("task", "message"), [
    ("{name: each, for_each: '${tasks.plan}', action: core.noop}", "give flow:"),
    ("{name: each, for_each: '${tasks.plan}', flow: leaf, args: {n: 1}, retry: {attempts: 2}}", "no retry"),
    ("{name: each, for_each: [1], flow: leaf, args: {n: 1}, on_item_failure: continue}", "only to child runs"),
])
def test_child_run_mistakes_are_refused_at_load_time(tmp_path, task: str, message: str) -> None:
    """An action over a task's result, a retry on a batch, on_item_failure without child runs: refused."""
    (tmp_path / "leaf.yaml").write_text(LEAF)
    (tmp_path / "bad.yaml").write_text(
        f"name: bad\ntasks:\n  - {{name: plan, action: core.echo, args: {{message: [1]}}}}\n  - {task}\n")
    with pytest.raises(DefinitionError, match=message) as raised:
        loader.load_file(str(tmp_path / "bad.yaml"))
    assert raised.value.line == 4


def test_a_failure_point_naming_no_task_of_the_children_is_refused(runner, tmp_path) -> None:
    """--inject-failure into a batch must name one of the child flow's tasks; a misspelling is refused."""
    with pytest.raises(InvalidInput, match="'each\\[1\\].nope' matches no task"):
        runner.run(batch(tmp_path), {"items": [0, 1]}, failure_points=(FailurePoint("each[1].nope"),))
