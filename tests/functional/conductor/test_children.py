"""Child runs over real conductors: 200 children as jobs shared by three conductors, one killed mid-expansion."""

import collections
import json
import re
import threading
from pathlib import Path

import pytest

from opsflow import jobs
from opsflow.conductor import Conductor
from opsflow.engines.jobboard import Address, JobBoard
from opsflow.engines.records import RunState, TaskState
from opsflow.engines.runner import Runner
from tests import child_flows
from tests.fixtures import eventually, opsflow
from tests.functional.conductor.harness import Cluster

pytestmark = [pytest.mark.functional, pytest.mark.slow]

COUNT = 200
LEAF = """
name: leaf
inputs: {n: {type: integer}}
tasks:
  - {name: mark, action: core.echo, args: {message: "child-${inputs.n}"}}
outputs: {n: "${inputs.n}"}
"""
PARENT = child_flows.batch(concurrency=12, then="  - {name: hold, action: core.wait, args: {signal: go}, after: [each]}\n")
#: What core.echo logs when it runs and when it is reverted, in a conductor's log.
ECHOED = re.compile(r"opsflow\.tasks\.core: mark: (child-\d+)")
REVERTED = re.compile(r"opsflow\.tasks\.core: mark: reverted (child-\d+)")


def _count(cluster: Cluster, pattern: re.Pattern[str]) -> collections.Counter[str]:
    return collections.Counter(m.group(1) for c in cluster.conductors for m in pattern.finditer(c.log.read_text()))


def test_batch_of_200_children_over_three_conductors_survives_a_kill_during_expansion(
        cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Kill -9 the parent's conductor while it stores children: no child runs twice, all gathered, all reverted."""
    definition = child_flows.write(tmp_path, LEAF, PARENT)
    for name in ("alpha", "beta", "gamma"):
        cluster.start(name, "--jobs", "4")
    parent = jobs.submit(cluster.board, cluster.runner, definition, {"items": list(range(COUNT))})
    books = f"{cluster.address.root}/state/books"
    client = cluster.board.client

    holder = eventually(lambda: (job := cluster.view(parent)) and job.owner, what="the parent claimed")
    stored = eventually(lambda: (n := len(client.get_children(books))) > 20 and n, what="children being stored")
    victim = next(c for c in cluster.conductors if c.name == holder)
    victim.kill()
    assert stored < COUNT + 1, "the expansion ended before the kill"
    cluster.start("delta", "--jobs", "4", wait=False)  # three conductors share the batch again

    def gathered() -> bool:
        record = cluster.runner.record(parent)
        return any(t.path == "each" and t.state is TaskState.SUCCESS for t in record.tasks)

    eventually(gathered, 240, "the parent gathered its children")
    result = {t.path: t.result for t in cluster.runner.record(parent).tasks}["each"]
    assert [entry["outputs"] for entry in result] == [{"n": n} for n in range(COUNT)]
    assert {entry["state"] for entry in result} == {"succeeded"}
    assert _count(cluster, ECHOED) == collections.Counter({f"child-{n}": 1 for n in range(COUNT)})
    assert len({entry["run_id"] for entry in result}) == COUNT
    assert len(client.get_children(books)) == COUNT + 1  # no child stored twice either
    assert sum(bool(c.executions()) for c in cluster.conductors if c is not victim) >= 2  # the batch was shared

    code, out, _ = opsflow(capsys, "jobs", "show", parent, "-f", "json", "--zookeeper", cluster.address_text)
    assert code == 0
    shown = json.loads(out)
    assert len(shown["children"]) == COUNT and {c["state"] for c in shown["children"]} == {"succeeded"}

    assert opsflow(capsys, "revert", parent, "--zookeeper", cluster.address_text)[0] == 0
    eventually(lambda: cluster.view(parent) is None, 240, "the parent reverted and left the board")
    assert cluster.runner.record(parent).state is RunState.REVERTED
    assert {child.state for child in cluster.runner.children_of(parent)} == {RunState.REVERTED}
    assert _count(cluster, REVERTED) == collections.Counter({f"child-{n}": 1 for n in range(COUNT)})


FLAKY_LEAF = """
name: leaf
inputs: {n: {type: integer}}
tasks:
  - {name: mark, action: core.echo, args: {message: "child-${inputs.n}"}}
  - {name: check, action: core.fail, args: {times: "${inputs.n}"}, retry: {attempts: 2}, after: [mark]}
"""
STOPPING = child_flows.batch(on_item_failure="revert_all")


def test_revert_all_on_the_board_stops_the_batch_and_reverts_the_children_that_succeeded(
        tmp_path: Path, zookeeper_hosts: str, zk_chroot: str) -> None:
    """Item 2 fails for good: no child starts after it is seen, every started child ends reverted, the parent too."""
    definition = child_flows.write(tmp_path, FLAKY_LEAF, STOPPING)
    address = Address.parse(f"{zookeeper_hosts}{zk_chroot}", timeout=2.0)
    daemon = Conductor(address, name="inline", max_jobs=4, workers=4)
    thread = threading.Thread(target=daemon.run, name="conductor")
    thread.start()
    try:
        with JobBoard(address) as board, Runner(address.state_url) as runner:
            parent = jobs.submit(board, runner, definition, {"items": [1, 1, 0, 1, 1, 1, 1, 1]})
            eventually(lambda: runner.record(parent).state is RunState.REVERTED, 120, "the parent reverted")
            children = runner.children_of(parent)
            assert len(children) == 8
            assert {child.state for child in children} == {RunState.REVERTED}
            # A child that never ran was reverted without acting: its second task never left PENDING.
            ran = {child.parent.index for child in children if child.parent and "PENDING" not in
                   {t.state for t in child.steps}}
            assert {0, 1, 2} <= ran and 4 not in ran and len(ran) < 8  # nothing after the failed item's lane
            eventually(lambda: not board.entries(), 30, "every job left the board")
    finally:
        daemon.stop()
        thread.join(60)
